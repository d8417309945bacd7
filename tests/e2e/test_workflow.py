"""The serverless flow end to end, locally: EventBridge event -> intake -> the real ASL in moto's Step
Functions interpreter -> handlers in-process -> approval email (SNS) -> GET then POST the signed link ->
remediation against a fakeaws world -> verification -> four reports in S3. Postgres is real."""
from __future__ import annotations

import json
import re

import boto3
import psycopg
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from agents.aws_ecs_service.incidents import database
from agents.aws_ecs_service.incidents.schema import migrate
from tests.conftest import load_scenario
from tests.e2e.serverless_world import (
    LambdaContextStub,
    LambdaRouter,
    create_state_machine,
    execution_status,
    history_states,
    s3_reports,
    sent_emails,
    wait_for,
)

pytestmark = pytest.mark.postgres
REPORTS = {"triage_report.md", "plan_repair_plan.md", "verify_post_check.md", "report_summary.md"}
LINK = re.compile(r"(https://approvals\.example\.test/v1/approvals/(\S+))")


class World:
    def __init__(self, fake, scenario, router, sfn, state_machine_arn, bucket, pg_url):
        self.fake, self.scenario, self.router, self.sfn = fake, scenario, router, sfn
        self.state_machine_arn, self.bucket, self.pg_url = state_machine_arn, bucket, pg_url
        self.region = scenario["region"]

    def deployment_failed_event(self, event_id="e1"):
        t = self.scenario["target"]
        return {"version": "0", "id": event_id, "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                "account": "123456789012", "time": "2026-01-01T12:00:00Z", "region": self.region,
                "resources": [f"arn:aws:ecs:{self.region}:123456789012:service/{t['cluster']}/{t['service']}"],
                "detail": {"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                           "deploymentId": "ecs-svc/1", "updatedAt": "2026-01-01T12:00:00Z",
                           "reason": "ECS deployment circuit breaker: tasks failed to start."}}

    def intake(self, event):
        import functions.intake as intake

        return intake.handler(event, LambdaContextStub("intake"))

    def approval(self, method, token, body=None):
        import functions.approval_api as approval_api

        event = {"httpMethod": method, "resource": "/approvals/{token}", "path": f"/approvals/{token}",
                 "pathParameters": {"token": token}, "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                 "requestContext": {"identity": {"sourceIp": "198.51.100.7"}}, "body": body, "isBase64Encoded": False}
        return approval_api.handler(event, LambdaContextStub("approval-api"))

    def email_links(self):
        emails = wait_for(lambda: sent_emails(self.region), timeout=30, what="approval email")
        links = dict(zip(("approve", "reject"), LINK.findall(emails[-1]["message"]), strict=False))
        return emails[-1], {k: v[1] for k, v in links.items()}

    def wait_done(self, arn, timeout=60):
        return wait_for(lambda: (s := execution_status(self.sfn, arn)) != "RUNNING" and s, timeout=timeout,
                        what="execution end")

    def writes(self):
        return [c for c in self.fake.calls if c["write"]]

    def incident_row(self, incident_id):
        with psycopg.connect(self.pg_url) as conn:
            return conn.execute("select status, document from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()


@pytest.fixture
def world(play_scenario, pg_schema_url, monkeypatch):
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        scenario = load_scenario("oom-after-deploy")
        fake = play_scenario(scenario)
        region = scenario["region"]
        # ECS is the scenario's world; every other service is moto in-process (same backends fakeaws seeded).
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", fake.endpoint)
        router = LambdaRouter(region)
        monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda self, *a: router(self, *a))
        sfn = boto3.client("stepfunctions", region_name=region)
        arn = create_state_machine(sfn, region)
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket="reports", **({} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}))
        topic = boto3.client("sns", region_name=region).create_topic(Name="approvals")["TopicArn"]
        secret = boto3.client("secretsmanager", region_name=region).create_secret(
            Name="approval-key", SecretString="k" * 64)["ARN"]
        with psycopg.connect(pg_schema_url, autocommit=True) as conn:
            migrate(conn)
        for key, value in {"DATABASE_URL": pg_schema_url, "STATE_MACHINE_ARN": arn, "REPORTS_BUCKET": "reports",
                           "NOTIFICATION_TOPIC_ARN": topic, "APPROVAL_KEY_SECRET_ARN": secret,
                           "APPROVAL_BASE_URL": "https://approvals.example.test/v1", "ALLOW_WRITE": "true",
                           "ALLOWED_CLUSTERS": scenario["target"]["cluster"], "ECS_AGENT_MODEL": "offline",
                           "VERIFY_WAIT_S": "1", "VERIFY_MAX_POLLS": "15", "APPROVAL_TTL_S": "120",
                           "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Test"}.items():
            monkeypatch.setenv(key, value)
        import functions.approval_api as approval_api
        import functions.intake as intake

        monkeypatch.setattr(intake, "_intake", None)
        monkeypatch.setattr(approval_api, "_sfn", None)
        monkeypatch.setattr(database, "_cached", None)
        yield World(fake, scenario, router, sfn, arn, "reports", pg_schema_url)
        if database._cached is not None:
            database._cached.close()


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
    assert states[:4] == ["Triage", "Plan", "ApprovalNeeded?", "RequestApproval"]
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
    from agents.aws_ecs_service.approval_links import LinkClaims, sign, verify

    claims = verify(b"k" * 64, links["approve"])
    forged = sign(b"another key", LinkClaims(**claims.model_dump()))
    assert world.approval("POST", forged, "decision=approve")["statusCode"] == 403
    assert world.writes() == []
    assert execution_status(world.sfn, started["execution_arn"]) == "RUNNING"
    world.approval("POST", links["reject"], "decision=reject")
    world.wait_done(started["execution_arn"])


def test_duplicate_events_start_one_execution(world):
    first = world.intake(world.deployment_failed_event("e1"))
    again = [world.intake(world.deployment_failed_event(f"e{i}")) for i in range(2, 6)]
    assert first["outcome"] == "started" and {a["outcome"] for a in again} == {"duplicate"}
    assert len(world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]) == 1
    _, links = world.email_links()
    world.approval("POST", links["reject"], "decision=reject")
    world.wait_done(first["execution_arn"])


def test_cloudwatch_alarm_trigger_opens_the_incident_for_its_service(world):
    t = world.scenario["target"]
    event = {"version": "0", "id": "a1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
             "account": "123456789012", "time": "2026-01-01T12:05:00Z", "region": world.region,
             "resources": [f"arn:aws:cloudwatch:{world.region}:123456789012:alarm:api-memory-high"],
             "detail": {"alarmName": "api-memory-high",
                        "configuration": {"metrics": [{"id": "m1", "returnData": True, "metricStat": {
                            "metric": {"namespace": "AWS/ECS", "name": "MemoryUtilization",
                                       "dimensions": {"ClusterName": t["cluster"], "ServiceName": t["service"]}},
                            "period": 60, "stat": "Maximum"}}]},
                        "state": {"value": "ALARM", "reason": "Threshold Crossed", "reasonData": "{}",
                                  "timestamp": "2026-01-01T12:05:00.000+0000"}}}
    started = world.intake(event)
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
    assert states == ["Triage", "Report"]
    reports = s3_reports(world.region, world.bucket, started["incident_id"])
    assert REPORTS <= set(reports) and "cluster unreachable" in reports["triage_report.md"]
    assert world.incident_row(started["incident_id"])[0] == "failed"
