"""Schemathesis against the committed OpenAPI document, over HTTP: requests generated from the schemas go
through API Gateway proxy events into the chat function (a worker process, real PostgreSQL, ECS played by
fakeaws, the model offline). No generated request may get a server error, and every answer must match the
document (status code and body schema)."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.local_chat_api import OPENAPI, LocalApi

pytestmark = pytest.mark.postgres
SCHEMA = schemathesis.openapi.from_path(OPENAPI)
EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def fuzz(operation, base_url: str, session: requests.Session, thread_id: str) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), on_known_thread=st.booleans())
    def run(case, on_known_thread):
        if on_known_thread and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = thread_id  # half the cases reach a thread that exists, not just 404
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS)

    run()


@pytest.mark.attack("API fuzzing (schemathesis)")
def test_generated_requests_get_no_server_error_and_documented_answers(play_scenario, chat_db):
    play_scenario("oom-after-deploy")
    with LocalApi() as api, requests.Session() as session:
        opened = session.post(f"{api.url}/threads", json={"message": "prod/api keeps crashing"}, timeout=60)
        assert opened.status_code == 201, opened.text
        operations = [result.ok() for result in SCHEMA.get_all_operations()]
        assert len(operations) == 5
        for operation in operations:
            fuzz(operation, api.url, session, opened.json()["thread_id"])
        assert len(api.handler_seconds) > 5 * EXAMPLES_PER_OPERATION // 2  # the requests reached the function
