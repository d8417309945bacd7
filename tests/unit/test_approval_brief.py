"""Every approval prompt states the same facts, built by one function (reports/approval_brief.py): the chat
interrupt (what Studio and the terminal show), the approval email and the approval page."""
from __future__ import annotations

import datetime as dt
from html import unescape

import pytest

from agents.aws_ecs_service.conversation.approval_prompt import decision_of, payload, reply_to
from agents.aws_ecs_service.domain.incident import Incident
from agents.aws_ecs_service.domain.plan import Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.approval_email import approval_email
from agents.aws_ecs_service.incidents.approval_page import plan_page

TARGET = ServiceTarget.from_names("210987654321", "eu-west-1", "prod", "api")
TRIAGE = {"root_cause": {"category": "container-oom", "confidence": 0.97,
                         "summary": "4 of 4 stopped tasks were killed for memory."}}


def _plan(reverts: list[str]) -> Plan:
    step = PlanStep(number=1, action="update_service_task_definition",
                    api_call="ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)",
                    params={"cluster": TARGET.cluster_arn, "service": TARGET.service_arn,
                            "taskDefinition": "arn:aws:ecs:eu-west-1:210987654321:task-definition/api:61"},
                    expected_before={}, description="roll back",
                    undo="ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:62)")
    return Plan(incident_id="inc-1", target=TARGET, root_cause="container-oom", title="Roll back api to api:61",
                summary="back to api:61", steps=[step], risk="low", reverts=reverts,
                manual_steps=["Raise the memory of api:62 in a new revision."])


def _prompts(plan: Plan) -> dict[str, str]:
    incident = Incident(incident_id="inc-1", target=TARGET, opened_at="2026-12-07T10:00:00+00:00", triage=TRIAGE)
    expires = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    return {"chat": payload(plan, TRIAGE)["text"],
            "email": approval_email(incident, plan, "https://x/approve", "https://x/reject", expires),
            "page": unescape(plan_page(incident, plan, "approve", "2026-12-07 12:00 UTC"))}


def test_chat_email_and_page_state_diagnosis_target_call_reverts_risk_undo_and_manual_steps():
    for where, text in _prompts(_plan(["memory 1024 -> 2048"])).items():
        for fact in ("container-oom (confidence 0.97): 4 of 4 stopped tasks were killed for memory.",
                     "210987654321", "eu-west-1", "prod/api",
                     "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)", "memory 1024 -> 2048",
                     "risk low", "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:62)",
                     "Raise the memory of api:62 in a new revision."):
            assert fact in text, (where, fact)


def test_a_change_that_removes_nothing_says_so_everywhere():
    for where, text in _prompts(_plan([])).items():
        assert "It reverts or removes nothing." in text, where


@pytest.mark.parametrize("answer, decision", [
    ("y", "approved"), ("Yes, go ahead", "approved"), ({"decision": "approve"}, "approved"), ("LGTM", "approved"),
    ("no", "rejected"), ("don't", "rejected"), ({"decision": "reject", "by": "bob"}, "rejected"), ("No thanks", "rejected"),
    ("why?", None), ("yes but what does it remove?", None), ("", None), ({"decision": "maybe"}, None),
])
def test_only_an_explicit_yes_or_no_decides(answer, decision):
    assert decision_of(answer)[0] == decision


@pytest.mark.parametrize("question, expected", [
    ("why?", "Diagnosis: container-oom (confidence 0.97)"),
    ("what does it remove?", "It reverts or removes:\n  - memory 1024 -> 2048"),
    ("how do I undo it?", "To undo:\n  - ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:62)"),
    ("which account?", "account 210987654321, region eu-west-1"),
    ("what must I do after?", "A person must still:\n  - Raise the memory"),
    ("how risky is it?", "Risk low"),
])
def test_a_question_is_answered_from_the_plan_and_the_prompt_asked_again(question, expected):
    answer = reply_to(question, _plan(["memory 1024 -> 2048"]), TRIAGE)
    assert expected in answer and answer.endswith("how do I undo it?).")
