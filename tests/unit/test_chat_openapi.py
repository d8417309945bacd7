"""The chat API's OpenAPI document: generated from the resolver, committed, kept current."""
from __future__ import annotations

import json

from functions import chat_api
from tests.local_chat_api import OPENAPI


def test_the_committed_openapi_document_is_the_generated_one():
    assert OPENAPI.read_text() == chat_api.openapi_document(), "out of date: run `make openapi` and commit it"


def test_the_document_states_sigv4_and_the_400_this_api_answers():
    doc = json.loads(OPENAPI.read_text())
    assert doc["security"] == [{"sigv4": []}]
    assert doc["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) == 5
    assert all("400" in op["responses"] and "422" not in op["responses"] for op in operations)


def test_a_chat_approval_the_workflow_applies_is_documented_as_202_with_the_incident_to_follow():
    doc = json.loads(OPENAPI.read_text())
    responses = doc["paths"]["/threads/{id}/approvals"]["post"]["responses"]
    assert {"200", "202", "409"} <= set(responses)
    assert responses["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DecisionReply"}
    reply = doc["components"]["schemas"]["DecisionReply"]["properties"]
    assert "handed-off" in reply["resumed"]["enum"] and {"incident_url", "execution_arn"} <= set(reply)
    assert "handoff" in doc["components"]["schemas"]["ThreadView"]["properties"]
