"""The serverless flow end to end, locally: EventBridge event -> intake -> the real ASL in moto's Step
Functions interpreter -> handlers in-process -> approval email (SNS) -> GET then POST the signed link ->
remediation against a fakeaws world -> verification -> four reports in S3. Postgres is real."""
from __future__ import annotations

import json

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from agents.aws_ecs_service.incidents.incident_store import PostgresIncidentStore
from tests.e2e.serverless_world import (
    execution_status,
    history_states,
    s3_reports,
    scenario_world,
    sent_emails,
    wait_for,
)

pytestmark = pytest.mark.postgres
REPORTS = {"triage_report.md", "plan_repair_plan.md", "verify_post_check.md", "report_summary.md"}


@pytest.fixture
def world(play_scenario, pg_schema_url, monkeypatch):
    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as w:
        yield w


def test_deployment_failure_to_approved_fix_verified_and_four_reports(world):
    started = world.intake(world.deployment_failed_event())
    assert started["outcome"] == "started"
    incident_id = started["incident_id"]
    email, links = world.email_links()
    assert "Approve?" in email["subject"] and set(links) == {"approve", "reject"}
    assert "ecs:UpdateService" in email["message"]
    assert world.writes() == []  # nothing changes before a person decides

    page = world.approval("GET", links["approve"])
    assert page["statusCode"] == 200 and "<form method=post>" in page["body"]
    assert "Approve and apply" in page["body"] and "no-store" in page["headers"]["Cache-Control"]
    assert world.writes() == []  # GET (a mail scanner's prefetch) decides nothing
    decided = world.approval("POST", links["approve"], "decision=approve&name=Alice")
    assert decided["statusCode"] == 200, decided["body"]

    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    states = history_states(world.sfn, started["execution_arn"])
    assert states[:5] == ["ApprovedInChat?", "Triage", "Plan", "ApprovalNeeded?", "RequestApproval"]
    assert {"Remediate", "Verify", "Report"} <= set(states)
    writes = world.writes()
    assert [w["op"] for w in writes] == ["UpdateService"]
    assert writes[0]["params"]["taskDefinition"].endswith("api:61")
    reports = s3_reports(world.region, world.bucket, incident_id)
    assert REPORTS <= set(reports) and {"triage.json", "evidence.json"} <= set(reports)
    assert "PASSED" in reports["verify_post_check.md"]
    assert "Alice (email link, from 198.51.100.7)" in reports["report_summary.md"]
    assert json.loads(reports["triage.json"])["root_cause"]["category"] == "container-oom"
    status, document = world.incident_row(incident_id)
    assert status == "resolved" and document["approvals"][0]["channel"] == "email-link"

    replay = world.approval("POST", links["approve"], "decision=approve")
    assert replay["statusCode"] == 409
    assert world.approval("POST", links["reject"], "decision=reject")["statusCode"] == 409


def test_rejection_changes_nothing_and_still_reports(world):
    started = world.intake(world.deployment_failed_event())
    _, links = world.email_links()
    assert world.approval("POST", links["reject"], "decision=reject&name=Bob")["statusCode"] == 200
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert world.writes() == []
    states = history_states(world.sfn, started["execution_arn"])
    assert "Rejected" in states and "Remediate" not in states
    reports = s3_reports(world.region, world.bucket, started["incident_id"])
    assert REPORTS <= set(reports) and "rejected" in reports["report_summary.md"].lower()
    assert world.incident_row(started["incident_id"])[0] == "rejected"


def test_expiry_times_out_to_rejected_and_the_link_says_gone(world, monkeypatch):
    monkeypatch.setenv("APPROVAL_TTL_S", "2")
    started = world.intake(world.deployment_failed_event())
    _, links = world.email_links()
    assert world.wait_done(started["execution_arn"], timeout=30) == "SUCCEEDED"
    assert "Expired" in history_states(world.sfn, started["execution_arn"])
    assert world.approval("GET", links["approve"])["statusCode"] == 410
    assert world.approval("POST", links["approve"], "decision=approve")["statusCode"] == 410
    assert world.writes() == []
    reports = s3_reports(world.region, world.bucket, started["incident_id"])
    assert "Expired" in reports["report_summary.md"]


def test_forged_and_altered_links_are_refused(world):
    started = world.intake(world.deployment_failed_event())
    _, links = world.email_links()
    body, mac = links["approve"].split(".")
    altered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert world.approval("GET", altered)["statusCode"] == 403
    assert world.approval("POST", altered, "decision=approve")["statusCode"] == 403
    assert world.approval("POST", "not-a-token", "decision=approve")["statusCode"] == 403
    from agents.aws_ecs_service.incidents.approval_links import LinkClaims, sign, verify

    claims = verify(b"k" * 64, links["approve"])
    forged = sign(b"another key", LinkClaims(**claims.model_dump()))
    assert world.approval("POST", forged, "decision=approve")["statusCode"] == 403
    assert world.writes() == []
    assert execution_status(world.sfn, started["execution_arn"]) == "RUNNING"
    world.approval("POST", links["reject"], "decision=reject")
    world.wait_done(started["execution_arn"])


def test_later_events_join_the_open_incident_and_start_no_execution(world):
    first = world.intake(world.deployment_failed_event("e1"))
    again = [world.intake(world.deployment_failed_event(f"e{i}")) for i in range(2, 6)]
    redelivered = world.intake(world.deployment_failed_event("e1"))
    assert first["outcome"] == "started" and {a["outcome"] for a in again} == {"joined"}
    assert redelivered["outcome"] == "duplicate"
    assert {a["incident_id"] for a in [*again, redelivered]} == {first["incident_id"]}
    assert len(world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]) == 1
    _, links = world.email_links()
    world.approval("POST", links["reject"], "decision=reject")
    world.wait_done(first["execution_arn"])


def memory_alarm(world, time: str, state_timestamp: str | None = None) -> dict:
    """The service's memory alarm going into ALARM, as EventBridge delivers it."""
    t = world.scenario["target"]
    state = {"value": "ALARM", "reason": "Threshold Crossed", "reasonData": "{}"}
    if state_timestamp:
        state["timestamp"] = state_timestamp
    return {"version": "0", "id": "a1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
            "account": "123456789012", "time": time, "region": world.region,
            "resources": [f"arn:aws:cloudwatch:{world.region}:123456789012:alarm:api-memory-high"],
            "detail": {"alarmName": "api-memory-high",
                       "configuration": {"metrics": [{"id": "m1", "returnData": True, "metricStat": {
                           "metric": {"namespace": "AWS/ECS", "name": "MemoryUtilization",
                                      "dimensions": {"ClusterName": t["cluster"], "ServiceName": t["service"]}},
                           "period": 60, "stat": "Maximum"}}]},
                       "state": state}}


def test_cloudwatch_alarm_trigger_opens_the_incident_for_its_service(world):
    started = world.intake(memory_alarm(world, "2026-01-01T12:05:00Z", "2026-01-01T12:05:00.000+0000"))
    assert started["outcome"] == "started" and started["trigger"] == "alarm"
    execution_input = json.loads(world.sfn.describe_execution(executionArn=started["execution_arn"])["input"])
    assert execution_input["trigger"]["alarm_name"] == "api-memory-high"
    _, links = world.email_links()
    world.approval("POST", links["reject"], "decision=reject")
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    summary = s3_reports(world.region, world.bucket, started["incident_id"])["report_summary.md"]
    assert "alarm: alarm api-memory-high" in summary


def test_a_failing_step_is_caught_and_reported(world):
    world.router.fail_next["triage"] = RuntimeError("cluster unreachable")
    started = world.intake(world.deployment_failed_event())
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    states = history_states(world.sfn, started["execution_arn"])
    assert states == ["ApprovedInChat?", "Triage", "Report"]
    reports = s3_reports(world.region, world.bucket, started["incident_id"])
    assert REPORTS <= set(reports) and "cluster unreachable" in reports["triage_report.md"]
    assert world.incident_row(started["incident_id"])[0] == "failed"


def outcome_messages(world, incident_id):
    return [e for e in sent_emails(world.region) if f"Incident {incident_id} " in e["message"]]


@pytest.mark.parametrize(("how", "status", "headline"), [
    ("approve", "resolved", "Resolved"), ("reject", "rejected", "Rejected, nothing changed"),
    ("writes off", "no-action", "No automated change")])
def test_people_hear_how_every_incident_ended(play_scenario, pg_schema_url, monkeypatch, how, status, headline):
    """One message to the notification topic when the incident settles: outcome, cause, what changed, reports."""
    env = {"ALLOW_WRITE": "false"} if how == "writes off" else {}
    with scenario_world(play_scenario, pg_schema_url, monkeypatch, **env) as world:
        started = world.intake(world.deployment_failed_event())
        if how != "writes off":
            _, links = world.email_links()
            world.approval("POST", links[how], f"decision={how}&name=Alice")
        assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
        [message] = outcome_messages(world, started["incident_id"])
        assert message["subject"] == f"{headline}: prod/api (us-east-1)"
        text = message["message"]
        assert f"has settled: {status}." in text and "Root cause: container-oom" in text
        assert f"s3://{world.bucket}/incidents/{started['incident_id']}/report_summary.md" in text
        changed = text.split("What changed in AWS:")[1].split("\n\n")[0]
        assert ("ecs:UpdateService" in changed) == (how == "approve")
        if how == "writes off":
            assert "Why: writes are disabled" in text


def test_a_different_failure_while_the_approval_waits_triages_again_and_supersedes_the_request(world):
    """An alarm opened the incident and its approval email is out; a failed deployment joins it: the pending
    request is superseded (its links stop working), the incident triages again, and one new request is sent."""
    started = world.intake(memory_alarm(world, "2026-01-01T11:50:00Z"))
    first_email, first_links = world.email_links(started["incident_id"])
    joined = world.intake(world.deployment_failed_event("d1", "2026-01-01T12:26:00Z"))
    assert joined["outcome"] == "joined" and "retriage" in joined
    assert world.approval("POST", first_links["approve"], "decision=approve")["statusCode"] == 410

    def second_request():
        return [e for e in sent_emails(world.region)
                if f"Incident: {started['incident_id']}" in e["message"] and "Approve:" in e["message"]][1:]

    wait_for(second_request, timeout=60, what="the second approval email")
    _, links = world.email_links(started["incident_id"])
    assert links["approve"] != first_links["approve"]
    assert world.approval("POST", links["approve"], "decision=approve&name=Alice")["statusCode"] == 200
    # the memory alarm that opened the incident clears once the rollback is in (the verifier waits for it)
    boto3.client("cloudwatch", region_name=world.region).set_alarm_state(
        AlarmName="api-memory-high", StateValue="OK", StateReason="back under the threshold")
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    states = history_states(world.sfn, started["execution_arn"])
    assert states.count("Triage") == 2 and "Retriage" in states and states.count("RequestApproval") == 2
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    status, document = world.incident_row(started["incident_id"])
    assert status == "resolved" and sum(e["kind"] == "triage" for e in document["timeline"]) == 2
    with psycopg.connect(world.pg_url, row_factory=dict_row) as conn:
        joined_events = PostgresIncidentStore(conn).load(started["incident_id"]).events
    assert [e.signature for e in joined_events] == ["deployment-failed"]
