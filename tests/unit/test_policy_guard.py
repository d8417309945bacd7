"""The policy guard's I/O against moto's ECS: its client is built for the plan's own target (account credentials,
region), it writes only to that exact service, each refusal says why, retries never write twice, and the audit log
and approval store behave as the guard relies on. The decisions themselves are in test_write_policy.py."""
from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
from agents.aws_ecs_service.aws.policy_guard import PolicyGuard
from agents.aws_ecs_service.aws.session import SessionPool
from agents.aws_ecs_service.domain.approval import AlreadyDecided
from agents.aws_ecs_service.domain.plan import SKIPPED, Approval, AuditEntry, Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.domain.write_policy import WriteScope
from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
from tests.moto_ecs import OTHER_ACCOUNT, EcsService, assumed_credentials, pool_for

pytestmark = pytest.mark.slow  # moto ECS worlds per test (the decisions are test_write_policy.py, in ms)

WRITES = ("UpdateService", "StopTask", "RunTask")


class World:
    """prod/api in us-east-1 of account A (the target), with twins built when a test asks for them: prod/api in
    us-west-2 and in account B."""

    def __init__(self, pool: SessionPool | None = None, scope: WriteScope | None = None, audit_path: Any = None):
        self.east = EcsService(boto3.session.Session(), "us-east-1")
        self.pool = pool or pool_for()
        self.approvals = LocalApprovalStore()
        self.audit = LocalAuditLog(audit_path)
        self.guard = PolicyGuard(self.pool.for_target, scope or WriteScope.of(True), self.approvals, self.audit)
        self.writes: list[tuple[str, dict[str, Any]]] = []
        for ctx_region in ("us-east-1", "us-west-2"):  # every write any pooled client sends, wherever it goes
            self.pool.context(ctx_region).client("ecs").meta.events.register("provide-client-params.ecs", self._seen)

    @cached_property
    def west(self) -> EcsService:
        return EcsService(boto3.session.Session(), "us-west-2")

    @cached_property
    def other_credentials(self) -> dict[str, str]:
        return assumed_credentials(OTHER_ACCOUNT)

    @cached_property
    def other(self) -> EcsService:
        return EcsService(boto3.session.Session(**self.other_credentials), "us-east-1")

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in WRITES:
            self.writes.append((model.name, dict(params)))

    def plan(self, action: str, target: ServiceTarget | None = None, before: dict[str, Any] | None = None,
             **params: Any) -> Plan:
        target = target or self.east.target
        base = {"cluster": target.cluster_arn}
        if action.startswith("update_service"):
            base["service"] = target.service_arn
        step = PlanStep(number=1, action=action, api_call=action, params={**base, **params},
                        expected_before=before or {}, description=action)
        return Plan(incident_id="inc-1", target=target, root_cause="container-oom", title="t", summary="s",
                    steps=[step])

    def approve(self, plan: Plan, decision: str = "approved") -> Plan:
        self.approvals.record(Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id, decision=decision,
                                       decided_by="alice", decided_at="2026-12-07T10:00:00+00:00"))
        return plan

    def run(self, plan: Plan) -> AuditEntry:
        return self.guard.execute(plan, plan.steps[0], "ecs-agent")

    def refused(self, plan: Plan, fragment: str) -> AuditEntry:
        entry = self.run(plan)
        assert not entry.allowed and entry.result == "refused", entry
        assert fragment in entry.reason, entry.reason
        assert self.writes == []
        assert self.audit.list()[-1] == entry
        return entry


@pytest.fixture
def world(aws_env):
    with mock_aws():
        yield World()


def scale_to(world: World, count: int, target: ServiceTarget | None = None) -> Plan:
    return world.plan("update_service_desired_count", target, {"desiredCount": 4}, desiredCount=count)


def test_an_approved_rollback_is_written_once_to_the_target_and_audited(world):
    plan = world.approve(world.plan("update_service_task_definition", before={"taskDefinition": world.east.arns[3]},
                                    taskDefinition=world.east.arns[2]))
    entry = world.run(plan)
    assert entry.allowed and entry.result == "ok", entry
    assert "approved by alice" in entry.reason and "api:3 -> api:2" in entry.reason
    assert entry.target == world.east.target and entry.before["taskDefinition"] == world.east.arns[3]
    assert world.writes == [("UpdateService", {"cluster": world.east.target.cluster_arn,
                                               "service": world.east.target.service_arn,
                                               "taskDefinition": world.east.arns[2]})]
    assert world.east.state()["taskDefinition"] == world.east.arns[2]
    assert world.west.state()["taskDefinition"] == world.west.arns[3]  # the twin is untouched


@pytest.mark.attack("target identity")
def test_a_plan_for_us_west_2_is_written_in_us_west_2_only(world):
    plan = world.approve(scale_to(world, 5, world.west.target))
    assert world.run(plan).result == "ok"
    assert world.west.state()["desiredCount"] == 5 and world.east.state()["desiredCount"] == 4


@pytest.mark.attack("target identity")
def test_a_plan_for_another_account_uses_that_accounts_credentials_or_nothing(aws_env):
    with mock_aws():
        world = World()
        plan = world.approve(scale_to(world, 5, world.other.target))
        # the default chain is account A: the guard refuses before any write instead of changing A's prod/api
        world.refused(plan, "credentials are for account 123456789012")
        assert world.east.state()["desiredCount"] == 4 and world.other.state()["desiredCount"] == 4
        # configured with the other account's credentials (an assumed role), the change lands there only
        reaching = World(pool=pool_for({OTHER_ACCOUNT: world.other_credentials}))
        plan = reaching.approve(scale_to(reaching, 5, reaching.other.target))
        assert reaching.run(plan).result == "ok"
        assert reaching.other.state()["desiredCount"] == 5 and reaching.east.state()["desiredCount"] == 4


@pytest.mark.attack("target identity")
def test_a_client_for_the_wrong_region_is_refused_before_any_write(world):
    plan = world.approve(scale_to(world, 5))
    world.guard.sessions = lambda _target: world.pool.context("us-west-2")  # a mis-built client
    world.refused(plan, "client is for region us-west-2")
    assert world.east.state()["desiredCount"] == 4 and world.west.state()["desiredCount"] == 4


def test_refused_when_writes_are_off_or_the_cluster_is_not_writable(aws_env):
    with mock_aws():
        off = World(scope=WriteScope.of(False))
        off.refused(off.approve(scale_to(off, 5)), "allowWrite is off")
        watch_only = World(scope=WriteScope.of(True, ["staging"]))
        watch_only.refused(watch_only.approve(scale_to(watch_only, 5)), "watched but not writable")


def test_refused_without_this_exact_approval(world):
    world.refused(scale_to(world, 5), "no approval for plan")
    world.approve(scale_to(world, 5, world.west.target))  # the same-looking plan of the twin is another plan
    world.refused(scale_to(world, 5), "no approval for plan")
    world.refused(world.approve(scale_to(world, 3), decision="rejected"), "was rejected by alice")


def test_desired_count_refusals_say_why(world):
    world.refused(world.approve(scale_to(world, 6)), "only ±1 from the observed value")
    world.refused(world.approve(scale_to(world, 0)), "never scales a service to 0")
    down = world.approve(scale_to(world, 3))
    assert world.run(down).result == "ok" and world.east.state()["desiredCount"] == 3


def test_rollback_refusals_say_why(world):
    billing = world.east.ecs.describe_task_definition(taskDefinition="billing")["taskDefinition"]["taskDefinitionArn"]
    world.refused(world.approve(world.plan("update_service_task_definition", taskDefinition=billing)),
                  "only a revision of the same family")
    world.east.ecs.deregister_task_definition(taskDefinition=world.east.arns[2])
    world.refused(world.approve(world.plan("update_service_task_definition", taskDefinition=world.east.arns[2])),
                  "not ACTIVE")
    world.refused(world.approve(world.plan("update_service_task_definition", taskDefinition=world.east.arns[3])),
                  "already runs api:3")


def test_refused_when_the_service_changed_behind_the_guards_back(world):
    plan = world.approve(scale_to(world, 5))
    world.east.ecs.update_service(cluster="prod", service="api", desiredCount=3)  # someone else
    world.refused(plan, "desiredCount is 3, the plan expected 4; re-plan")


def test_a_retry_after_success_does_not_write_twice_even_from_another_process(world, tmp_path):
    plan = world.approve(scale_to(world, 5))
    world.guard = PolicyGuard(world.pool.for_target, WriteScope.of(True), world.approvals,
                              LocalAuditLog(tmp_path / "audit.jsonl"))
    first, again = world.run(plan), world.run(plan)
    other = PolicyGuard(world.pool.for_target, WriteScope.of(True), world.approvals,
                        LocalAuditLog(tmp_path / "audit.jsonl"))
    third = other.execute(plan, plan.steps[0], "workflow-retry")
    assert first.result == "ok" and again.result == third.result == SKIPPED and again.allowed
    assert len(world.writes) == 1
    assert [e.result for e in LocalAuditLog(tmp_path / "audit.jsonl").list("inc-1")] == ["ok", SKIPPED, SKIPPED]


def test_an_applied_step_whose_result_was_undone_is_refused_not_reapplied(world):
    plan = world.approve(scale_to(world, 5))
    assert world.run(plan).result == "ok"
    world.east.ecs.update_service(cluster="prod", service="api", desiredCount=4)
    entry = world.run(plan)
    assert not entry.allowed and "no longer shows its result" in entry.reason
    assert [w for w in world.writes if w[1].get("desiredCount") == 5] == world.writes[:1]


@pytest.mark.parametrize("action", ["stop_task", "run_task"])
def test_a_cut_off_stop_or_run_task_is_not_taken_as_done(world, action):
    """An attempt audited "pending" and never finished: its effect cannot be seen on the service, so a person
    must check; the retry neither skips it as applied nor writes again."""
    params = {"task": world.east.task()} if action == "stop_task" else {"taskDefinition": world.east.arns[3]}
    plan = world.approve(world.plan(action, **params))
    world.audit.append(AuditEntry(at="2026-12-07T10:00:00+00:00", incident_id="inc-1", plan_hash=plan.plan_hash,
                                  step=1, operation=action, params=params, allowed=True, reason="allowed",
                                  result="pending"))
    entry = world.refused(plan, "was cut off after it was allowed")
    assert entry.result != SKIPPED


def test_stop_task_only_of_a_task_the_services_own_deployment_started(world):
    standalone = world.east.task(started_by="alice", group="service:api")  # RunTask with the service's group
    world.refused(world.approve(world.plan("stop_task", task=standalone)), "not by a deployment of api")
    elsewhere = world.east.task(cluster="batch", group="service:api")
    assert world.run(world.approve(world.plan("stop_task", task=elsewhere))).reason in (
        f"task {elsewhere.rsplit('/', 1)[-1]} runs in {world.east.target.cluster_arn.replace('prod', 'batch')}, not in "
        f"{world.east.target.cluster_arn}", "the task was not found")
    own = world.east.task()
    entry = world.run(world.approve(world.plan("stop_task", task=own)))
    assert entry.result == "ok" and entry.after["lastStatus"] == "STOPPED"
    assert [w[0] for w in world.writes] == ["StopTask"]
    world.writes.clear()
    stopped_again = world.refused(world.approve(world.plan("stop_task", task=own, reason="again")), "already stopped")
    assert stopped_again.params["task"] == own


def test_run_task_starts_one_task_of_the_family_launched_like_the_service(world):
    world.refused(world.approve(world.plan("run_task", taskDefinition=world.east.arns[3], launchType="FARGATE")),
                  "RunTask launchType 'FARGATE' is not the service's own ('EC2')")
    world.east.container_instance("prod")  # capacity for an EC2 task
    one = world.approve(world.plan("run_task", taskDefinition=world.east.arns[3]))
    entry = world.run(one)
    assert entry.result == "ok", entry
    assert len(entry.params["clientToken"]) == 64 and entry.params["launchType"] == "EC2"
    assert entry.params["startedBy"] == f"ecs-agent/{one.plan_hash[:16]}"
    assert world.run(one).result == SKIPPED
    assert [w[0] for w in world.writes] == ["RunTask"]


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
