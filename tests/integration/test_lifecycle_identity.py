"""The lifecycle keeps an incident to its one exact service: prod/api in us-east-1 and prod/api in us-west-2 are two
incidents, a plan of one can never be handed to (or approved on) the other, and an approved plan changes its own
service only. moto's ECS holds the twins; the stores are the local ones the CLI and the sandbox use."""
from __future__ import annotations

import datetime as dt
import tempfile

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
from agents.aws_ecs_service.domain.incident import Trigger
from agents.aws_ecs_service.domain.plan import Approval, Plan, PlanStep
from agents.aws_ecs_service.domain.target import TargetMismatch
from agents.aws_ecs_service.domain.write_policy import WriteScope
from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
from agents.aws_ecs_service.operations.lifecycle import Lifecycle
from agents.aws_ecs_service.operations.local_incidents import LocalIncidentStore
from agents.aws_ecs_service.reports.store import ReportStore
from tests.moto_ecs import EcsService, pool_for


@pytest.fixture
def twins(aws_env):
    with mock_aws():
        session = boto3.session.Session()
        yield EcsService(session, "us-east-1"), EcsService(session, "us-west-2")


def lifecycle() -> Lifecycle:
    reports = ReportStore(local_dir=tempfile.mkdtemp(prefix="reports-"))
    return Lifecycle(incidents=LocalIncidentStore(), approvals=LocalApprovalStore(), audit=LocalAuditLog(),
                     sessions=pool_for(), scope=WriteScope.of(True), reports=lambda _incident: reports)


def trigger(event_id: str) -> Trigger:
    return Trigger(kind="alarm", summary="cpu high", event_id=event_id, at=dt.datetime.now(dt.UTC).isoformat(),
                   signature="alarm:cpu-high")


def scale_out(incident_id: str, service: EcsService) -> Plan:
    t = service.target
    step = PlanStep(number=1, action="update_service_desired_count", api_call="scale out", description="+1",
                    params={"cluster": t.cluster_arn, "service": t.service_arn, "desiredCount": 5},
                    expected_before={"desiredCount": 4})
    return Plan(incident_id=incident_id, target=t, root_cause="cpu-saturation", title="scale out", summary="",
                steps=[step])


@pytest.mark.attack("target identity")
def test_the_same_named_service_in_another_region_is_another_incident(twins):
    east, west = twins
    life = lifecycle()
    a, opened_a = life.open(east.target, trigger("e1"))
    b, opened_b = life.open(west.target, trigger("w1"))
    again, opened_again = life.open(east.target, trigger("e2"))
    assert opened_a and opened_b and not opened_again
    assert a.incident_id != b.incident_id and again.incident_id == a.incident_id
    assert [e.event_id for e in life.incidents.load(a.incident_id).events] == ["e2"]


@pytest.mark.attack("target identity")
def test_a_plan_for_region_b_cannot_be_handed_to_or_approved_on_the_incident_of_region_a(twins):
    east, west = twins
    life = lifecycle()
    a, _ = life.open(east.target, trigger("e1"))
    b, _ = life.open(west.target, trigger("w1"))
    result_b, evidence_b = life.triage(b)
    west_plan = scale_out(b.incident_id, west)
    with pytest.raises(TargetMismatch, match="us-west-2"):
        life.adopt(a, west_plan, result_b, evidence_b, "chat thread t-1")
    with pytest.raises(TargetMismatch):  # a triage of B recorded on A
        life.record_triage(a, result_b, evidence_b)
    with pytest.raises(TargetMismatch, match="is not a plan of incident"):
        life.decide(a, Approval(plan_hash=west_plan.plan_hash, incident_id=a.incident_id, decision="approved",
                                decided_by="mallory", decided_at=dt.datetime.now(dt.UTC).isoformat()))
    assert life.incidents.load(a.incident_id).chosen_plan_hash is None
    assert (east.state()["desiredCount"], west.state()["desiredCount"]) == (4, 4)


@pytest.mark.attack("target identity")
def test_an_approved_plan_changes_its_own_incidents_service_and_nothing_else(twins):
    east, west = twins
    life = lifecycle()
    b, _ = life.open(west.target, trigger("w1"))
    result_b, evidence_b = life.triage(b)
    plan = life.adopt(b, scale_out(b.incident_id, west), result_b, evidence_b, "chat thread t-1")
    life.decide(b, Approval(plan_hash=plan.plan_hash, incident_id=b.incident_id, decision="approved",
                            decided_by="alice", decided_at=dt.datetime.now(dt.UTC).isoformat()))
    [entry] = life.remediate(b, actor="test")
    assert entry.result == "ok" and entry.target == west.target
    assert (east.state()["desiredCount"], west.state()["desiredCount"]) == (4, 5)
    assert life.incidents.load(b.incident_id).audit[0].target.region == "us-west-2"
