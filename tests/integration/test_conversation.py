"""Multi-turn conversations on the public scenarios, offline (ECS_AGENT_MODEL=offline), AWS played by fakeaws."""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import uuid

import pytest
from langgraph.types import Command

from agents.aws_ecs_service import ECSDeepAgentConfig, create_ecs_deep_agent
from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
from tests.conftest import load_scenario


class Conversation:
    """One thread of the public API: agent.ainvoke with a thread_id, as library users call it."""

    def __init__(self, allow_write: bool = False, **settings):
        self.approvals, self.audit = LocalApprovalStore(), LocalAuditLog()
        self.agent = asyncio.run(create_ecs_deep_agent(
            config=ECSDeepAgentConfig(model_name="offline", allow_write=allow_write, **settings),
            approvals=self.approvals, audit=self.audit, verify_timeout_s=2, verify_poll_s=0.2))
        self.config = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex[:8]}"}}

    def say(self, text: str) -> dict:
        return asyncio.run(self.agent.ainvoke({"messages": [{"role": "user", "content": text}]}, config=self.config))

    def resume(self, value: dict) -> dict:
        return asyncio.run(self.agent.ainvoke(Command(resume=value), config=self.config))


def _reply(state: dict) -> str:
    return state["messages"][-1].content


def _writes(fake) -> list[dict]:
    return [c for c in fake.calls if c["write"]]


def two_environments() -> dict:
    """cpu-saturated, plus a staging cluster that also runs an `api` service."""
    sc = load_scenario("cpu-saturated")
    sc["ecs"]["clusters"].append({"clusterName": "staging"})
    staging_api = copy.deepcopy(next(s for s in sc["ecs"]["services"] if s["serviceName"] == "api"))
    staging_api["cluster"] = "staging"
    staging_api.pop("serviceArn", None)
    sc["ecs"]["services"].append(staging_api)
    return sc


def test_extraction_and_triage_in_the_users_terms(play_scenario):
    play_scenario("cpu-saturated")
    chat = Conversation()
    state = chat.say("My API service is slow, we have a demo at 2 PM, keep it low risk")
    ctx, prefs = state["context"], state["preferences"]
    assert (ctx["cluster"], ctx["service"], ctx["intent"]) == ("prod", "api", "diagnose")
    assert "cpu-saturation" in ctx["likely_categories"] and "dependency-unreachable" in ctx["likely_categories"]
    assert prefs["risk"] == "low" and prefs["deadline_text"] == "demo at 2 PM"
    assert state["findings"]["root_cause"]["category"] == "cpu-saturation"
    text = _reply(state)
    assert "cpu-saturation" in text and "Options (with your deadline: demo at 2 PM)" in text
    assert "Scale api out to 4 tasks" in text
    assert "logs" not in state["evidence"]  # the conversation keeps no raw logs


def test_clarifying_question_when_ambiguous_then_the_answer_resolves_it(play_scenario):
    fake = play_scenario(two_environments())
    chat = Conversation()
    state = chat.say("My API service is having issues")
    assert _reply(state) == "Which one do you mean: prod/api or staging/api?"
    assert not state.get("findings")
    assert {c["op"] for c in fake.calls if c["service"] == "ecs"} <= {"ListClusters", "DescribeClusters",
                                                                      "ListServices", "DescribeServices"}
    state = chat.say("production")
    assert state["findings"]["target"]["service_arn"] == "arn:aws:ecs:us-east-1:123456789012:service/prod/api"
    assert state["turn"].get("pending_question") is None


def test_environment_words_pick_the_cluster_without_asking(play_scenario):
    play_scenario(two_environments())
    state = Conversation().say("my API in production keeps timing out")
    assert state["findings"]["target"]["cluster"] == "prod"
    assert "slow" in state["context"]["symptoms"]


def test_follow_up_refines_the_same_threads_context(play_scenario):
    play_scenario("oom-after-deploy")
    chat = Conversation()
    first = chat.say("500s on prod/api")
    assert first["findings"]["root_cause"]["category"] == "container-oom"
    first_start = dt.datetime.fromisoformat(first["findings"]["window"]["start"])

    state = chat.say("it started after yesterday's 3 PM deploy")
    ctx = state["context"]
    assert (ctx["cluster"], ctx["service"]) == ("prod", "api")  # kept from the first turn
    assert "deployment-failing" in ctx["likely_categories"] and ctx["since_s"] > 2 * 3600
    assert dt.datetime.fromisoformat(state["findings"]["window"]["start"]) < first_start
    assert len(state["summary"]) == 4  # two turns, user and agent lines

    before = len(state["summary"])
    state = chat.say("explain it for my manager")
    assert state["preferences"]["tone"] == "business"
    assert "is not working properly" in _reply(state) and len(state["summary"]) == before + 2


def test_approval_interrupt_then_approve_applies_through_the_guard(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    chat.say("prod/api is crashing")
    state = chat.say("fix it")
    [pending] = state["__interrupt__"]
    assert pending.value["type"] == "approval" and pending.value["steps"] == [
        "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)"]
    assert _writes(fake) == []  # nothing is written before the decision

    state = chat.resume({"decision": "approve", "by": "alice"})
    [write] = _writes(fake)
    assert write["op"] == "UpdateService" and write["params"]["taskDefinition"].endswith("api:61")
    assert state["approvals"][-1]["decision"] == "approved" and state["approvals"][-1]["decided_by"] == "alice"
    assert chat.approvals.get(pending.value["incident_id"], pending.value["plan_hash"]).decision == "approved"
    [entry] = chat.audit.list()
    assert entry.allowed and entry.result == "ok"
    assert state["verification"] is not None and "step 1: ecs:UpdateService ok" in _reply(state)


def test_rejection_changes_nothing(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    state = chat.say("please roll back cluster prod service api")
    assert state["__interrupt__"]
    state = chat.resume({"decision": "reject", "by": "bob"})
    assert _writes(fake) == [] and chat.audit.list() == []
    assert state["turn"]["outcome"] == "rejected" and "Rejected: nothing was changed" in _reply(state)


def test_approved_but_writes_disabled_is_refused_by_the_guard(play_scenario):
    fake = play_scenario("scaled-to-zero")
    chat = Conversation(allow_write=False)
    state = chat.say("fix prod/api")
    assert state["__interrupt__"]
    state = chat.resume({"decision": "approve", "by": "alice"})
    assert _writes(fake) == []
    [entry] = chat.audit.list()
    assert not entry.allowed and "allowWrite is off" in entry.reason
    assert state["turn"]["outcome"] == "no-action" and "allowWrite is off" in _reply(state)


def test_read_only_question_answered_from_the_logs(play_scenario):
    fake = play_scenario("app-crash-import-error")
    state = Conversation().say("show me the last errors of orders")
    text = _reply(state)
    assert text.startswith("The newest error lines of prod/orders") and "ImportError: cannot import name" in text
    assert "task(s) stopped: Essential container in task exited" in text
    assert _writes(fake) == []


@pytest.mark.parametrize("name", ["healthy-steady", "secret-access-denied", "spot-reclaimed"])
def test_healthy_and_manual_only_scenarios_offer_no_write_path(play_scenario, name):
    sc = load_scenario(name)
    play_scenario(sc)
    target = sc["target"]
    state = Conversation(allow_write=True).say(f"check {target['cluster']}/{target['service']}")
    assert state["findings"]["root_cause"]["category"] == sc["expected"]["root_cause"]
    assert "__interrupt__" not in state
