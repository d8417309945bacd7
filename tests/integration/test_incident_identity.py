"""Incident identity through the intake and PostgreSQL: at most one open incident per exact service; later signals
join it (never silently dropped); a new incident opens only after the previous one settled; a crash loop keeps one
incident; Application Auto Scaling's alarms open none; same-named services elsewhere are other incidents."""
from __future__ import annotations

import datetime as dt
import json

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg.rows import dict_row

from agents.aws_ecs_service.domain.incident import Trigger
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.approval_store import PostgresApprovalStore
from agents.aws_ecs_service.incidents.incident_store import PostgresIncidentStore
from agents.aws_ecs_service.incidents.intake import Normaliser
from agents.aws_ecs_service.incidents.schema import migrate
from agents.aws_ecs_service.incidents.settings import RuntimeSettings
from agents.aws_ecs_service.incidents.starter import Intake
from tests.unit.test_intake import ACCOUNT, SINGLE_METRIC, alarm, deployment_failed, service_action, task_stopped

pytestmark = pytest.mark.postgres
T0 = dt.datetime(2026, 1, 1, 17, 0, tzinfo=dt.UTC)
WEST = f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/default/servicetest"


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Runtime:
    def __init__(self, url: str, sfn, arn: str):
        self.url, self.sfn, self.arn = url, sfn, arn
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)
        migrate(self.conn)
        settings = RuntimeSettings()
        self.incidents = PostgresIncidentStore(self.conn, settings.join_policy())
        self.approvals = PostgresApprovalStore(self.conn)

    def intake(self) -> Intake:
        """A fresh Lambda container's intake (its own memory of handled events)."""
        return Intake(self.sfn, self.arn, RuntimeSettings().workflow_knobs(), Normaliser(),
                      stores=lambda: (self.incidents, self.approvals))

    def executions(self) -> list[str]:
        return sorted(e["name"] for e in self.sfn.list_executions(stateMachineArn=self.arn)["executions"])

    def open_rows(self) -> list[dict]:
        return self.conn.execute("select incident_id, service_key from ecs_agent_incidents where settled_at is null "
                                 "order by created_at").fetchall()

    def settle(self, incident_id: str, status: str, when: str) -> None:
        incident = self.incidents.load(incident_id)
        incident.status, incident.settled_at, incident.outcome = status, when, "settled by the test"
        self.incidents.save(incident)


@pytest.fixture
def runtime(aws_env, pg_schema_url):
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="incidents", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600,
                                                                          "End": True}}}))["stateMachineArn"]
        rt = Runtime(pg_schema_url, sfn, arn)
        yield rt
        rt.conn.close()


def deployment(event_id: str, minutes: float, resource: str | None = None) -> dict:
    event = deployment_failed(**({"resource": resource} if resource else {}), event_id=event_id, time=at(minutes))
    event["region"], event["account"] = event["resources"][0].split(":")[3:5]
    return event


def impaired(event_id: str, minutes: float) -> dict:
    event = service_action("WARN", "SERVICE_TASK_START_IMPAIRED")
    event.update(id=event_id, time=at(minutes))
    return event


@pytest.mark.attack("incident identity")
def test_a_storm_of_500_events_for_one_service_opens_one_incident_with_one_execution(runtime):
    events = []
    for i in range(500):
        if i % 3 == 0:
            events.append(deployment(f"d{i // 3 % 7}", 31))  # redeliveries of 7 events
        elif i % 3 == 1:
            events.append(impaired(f"s{i}", 10 + i / 100))
        else:
            e = task_stopped(version=i, task_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/default/{i:032x}",
                             cluster_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default", group="service:servicetest")
            e.update(region="us-west-2", time=at(40))
            events.append(e)
    # Two containers see the storm: each has its own memory; the database makes one incident.
    first, second = runtime.intake(), runtime.intake()
    outcomes = [(first if i % 2 else second).handle(e) for i, e in enumerate(events)]
    assert [o["outcome"] for o in outcomes].count("started") == 1
    [incident_id] = {o["incident_id"] for o in outcomes}
    assert runtime.executions() == [incident_id]
    incident = runtime.incidents.load(incident_id)
    started = json.loads(runtime.sfn.describe_execution(
        executionArn=runtime.sfn.list_executions(stateMachineArn=runtime.arn)["executions"][0]["executionArn"])["input"])
    assert started["target"]["service_arn"] == WEST and started["target"]["account"] == ACCOUNT
    # every distinct signal is on the incident's record (redeliveries once)
    distinct = {e["id"] for e in events} - {incident.opened_by.event_id}
    stored = runtime.conn.execute("select count(*) as n from ecs_agent_incident_events where incident_id = %s",
                                  (incident_id,)).fetchone()["n"]
    assert stored == len(distinct)


@pytest.mark.attack("incident identity")
def test_the_same_named_service_in_another_region_or_account_is_another_incident(runtime):
    intake = runtime.intake()
    here = intake.handle(deployment("d1", 0))
    east = intake.handle(deployment("d2", 1, resource=WEST.replace("us-west-2", "us-east-1")))
    elsewhere = intake.handle(deployment("d3", 2, resource=WEST.replace(ACCOUNT, "444455556666")))
    assert [o["outcome"] for o in (here, east, elsewhere)] == ["started"] * 3
    assert len({here["incident_id"], east["incident_id"], elsewhere["incident_id"]}) == 3
    assert len({r["service_key"] for r in runtime.open_rows()}) == 3
    assert {(o["region"], o["account"]) for o in (here, east, elsewhere)} == {
        ("us-west-2", ACCOUNT), ("us-east-1", ACCOUNT), ("us-west-2", "444455556666")}


@pytest.mark.attack("incident identity")
def test_a_deployment_failure_36_minutes_after_a_scaling_alarm_opens_an_incident(runtime):
    intake = runtime.intake()
    tracking = alarm({"metrics": [{**SINGLE_METRIC[0], "metricStat": {"metric": {
        "namespace": "AWS/ECS", "name": "CPUUtilization",
        "dimensions": {"ClusterName": "default", "ServiceName": "servicetest"}}}}],
        "description": "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy arn:aws:autoscaling:x"})
    tracking.update(region="us-west-2", time=at(4))
    tracking["detail"]["alarmName"] = "TargetTracking-service/default/servicetest-AlarmHigh-1a2b"
    assert intake.handle(tracking)["outcome"] == "dropped"
    failed = intake.handle(deployment("d1", 40))
    assert failed["outcome"] == "started" and runtime.executions() == [failed["incident_id"]]


@pytest.mark.attack("incident identity")
def test_a_later_different_failure_joins_the_open_incident_and_is_recorded(runtime):
    intake = runtime.intake()
    memory = alarm({"metrics": [{**SINGLE_METRIC[0], "metricStat": {"metric": {
        "namespace": "AWS/ECS", "name": "MemoryUtilization",
        "dimensions": {"ClusterName": "default", "ServiceName": "servicetest"}}}}]})
    memory.update(region="us-west-2", time=at(4))
    opened = intake.handle(memory)
    joined = intake.handle(deployment("d1", 40))
    assert (opened["outcome"], joined["outcome"]) == ("started", "joined")
    assert joined["incident_id"] == opened["incident_id"] and runtime.executions() == [opened["incident_id"]]
    [event] = runtime.incidents.load(opened["incident_id"]).events
    assert (event.signature, event.event_id) == ("deployment-failed", "d1")


@pytest.mark.attack("incident identity")
def test_a_crash_loop_across_three_hours_keeps_one_incident_and_at_most_one_pending_approval(runtime):
    intake = runtime.intake()
    first = intake.handle(impaired("s0", 0))
    incident_id = first["incident_id"]
    runtime.approvals.request(incident_id, "plan-1", "token-1", "nonce-1", T0 + dt.timedelta(hours=24))
    incident = runtime.incidents.load(incident_id)
    incident.status = "awaiting-approval"
    runtime.incidents.save(incident)
    for minute in range(10, 181, 10):  # the same failure, every ten minutes, for three hours
        assert intake.handle(impaired(f"s{minute}", minute))["incident_id"] == incident_id
    assert runtime.executions() == [incident_id] and len(runtime.open_rows()) == 1
    pending = runtime.conn.execute("select count(*) as n from ecs_agent_approvals where status = 'pending'").fetchone()
    assert pending["n"] == 1
    assert len(runtime.incidents.load(incident_id).events) == 18


@pytest.mark.attack("incident identity")
def test_a_crash_loop_after_a_no_action_settle_stays_on_that_incident_until_the_quiet_period_ends(runtime):
    intake = runtime.intake()
    incident_id = intake.handle(impaired("s0", 0))["incident_id"]
    runtime.settle(incident_id, "no-action", at(5))
    for minute in (20, 80, 170):
        again = intake.handle(impaired(f"s{minute}", minute))
        assert (again["outcome"], again["incident_id"], again["settled"]) == ("joined", incident_id, True)
    assert runtime.executions() == [incident_id]
    different = intake.handle(deployment("d1", 175))  # another failure is a new incident
    assert different["outcome"] == "started" and different["incident_id"] != incident_id
    runtime.settle(different["incident_id"], "no-action", at(176))
    later = intake.handle(impaired("s-late", 5 + 6 * 60 + 1))  # past the 6 h quiet period: a new incident
    assert later["outcome"] == "started" and later["incident_id"] not in (incident_id, different["incident_id"])


@pytest.mark.attack("incident identity")
def test_after_a_resolution_the_next_failure_opens_a_new_incident(runtime):
    intake = runtime.intake()
    incident_id = intake.handle(impaired("s0", 0))["incident_id"]
    runtime.settle(incident_id, "resolved", at(20))
    again = intake.handle(impaired("s1", 30))
    assert again["outcome"] == "started" and again["incident_id"] != incident_id


@pytest.mark.attack("incident identity")
def test_an_incident_whose_workflow_went_silent_is_abandoned_and_the_next_signal_opens_a_new_one(runtime):
    intake = runtime.intake()
    stale = intake.handle(impaired("s0", 0))["incident_id"]
    runtime.conn.execute("update ecs_agent_incidents set updated_at = now() - interval '3 days' where incident_id = %s",
                         (stale,))
    fresh = intake.handle(impaired("s1", 5))
    assert fresh["outcome"] == "started" and fresh["incident_id"] != stale
    old = runtime.incidents.load(stale)
    assert old.settled and old.status == "failed" and old.outcome.startswith("abandoned")


@pytest.mark.attack("incident identity")
def test_a_chat_opened_incident_gets_its_workflow_from_the_first_event(runtime):
    target = ServiceTarget.from_arns(f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default", WEST)
    from agents.aws_ecs_service.domain.incident import new_incident

    chat = Trigger(kind="chat", summary="my api is slow", event_id="thread-1:a", at=at(0), signature="chat")
    incident, opened = runtime.incidents.open_or_join(new_incident(target, chat, "chat-default-servicetest-1"), chat)
    assert opened and runtime.executions() == []
    joined = runtime.intake().handle(deployment("d1", 3))
    assert joined["incident_id"] == incident.incident_id and joined["outcome"] == "started"
    assert runtime.executions() == [incident.incident_id]
    assert runtime.incidents.execution_arn(incident.incident_id).endswith(f":{incident.incident_id}")
