"""Explicit change requests are read as what they are; symptoms, questions and "fix it" are not requests."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.conversation.change_requests import in_context, kept, parse


@pytest.mark.parametrize("text, kind, fields", [
    ("scale prod/api to 10", "scale", {"count": 10}),
    ("I said scale it to 10. do it", "scale", {"count": 10}),
    ("set the desired count to 5", "scale", {"count": 5}),
    ("scale it down", "scale", {"delta": -1}),
    ("add 2 more tasks", "scale", {"delta": 2}),
    ("stop the service", "scale", {"count": 0}),
    ("delete the service", "delete", {"what": "service"}),
    ("tear down the prod cluster", "delete", {"what": "cluster"}),
    ("set MAX_HEAP=2g", "task-definition", {"setting": "MAX_HEAP=2g"}),
    ("bump memory to 2 GB", "task-definition", {"setting": "memory to 2 GB"}),
    ("restart it", "restart", {}),
    ("please restart one task", "stop-task", {"task": None}),
    ("roll back to 46", "revision", {"revision": 46}),
    ("can you deploy api:63 please", "revision", {"revision": 63}),
    ("roll back prod/api", "revision", {"revision": None}),
])
def test_a_request_is_read_with_its_kind_and_values(text, kind, fields):
    request = parse(text)
    assert request is not None and request.kind == kind
    assert {k: getattr(request, k) for k in fields} == fields


@pytest.mark.parametrize("text", [
    "fix it", "prod/api keeps restarting", "my api is down since the deploy", "what changed?", "check prod/api",
    "why did it scale to 10?", "show me the last errors of orders", "we have a demo at 2 PM, keep it low risk",
])
def test_symptoms_questions_and_fix_it_are_not_requests(text):
    assert parse(text) is None


def test_do_it_repeats_the_request_asked_before_and_nothing_else():
    before = in_context("scale prod/api to 10", {})
    assert before["intent"] == "change"
    assert in_context("do it", before) == before
    assert in_context("do it", {"intent": "fix"}) == {}


def test_another_ask_or_another_service_drops_the_request_a_question_keeps_it():
    asked = {"cluster": "prod", "service": "api", "intent": "change", "request": {"kind": "delete", "said": "x"}}
    assert "request" in kept({**asked, "intent": "question"}, asked)
    assert "request" not in kept({**asked, "intent": "fix"}, asked)
    assert "request" not in kept({**asked, "intent": "question", "service": "web"}, asked)
