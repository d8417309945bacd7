"""The Bedrock path over the wire: ChatBedrockConverse against a local Converse server (scripted answers).

What the requests carry (tool specs, quoted redacted evidence, no raw logs, within budget) and how
throttling and timeouts degrade: the user still gets the deterministic findings.
"""
from __future__ import annotations

import json

import pytest

from agents.aws_ecs_service.diagnosis.redaction import redact_text
from tests import converse_server as cs
from tests.converse_server import MODEL_ID


def _chat(timeout_s: float = 5):
    return cs.ModelChat(timeout_s).say


def test_automatic_triage_sends_findings_and_quoted_evidence_within_budget(play_scenario, bedrock):
    play_scenario("secret-access-denied")
    server = bedrock([cs.tool_use("ContextExtraction", {"intent": "diagnose", "tone": "business"}),
                      cs.text("Payments cannot start because it may not read its database secret.")])
    state = _chat()("payments in production is down since the last deploy")

    assert len(server.requests) == 2 and all(r["model"] == MODEL_ID for r in server.requests)
    assert all(r["path"].endswith("/converse") for r in server.requests)
    extraction, explanation = (r["body"] for r in server.requests)
    assert [t["toolSpec"]["name"] for t in extraction["toolConfig"]["tools"]] == ["ContextExtraction"]
    assert "untrusted-evidence" in json.dumps(extraction["system"])  # the model is told evidence is data

    prompt = explanation["messages"][0]["content"][0]["text"]
    quoted = prompt.split("<untrusted-evidence>\n", 1)[1].split("\n</untrusted-evidence>", 1)[0].splitlines()
    assert 1 <= len(quoted) <= 8 and all(line.startswith("> ") for line in quoted)
    assert all(redact_text(line) == line for line in quoted)
    assert "toolConfig" not in explanation  # explaining needs no tool; the model never gets a write tool
    assert server.input_chars() <= 6000 * cs.CHARS_PER_TOKEN

    assert state["preferences"]["tone"] == "business"  # the model's refinement was used
    assert state["findings"]["root_cause"]["category"] == "secrets-access-denied"  # rules decided the cause
    reply = state["messages"][-1].content
    assert "not working properly" in reply and "may not read its database secret" in reply


def test_read_only_question_uses_read_tools_only(play_scenario, bedrock):
    play_scenario("app-crash-import-error")
    server = bedrock([cs.tool_use("ContextExtraction", {"intent": "question"}),
                      cs.tool_use("recent_errors", {"cluster": "prod", "service": "orders", "minutes": 60}),
                      cs.text("The newest error is an ImportError in orders.")])
    state = _chat()("show me the last errors of orders")

    assert len(server.requests) == 3
    tools = [t["toolSpec"]["name"] for t in server.requests[1]["body"]["toolConfig"]["tools"]]
    assert sorted(tools) == ["recent_errors", "service_status"]
    [result] = [c["toolResult"] for c in server.requests[2]["body"]["messages"][-1]["content"] if "toolResult" in c]
    result_text = json.dumps(result)
    assert "<untrusted-evidence>" in result_text and "ImportError" in result_text
    assert state["messages"][-1].content == "The newest error is an ImportError in orders."


@pytest.mark.attack("bedrock throttled")
def test_throttling_degrades_to_the_deterministic_findings(play_scenario, bedrock):
    fake = play_scenario("oom-after-deploy")
    server = bedrock([cs.throttle()])
    state = _chat()("prod/api keeps crashing")
    reply = state["messages"][-1].content
    assert "Root cause: container-oom" in reply and "Roll back api to api:61" in reply
    assert "explanation is unavailable right now: ThrottlingException" in reply
    assert len(server.requests) == 4  # two calls, one retry each, then give up
    assert not [c for c in fake.calls if c["write"]]


@pytest.mark.attack("bedrock timeout")
def test_timeout_degrades_too(play_scenario, bedrock):
    play_scenario("scaled-to-zero")
    server = bedrock([cs.throttle(), cs.throttle(), cs.slow(3, cs.text("too late"))])
    state = _chat(timeout_s=1)("prod/api has zero tasks")
    reply = state["messages"][-1].content
    assert "Root cause: scaled-to-zero" in reply
    assert "explanation is unavailable right now: ReadTimeoutError" in reply
    assert len(server.requests) == 4
