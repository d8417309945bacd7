"""The policy guard against a played scenario: every refusal of the write policy, idempotent retries,
and the audit log / approval store it relies on."""
from __future__ import annotations

import boto3
import pytest

from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
from agents.aws_ecs_service.aws.policy_guard import SKIPPED, PolicyGuard
from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.operations.approvals import AlreadyDecided, LocalApprovalStore
from agents.aws_ecs_service.operations.plan_model import Approval, AuditEntry, Plan, PlanStep
from tests.conftest import load_scenario

TARGET = {"region": "us-east-1", "cluster": "prod", "service": "api"}
API_62 = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:62"
OOM_TASK = "c26d3505920158f78f9d197a42cb9e14"
BILLING_TASK = "06184188424058a8b91805407a423f12"


def step(action: str, params: dict, before: dict | None = None) -> PlanStep:
    return PlanStep(number=1, action=action, api_call=f"ecs:{action}", params={"cluster": "prod", **params},
                    expected_before=before or {}, description=action)


def plan_of(*steps: PlanStep, incident: str = "inc-1") -> Plan:
    return Plan(incident_id=incident, target=TARGET, root_cause="container-oom", title="t", summary="s",
                steps=list(steps))


ROLLBACK = step("update_service_task_definition", {"service": "api", "taskDefinition": "api:61"},
                {"taskDefinition": API_62})
SCALE = step("update_service_desired_count", {"service": "api", "desiredCount": 5},
             {"desiredCount": 4, "taskDefinition": API_62})


class World:
    def __init__(self, fake, allow_write: bool = True, audit_path=None):
        self.fake = fake
        self.ctx = AwsContext(region="us-east-1")
        self.approvals = LocalApprovalStore()
        self.audit = LocalAuditLog(audit_path)
        self.guard = PolicyGuard(self.ctx, allow_write, self.approvals, self.audit)

    def approve(self, plan: Plan, decision: str = "approved") -> Plan:
        self.approvals.record(Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id, decision=decision,
                                       decided_by="alice", decided_at="2025-01-10T12:00:00+00:00"))
        return plan

    def writes(self) -> list[dict]:
        return [c for c in self.fake.calls if c["write"]]

    def service(self) -> dict:
        return self.ctx.client("ecs").describe_services(cluster="prod", services=["api"])["services"][0]


@pytest.fixture
def world(play_scenario):
    return World(play_scenario("oom-after-deploy"))


def refused(world: World, plan: Plan, fragment: str) -> None:
    entry = world.guard.execute(plan, plan.steps[0], "ecs-agent")
    assert not entry.allowed and entry.result == "refused", entry
    assert fragment in entry.reason, entry.reason
    assert world.writes() == []
    assert world.audit.list()[-1] == entry


def test_allowed_rollback_is_written_once_and_audited(world):
    plan = world.approve(plan_of(ROLLBACK))
    entry = world.guard.execute(plan, plan.steps[0], "ecs-agent")
    assert entry.allowed and entry.result == "ok", entry
    assert "approved by alice" in entry.reason and "api:62 -> api:61" in entry.reason
    assert entry.before["taskDefinition"] == API_62 and entry.after["taskDefinition"].endswith("api:61")
    assert [c["params"].get("taskDefinition") for c in world.writes()] == ["api:61"]
    assert world.service()["taskDefinition"].endswith("api:61")


def test_refused_when_writes_are_off(play_scenario):
    world = World(play_scenario("oom-after-deploy"), allow_write=False)
    refused(world, world.approve(plan_of(ROLLBACK)), "allowWrite is off")


def test_refused_without_approval(world):
    refused(world, plan_of(ROLLBACK), "no approval for plan")


def test_refused_with_an_approval_for_another_plan(world):
    world.approve(plan_of(SCALE))
    world.approve(plan_of(ROLLBACK, incident="inc-other"))  # same plan, another incident
    refused(world, plan_of(ROLLBACK), "no approval for plan")


def test_refused_when_the_plan_was_rejected(world):
    refused(world, world.approve(plan_of(ROLLBACK), decision="rejected"), "was rejected by alice")


@pytest.mark.parametrize("count", [6, 2, 0])
def test_refused_desired_count_beyond_plus_minus_one(world, count):
    bad = step("update_service_desired_count", {"service": "api", "desiredCount": count}, {"desiredCount": 4})
    refused(world, world.approve(plan_of(bad)), "only ±1 from the observed value")


def test_minus_one_is_allowed(world):
    down = step("update_service_desired_count", {"service": "api", "desiredCount": 3}, {"desiredCount": 4})
    assert world.guard.execute(world.approve(plan_of(down)), down, "ecs-agent").result == "ok"
    assert world.service()["desiredCount"] == 3


def test_refused_revision_of_another_family(world):
    other = step("update_service_task_definition", {"service": "api", "taskDefinition": "billing:12"},
                 {"taskDefinition": API_62})
    refused(world, world.approve(plan_of(other)), "only a revision of the same family")


def test_refused_inactive_revision(play_scenario):
    scenario = load_scenario("oom-after-deploy")
    scenario["ecs"]["taskDefinitions"][0]["status"] = "INACTIVE"  # api:61
    world = World(play_scenario(scenario))
    refused(world, world.approve(plan_of(ROLLBACK)), "not ACTIVE")


def test_refused_parameters_off_the_allow_list_and_other_targets(world):
    forced = step("update_service_task_definition",
                  {"service": "api", "taskDefinition": "api:61", "forceNewDeployment": True})
    refused(world, world.approve(plan_of(forced)), "may not set forceNewDeployment")
    elsewhere = step("update_service_desired_count", {"service": "billing", "desiredCount": 3})
    refused(world, world.approve(plan_of(elsewhere)), "not the plan's target service")


def test_refused_when_the_service_changed_behind_the_guards_back(world):
    plan = world.approve(plan_of(SCALE))
    direct = boto3.client("ecs", region_name="us-east-1")  # someone else, straight to the (fake) API
    direct.update_service(cluster="prod", service="api", desiredCount=3)
    world.fake.calls.clear()
    refused(world, plan, "re-plan")


def test_a_retry_after_success_does_not_write_twice(world, tmp_path):
    plan = world.approve(plan_of(ROLLBACK))
    world.guard = PolicyGuard(world.ctx, True, world.approvals, LocalAuditLog(tmp_path / "audit.jsonl"))
    first = world.guard.execute(plan, plan.steps[0], "ecs-agent")
    again = world.guard.execute(plan, plan.steps[0], "ecs-agent")
    # another process (a fresh guard on the same durable audit log) retries too
    other = PolicyGuard(AwsContext(region="us-east-1"), True, world.approvals, LocalAuditLog(tmp_path / "audit.jsonl"))
    third = other.execute(plan, plan.steps[0], "workflow-retry")
    assert first.result == "ok" and again.result == third.result == SKIPPED and again.allowed
    assert len(world.writes()) == 1
    assert [e.result for e in LocalAuditLog(tmp_path / "audit.jsonl").list("inc-1")] == ["ok", SKIPPED, SKIPPED]


def test_applied_step_whose_result_was_undone_is_refused_not_reapplied(world):
    plan = world.approve(plan_of(SCALE))
    assert world.guard.execute(plan, plan.steps[0], "ecs-agent").result == "ok"
    boto3.client("ecs", region_name="us-east-1").update_service(cluster="prod", service="api", desiredCount=4)
    entry = world.guard.execute(plan, plan.steps[0], "ecs-agent")
    assert not entry.allowed and "re-plan" in entry.reason
    assert len([c for c in world.writes() if c["params"].get("desiredCount") == 5]) == 1


def test_stop_task_only_of_the_target_service(world):
    foreign = step("stop_task", {"task": BILLING_TASK})
    refused(world, world.approve(plan_of(foreign)), "not to service 'api'")
    running = world.ctx.client("ecs").list_tasks(cluster="prod", serviceName="api")["taskArns"][0]
    own = step("stop_task", {"task": running})
    entry = world.guard.execute(world.approve(plan_of(own)), own, "ecs-agent")
    assert entry.result == "ok" and entry.after["lastStatus"] == "STOPPED"
    assert [c["op"] for c in world.writes()] == ["StopTask"]


def test_run_task_only_one_of_the_services_family_with_a_client_token(world):
    many = step("run_task", {"taskDefinition": "api:61", "count": 2})
    refused(world, world.approve(plan_of(many)), "exactly one task")
    foreign = step("run_task", {"taskDefinition": "billing:12"})
    refused(world, world.approve(plan_of(foreign)), "only a revision of the same family")
    one = step("run_task", {"taskDefinition": "api:61"})
    plan = world.approve(plan_of(one))
    entry = world.guard.execute(plan, one, "ecs-agent")
    assert entry.result == "ok" and len(entry.params["clientToken"]) == 64
    assert entry.params["startedBy"] == f"ecs-agent/{plan.plan_hash[:16]}"
    assert world.guard.execute(plan, one, "ecs-agent").result == SKIPPED
    assert [c["op"] for c in world.writes()] == ["RunTask"]


def test_a_step_not_in_the_plan_is_refused(world):
    plan = world.approve(plan_of(ROLLBACK))
    entry = world.guard.execute(plan, SCALE, "ecs-agent")
    assert not entry.allowed and "not part of plan" in entry.reason and world.writes() == []


def test_approval_decisions_are_final_and_durable(tmp_path):
    store = LocalApprovalStore(tmp_path / "approvals.json")
    approval = Approval(plan_hash="h1", incident_id="inc-1", decision="approved", decided_by="alice",
                        decided_at="2025-01-10T12:00:00+00:00")
    store.record(approval)
    with pytest.raises(AlreadyDecided, match="already approved by alice"):
        LocalApprovalStore(tmp_path / "approvals.json").record(approval.model_copy(update={"decision": "rejected"}))
    assert LocalApprovalStore(tmp_path / "approvals.json").get("inc-1", "h1") == approval
    assert store.get("inc-1", "h2") is None and store.get("inc-2", "h1") is None


@pytest.mark.parametrize("on_disk", [False, True])
def test_audit_log_in_memory_and_on_disk(tmp_path, on_disk):
    path = tmp_path / "a.jsonl" if on_disk else None
    log = LocalAuditLog(path)
    entry = AuditEntry(at="2025-01-10T12:00:00+00:00", incident_id="inc-1", plan_hash="h1", step=1, actor="a",
                       operation="ecs:UpdateService", params={}, allowed=True, reason="r", result="ok")
    log.append(entry.model_copy(update={"allowed": False, "result": "refused", "attempt": "refused-one"}))
    assert not log.has_applied("inc-1", "h1", 1)
    log.append(entry.model_copy(update={"result": "pending"}))  # written before the call, same attempt
    assert not log.has_applied("inc-1", "h1", 1)
    log.append(entry)
    assert log.has_applied("inc-1", "h1", 1) and not log.has_applied("inc-1", "h1", 2)
    assert not log.has_applied("inc-1", "h2", 1) and not log.has_applied("inc-2", "h1", 1)
    assert [(e.allowed, e.result) for e in log.list()] == [(False, "refused"), (True, "ok")]
    assert log.list("inc-x") == []
    if on_disk:
        assert LocalAuditLog(path).list() == log.list()
