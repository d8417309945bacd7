"""The chat API through its Lambda handler, with the events API Gateway sends (REST proxy, IAM caller),
real PostgreSQL (threads, checkpoints, approvals), ECS played by fakeaws, the model offline or failing.
With a state machine configured (the deployed shape) the workflow runs behind it in moto's interpreter."""
from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
import requests
from botocore.exceptions import ClientError
from psycopg.rows import dict_row

import functions.chat_api as chat_api
from tests import converse_server as cs
from tests.e2e.serverless_world import (
    APPROVAL_BASE_URL,
    LambdaContextStub,
    history_states,
    s3_reports,
    scenario_world,
)
from tests.local_chat_api import CALLER, migrate_all, proxy_event

pytestmark = pytest.mark.postgres
MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
REPORTS = {"triage_report.md", "plan_repair_plan.md", "verify_post_check.md", "report_summary.md"}


def call(method: str, path: str, body: Any = None, remaining_ms: int = 60_000, **event: Any) -> tuple[int, dict[str, Any]]:
    """One request through API Gateway's proxy integration into the handler: (status, JSON body)."""
    response = chat_api.handler(proxy_event(method, path, body, **event), LambdaContextStub("chat-api",
                                                                                          remaining_ms=remaining_ms))
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return int(response["statusCode"]), json.loads(response["body"])


def open_thread(body: dict[str, Any] | None = None) -> str:
    status, opened = call("POST", "/threads", body or {})
    assert status == 201, opened
    return opened["thread_id"]


def say(thread_id: str, text: str) -> dict[str, Any]:
    status, reply = call("POST", f"/threads/{thread_id}/messages", {"message": text})
    assert status == 200, reply
    return reply


def test_a_conversation_triages_remembers_and_survives_a_new_container(play_scenario, chat_db, fresh_container):
    fake = play_scenario("oom-after-deploy")
    thread_id = open_thread()
    assert thread_id.startswith("th-")

    first = say(thread_id, "prod/api keeps crashing since the deploy")
    assert first["findings"]["root_cause"]["category"] == "container-oom"
    assert "Root cause: container-oom" in first["reply"] and "Roll back api to api:61" in first["reply"]
    assert first["incident_id"].startswith("chat-prod-api-") and first["pending_approval"] is None

    fresh_container()  # the next message may land in another Lambda container: memory is PostgreSQL
    second = say(thread_id, "fix it")  # no service named: the thread remembers which one
    pending = second["pending_approval"]
    assert pending["waiting"] == "thread" and pending["incident_id"] == first["incident_id"]
    assert pending["steps"] == ["ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)"]
    assert pending["plan_hash"] in second["reply"]
    assert [c for c in fake.calls if c["write"]] == []  # asking changes nothing

    status, view = call("GET", f"/threads/{thread_id}")
    assert status == 200
    assert (view["context"]["cluster"], view["context"]["service"]) == ("prod", "api")
    assert view["created_by"] == CALLER["userArn"]
    assert view["messages"][-1] == {"role": "user", "text": "fix it"}
    assert view["summary"][0].startswith("user: prod/api keeps crashing")
    assert view["pending_approval"] == pending and view["findings"] == second["findings"]


def test_a_first_message_is_answered_when_the_thread_opens(play_scenario, chat_db):
    play_scenario("scaled-to-zero")
    status, opened = call("POST", "/threads", {"message": "prod/api has zero tasks"})
    assert status == 201 and opened["created"] is True
    assert opened["first_reply"]["findings"]["root_cause"]["category"] == "scaled-to-zero"
    assert opened["first_reply"]["thread_id"] == opened["thread_id"]


def test_approving_in_a_chat_thread_resumes_its_graph_once(play_scenario, chat_db):
    fake = play_scenario("oom-after-deploy")
    thread_id = open_thread()
    say(thread_id, "prod/api keeps crashing")
    plan_hash = say(thread_id, "fix it")["pending_approval"]["plan_hash"]

    status, missing = call("POST", f"/threads/{thread_id}/approvals", {"decision": "approve", "plan_hash": "ab" * 16})
    assert status == 404 and "no approval of plan" in missing["message"]

    status, decided = call("POST", f"/threads/{thread_id}/approvals",
                           {"decision": "approve", "plan_hash": plan_hash, "comment": "go"})
    assert status == 200, decided
    assert decided["resumed"] == "thread" and decided["decision"] == "approved"
    assert decided["decided_by"] == f"{CALLER['userArn']} (chat)"
    assert "allowWrite is off" in decided["reply"]  # the policy guard, not the chat, has the last word
    assert [c for c in fake.calls if c["write"]] == []

    status, again = call("POST", f"/threads/{thread_id}/approvals", {"decision": "reject", "plan_hash": plan_hash})
    assert status == 409 and "already approved" in again["message"]
    status, view = call("GET", f"/threads/{thread_id}")
    assert view["pending_approval"] is None


def test_unknown_threads_incidents_and_routes_are_404(chat_db):
    for method, path, body in (("GET", "/threads/th-nope", None),
                               ("POST", "/threads/th-nope/messages", {"message": "hello"}),
                               ("POST", "/threads/th-nope/approvals", {"decision": "approve", "plan_hash": "ab" * 16}),
                               ("GET", "/incidents/inc-prod-api-20260101T12-0000", None),
                               ("POST", "/threads", {"incident_id": "inc-prod-api-20260101T12-0000"}),
                               ("GET", "/nothing/here", None)):
        status, body_out = call(method, path, body)
        assert status == 404, (method, path, body_out)
        assert body_out["message"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/threads/{t}/messages", {}, "message: Field required"),
    ("/threads/{t}/messages", {"message": "   "}, "message: Value error, must contain text"),
    ("/threads/{t}/messages", {"message": 42}, "message: Input should be a valid string"),
    ("/threads/{t}/messages", {"message": "x" * 4001}, "message: String should have at most 4000 characters"),
    ("/threads/{t}/messages", "{not json", "body"),
    ("/threads/{t}/approvals", {"decision": "maybe", "plan_hash": "ab" * 16}, "decision: Input should be"),
    ("/threads/{t}/approvals", {"decision": "approve"}, "plan_hash: Field required"),
    ("/threads", {"incident_id": "../../etc"}, "incident_id: String should match pattern"),
    ("/threads/" + "x" * 200 + "/messages", {"message": "hi"}, "id: String should match pattern"),
])
def test_invalid_requests_are_400_naming_the_field(chat_db, path, body, field):
    thread_id = open_thread()
    status, out = call("POST", path.format(t=thread_id), body)
    assert status == 400 and out["message"].startswith("invalid request: ")
    assert field in out["message"]


def test_model_failure_is_503_with_the_deterministic_findings(play_scenario, chat_db, monkeypatch):
    play_scenario("oom-after-deploy")
    monkeypatch.setenv("ECS_AGENT_MODEL", MODEL_ID)
    with cs.ConverseServer([cs.throttle()]) as bedrock:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.endpoint)
        thread_id = open_thread()
        status, body = call("POST", f"/threads/{thread_id}/messages", {"message": "prod/api keeps crashing"})
    assert bedrock.requests  # the model was asked, and failed
    assert status == 503 and "ThrottlingException" in body["message"]
    assert body["findings"]["root_cause"]["category"] == "container-oom"
    assert "Root cause: container-oom" in body["reply"] and body["thread_id"] == thread_id


@pytest.mark.slow  # waits out a 3 s turn budget against a model server that answers after 12 s
def test_a_slow_model_cannot_outlive_the_turn_the_findings_answer_in_time_and_the_turn_is_saved(
        play_scenario, chat_db, monkeypatch):
    play_scenario("oom-after-deploy")
    monkeypatch.setenv("ECS_AGENT_MODEL", MODEL_ID)
    model_answers_after_s = 12.0
    # The function has 8 s left: the turn gets 3 s (5 s kept to save it and answer), not API Gateway's 22 s.
    with cs.ConverseServer([cs.slow(model_answers_after_s, cs.text("too late"))]) as bedrock:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.endpoint)
        thread_id = open_thread()
        started = time.monotonic()
        status, body = call("POST", f"/threads/{thread_id}/messages", {"message": "prod/api keeps crashing"},
                            remaining_ms=8_000)
        answered_after_s = time.monotonic() - started
        assert len(bedrock.requests) == 1  # asked once; no second call was started with no time left
    # the turn ended while the model was still sleeping on its answer
    assert answered_after_s < model_answers_after_s
    assert status == 503 and "turn deadline" in body["message"]
    assert body["findings"]["root_cause"]["category"] == "container-oom"
    assert "Root cause: container-oom" in body["reply"]
    status, view = call("GET", f"/threads/{thread_id}")  # checkpointed: the next request sees the whole turn
    assert [m["role"] for m in view["messages"]] == ["user", "agent"]
    assert view["findings"]["root_cause"]["category"] == "container-oom"


def test_approving_an_incident_in_chat_resumes_its_workflow_like_the_email_link(play_scenario, pg_schema_url,
                                                                               monkeypatch):
    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as world:
        migrate_all(pg_schema_url)  # the world creates our tables only
        monkeypatch.setattr(chat_api, "_chat", None)
        started = world.intake(world.deployment_failed_event())
        incident_id = started["incident_id"]
        world.email_links(incident_id)  # RequestApproval ran: the workflow waits on its task token

        status, opened = call("POST", "/threads", {"incident_id": incident_id})
        assert status == 201 and opened["thread_id"] == incident_id and opened["created"]
        assert call("POST", "/threads", {"incident_id": incident_id})[1]["created"] is False  # one thread each
        status, view = call("GET", f"/threads/{incident_id}")
        assert (view["context"]["cluster"], view["context"]["service"]) == ("prod", "api")
        pending = view["pending_approval"]
        assert pending["waiting"] == "workflow" and pending["expires_at"]
        status, incident = call("GET", f"/incidents/{incident_id}")
        assert status == 200 and incident["status"] == "awaiting-approval"
        assert incident["pending_approval"] == pending and incident["plan"]["plan_hash"] == pending["plan_hash"]
        assert world.writes() == []

        status, decided = call("POST", f"/threads/{incident_id}/approvals",
                               {"decision": "approve", "plan_hash": pending["plan_hash"]})
        assert status == 200, decided
        assert decided["resumed"] == "workflow" and decided["decision"] == "approved"
        assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"  # SendTaskSuccess let it go on
        assert [w["op"] for w in world.writes()] == ["UpdateService"]

        status, again = call("POST", f"/threads/{incident_id}/approvals",
                             {"decision": "reject", "plan_hash": pending["plan_hash"]})
        assert status == 409 and "already approved" in again["message"]

        status, incident = call("GET", f"/incidents/{incident_id}")
        assert incident["status"] == "resolved" and incident["pending_approval"] is None
        assert [(a["decision"], a["channel"]) for a in incident["approvals"]] == [("approved", "chat")]
        assert REPORTS <= set(incident["reports"])
        summary = requests.get(incident["reports"]["report_summary.md"], timeout=10)
        assert summary.status_code == 200 and f"{CALLER['userArn']} (chat)" in summary.text


def test_deciding_after_the_workflow_stopped_waiting_is_410(play_scenario, pg_schema_url, monkeypatch):
    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as world:
        migrate_all(pg_schema_url)
        monkeypatch.setattr(chat_api, "_chat", None)
        monkeypatch.setenv("APPROVAL_TTL_S", "2")
        started = world.intake(world.deployment_failed_event())
        incident_id = started["incident_id"]
        assert world.wait_done(started["execution_arn"], timeout=30) == "SUCCEEDED"  # nobody decided in time
        call("POST", "/threads", {"incident_id": incident_id})
        status, incident = call("GET", f"/incidents/{incident_id}")
        assert incident["status"] == "expired" and incident["pending_approval"] is None
        status, body = call("POST", f"/threads/{incident_id}/approvals",
                            {"decision": "approve", "plan_hash": incident["plan"]["plan_hash"]})
        assert status == 410 and "expired" in body["message"]
        assert world.writes() == []


def _chat_plan(world) -> tuple[str, str]:
    """A conversation that triages prod/api and asks to fix it: (thread id, the plan hash it asks about)."""
    thread_id = open_thread()
    say(thread_id, "prod/api keeps crashing since the deploy")
    pending = say(thread_id, "fix it")["pending_approval"]
    assert pending["waiting"] == "thread" and world.writes() == []
    return thread_id, pending["plan_hash"]


@pytest.fixture
def chat_world(play_scenario, pg_schema_url, monkeypatch):
    """The deployed shape: the chat function with a state machine configured, the workflow behind it."""
    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as world:
        migrate_all(pg_schema_url)
        monkeypatch.setattr(chat_api, "_chat", None)
        yield world


def test_a_plan_approved_in_a_chat_thread_is_applied_by_the_workflow_never_by_the_chat_function(chat_world):
    world = chat_world
    with world.as_function("chat-api"):
        thread_id, plan_hash = _chat_plan(world)
        response = chat_api.handler(proxy_event("POST", f"/threads/{thread_id}/approvals",
                                                {"decision": "approve", "plan_hash": plan_hash, "comment": "go"}),
                                    LambdaContextStub("chat-api"))
    decided = json.loads(response["body"])
    assert response["statusCode"] == 202, decided
    incident_id = decided["incident_id"]
    assert decided["resumed"] == "handed-off" and decided["decided_by"] == f"{CALLER['userArn']} (chat)"
    assert decided["incident_url"] == f"{APPROVAL_BASE_URL}/incidents/{incident_id}"
    assert response["multiValueHeaders"]["Location"] == [decided["incident_url"]]
    assert f"GET {decided['incident_url']}" in decided["reply"]

    assert world.wait_done(decided["execution_arn"]) == "SUCCEEDED"
    states = history_states(world.sfn, decided["execution_arn"])
    assert states[:2] == ["ApprovedInChat?", "Remediate"] and {"Verify", "Report"} <= set(states)
    assert not {"Triage", "Plan", "RequestApproval"} & set(states)
    execution_input = json.loads(world.sfn.describe_execution(executionArn=decided["execution_arn"])["input"])
    assert execution_input["approval"]["decision"] == "approved" and execution_input["plan"]["hash"] == plan_hash

    # one write in the ECS world, made by the remediate function; the chat function only read
    [write] = world.writes()
    assert write["op"] == "UpdateService" and write["params"]["taskDefinition"].endswith("api:61")
    assert world.ecs_calls_by(writes=True) == {"remediate": ["UpdateService"]}
    assert "DescribeServices" in world.ecs_calls_by(writes=False)["chat-api"]  # the chat function's triage
    with psycopg.connect(world.pg_url, row_factory=dict_row) as conn:
        audit = [r["entry"] for r in conn.execute("select entry from ecs_agent_audit order by id")]
        holds = conn.execute("select incident_id, holder, released_at from ecs_agent_remediation_locks").fetchall()
    assert [(e["result"], e["actor"]) for e in audit] == [("ok", f"workflow {decided['execution_arn']}")]
    assert [(h["incident_id"], h["holder"]) for h in holds] == [(incident_id, f"workflow {decided['execution_arn']}")]
    assert holds[0]["released_at"]

    status, incident = call("GET", f"/incidents/{incident_id}")
    assert status == 200 and incident["status"] == "resolved" and incident["plan"]["plan_hash"] == plan_hash
    assert [(a["decision"], a["channel"], a["comment"]) for a in incident["approvals"]] == [("approved", "chat", "go")]
    assert REPORTS <= set(incident["reports"])
    reports = s3_reports(world.region, world.bucket, incident_id)
    assert "PASSED" in reports["verify_post_check.md"]
    assert f"{CALLER['userArn']} (chat)" in reports["report_summary.md"]

    status, view = call("GET", f"/threads/{thread_id}")
    assert view["pending_approval"] is None and view["messages"][-1]["text"] == decided["reply"]
    assert view["handoff"]["execution_arn"] == decided["execution_arn"] and view["handoff"]["plan_hash"] == plan_hash

    status, again = call("POST", f"/threads/{thread_id}/approvals", {"decision": "approve", "plan_hash": plan_hash})
    assert status == 409 and "already approved" in again["message"]
    assert len(world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]) == 1
    assert len(world.writes()) == 1


def test_a_rejection_in_a_chat_thread_starts_no_workflow(chat_world):
    thread_id, plan_hash = _chat_plan(chat_world)
    status, decided = call("POST", f"/threads/{thread_id}/approvals", {"decision": "reject", "plan_hash": plan_hash})
    assert status == 200 and decided["resumed"] == "thread" and decided["decision"] == "rejected"
    assert "Rejected: nothing was changed" in decided["reply"]
    assert chat_world.sfn.list_executions(stateMachineArn=chat_world.state_machine_arn)["executions"] == []
    assert chat_world.writes() == []


@pytest.mark.attack("chat hand-off cut off before the execution started")
def test_a_hand_off_cut_off_after_the_approval_is_finished_by_the_next_attempt(chat_world, monkeypatch):
    world = chat_world
    thread_id, plan_hash = _chat_plan(world)
    sfn = chat_api.service().sfn
    unavailable = ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "StartExecution")
    with monkeypatch.context() as outage:
        outage.setattr(sfn, "start_execution", lambda **_: (_ for _ in ()).throw(unavailable))
        status, _ = call("POST", f"/threads/{thread_id}/approvals", {"decision": "approve", "plan_hash": plan_hash})
    assert status == 500
    assert world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"] == []
    # Step Functions is back; the approval was recorded: the retry is told so, and finishes the hand-off

    status, again = call("POST", f"/threads/{thread_id}/approvals", {"decision": "approve", "plan_hash": plan_hash})
    assert status == 409 and "already approved" in again["message"]
    status, view = call("GET", f"/threads/{thread_id}")
    handoff = view["handoff"]
    assert view["pending_approval"] is None and handoff["plan_hash"] == plan_hash
    assert world.wait_done(handoff["execution_arn"]) == "SUCCEEDED"
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    assert call("GET", f"/incidents/{handoff['incident_id']}")[1]["status"] == "resolved"


def test_the_workflow_refuses_a_chat_approved_plan_for_a_cluster_it_may_not_change(chat_world, monkeypatch):
    monkeypatch.setenv("ALLOWED_CLUSTERS", "staging")
    thread_id, plan_hash = _chat_plan(chat_world)
    status, decided = call("POST", f"/threads/{thread_id}/approvals", {"decision": "approve", "plan_hash": plan_hash})
    assert status == 202 and "cluster prod is watched but not writable" in decided["reply"]
    assert chat_world.wait_done(decided["execution_arn"]) == "SUCCEEDED"
    assert chat_world.writes() == []
    status, incident = call("GET", f"/incidents/{decided['incident_id']}")
    assert incident["status"] == "no-action"
    assert any("refused" in e["text"] and "watched but not writable" in e["text"] for e in incident["timeline"])


def test_approving_in_an_incident_thread_after_its_workflow_ended_works_on_the_services_new_incident(chat_world,
                                                                                                   monkeypatch):
    """The incident settled (writes were off): asked again in its thread, the agent looks again, which opens the
    service's next incident; the plan approved there is that incident's, applied by its own execution."""
    world = chat_world
    monkeypatch.setenv("ALLOW_WRITE", "false")  # the incident's own workflow may only propose
    started = world.intake(world.deployment_failed_event())
    incident_id = started["incident_id"]
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert call("GET", f"/incidents/{incident_id}")[1]["status"] == "no-action"
    monkeypatch.setenv("ALLOW_WRITE", "true")  # writes were turned on since
    monkeypatch.setattr(chat_api, "_chat", None)

    call("POST", "/threads", {"incident_id": incident_id})
    reply = say(incident_id, "fix it")
    plan_hash, next_incident = reply["pending_approval"]["plan_hash"], reply["incident_id"]
    assert next_incident != incident_id and next_incident.startswith("chat-prod-api-")
    status, decided = call("POST", f"/threads/{incident_id}/approvals", {"decision": "approve", "plan_hash": plan_hash})
    assert status == 202 and decided["incident_id"] == next_incident
    assert world.wait_done(decided["execution_arn"]) == "SUCCEEDED"
    assert world.ecs_calls_by(writes=True) == {"remediate": ["UpdateService"]}
    status, incident = call("GET", f"/incidents/{next_incident}")
    assert incident["status"] == "resolved" and incident["plan"]["incident_id"] == next_incident
    assert incident["target"] == call("GET", f"/incidents/{incident_id}")[1]["target"]  # the same exact service
    assert [(a["decision"], a["channel"]) for a in incident["approvals"]] == [("approved", "chat")]
    assert call("GET", f"/incidents/{incident_id}")[1]["status"] == "no-action"  # the settled one stays as it was
