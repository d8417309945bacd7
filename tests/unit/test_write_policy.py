"""The write policy as pure decisions: each refusal with its reason, and the invariants over any input.

No AWS here: the policy guard's I/O is tested in test_policy_guard.py. These run in milliseconds.
"""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.aws_ecs_service.domain import write_policy as policy
from agents.aws_ecs_service.domain.plan import Approval, Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.domain.write_policy import Refused, WriteScope

TARGET = ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api")
WEST = ServiceTarget.from_names("123456789012", "us-west-2", "prod", "api")  # the same names in another region
OTHER_ACCOUNT = ServiceTarget.from_names("210987654321", "us-east-1", "prod", "api")
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:{}"
ALLOWED = WriteScope.of(allow_write=True)


def step(action: str, target: ServiceTarget = TARGET, **params: Any) -> PlanStep:
    base = {"cluster": target.cluster_arn}
    if action.startswith("update_service"):
        base["service"] = target.service_arn
    return PlanStep(number=1, action=action, api_call=action, params={**base, **params}, expected_before={},
                    description=action)


def plan_of(*steps: PlanStep, target: ServiceTarget = TARGET) -> Plan:
    return Plan(incident_id="inc-1", target=target, root_cause="container-oom", title="t", summary="s",
                steps=list(steps))


def approved(plan: Plan, decision: str = "approved", **changes: Any) -> Approval:
    return Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id, decision=decision, decided_by="alice",
                    decided_at="2026-12-07T10:00:00+00:00", target=plan.target).model_copy(update=changes)


def service(desired: int = 4, revision: int = 62, target: ServiceTarget = TARGET, **more: Any) -> dict[str, Any]:
    return {"serviceArn": target.service_arn, "clusterArn": target.cluster_arn, "serviceName": target.service,
            "status": "ACTIVE", "desiredCount": desired, "taskDefinition": TD.format(revision),
            "deployments": [{"id": "ecs-svc/111", "status": "PRIMARY"}], **more}


def task_definition(revision: int, family: str = "api", status: str = "ACTIVE") -> dict[str, Any]:
    return {"taskDefinitionArn": TD.format(revision).replace("/api:", f"/{family}:"), "family": family,
            "status": status}


def refusal(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Refused) as caught:
        fn(*args, **kwargs)
    return str(caught.value)


# ---- before any AWS call ---------------------------------------------------------------------------
def test_a_request_needs_writes_on_the_cluster_writable_and_this_exact_plan_approved():
    scale = step("update_service_desired_count", desiredCount=5)
    plan = plan_of(scale)
    assert policy.check_request(plan, scale, ALLOWED, approved(plan)).decided_by == "alice"
    assert "allowWrite is off" in refusal(policy.check_request, plan, scale, WriteScope.of(False), approved(plan))
    assert "watched but not writable" in refusal(policy.check_request, plan, scale,
                                                 WriteScope.of(True, ["staging"]), approved(plan))
    assert policy.check_request(plan, scale, WriteScope.of(True, ["prod"]), approved(plan))
    assert "no approval for plan" in refusal(policy.check_request, plan, scale, ALLOWED, None)
    assert "was rejected by alice" in refusal(policy.check_request, plan, scale, ALLOWED, approved(plan, "rejected"))
    other = plan_of(step("update_service_desired_count", desiredCount=3))
    assert "no approval for plan" in refusal(policy.check_request, plan, scale, ALLOWED, approved(other))
    assert "not part of plan" in refusal(policy.check_request, plan, step("update_service_desired_count",
                                                                          desiredCount=3), ALLOWED, approved(plan))


@pytest.mark.attack("write policy invariants")
def test_an_approval_recorded_for_another_service_does_not_approve_this_one():
    scale = step("update_service_desired_count", desiredCount=5)
    plan = plan_of(scale)
    why = refusal(policy.check_request, plan, scale, ALLOWED, approved(plan, target=WEST))
    assert "the approval is for prod/api (account 123456789012, us-west-2)" in why


@pytest.mark.attack("write policy invariants")
def test_the_plan_hash_binds_the_exact_target():
    here = plan_of(step("update_service_desired_count", desiredCount=5))
    # the same-looking plan of the same-named service in another region or account is another plan
    west = Plan(**{**here.model_dump(exclude={"plan_hash"}), "target": WEST})
    other = Plan(**{**here.model_dump(exclude={"plan_hash"}), "target": OTHER_ACCOUNT})
    assert len({here.plan_hash, west.plan_hash, other.plan_hash}) == 3


@pytest.mark.parametrize(("params", "reason"), [
    ({"cluster": WEST.cluster_arn}, "is not the plan's target cluster"),
    ({"cluster": "prod"}, "is not the plan's target cluster"),  # a short name is not an identity
    ({"service": OTHER_ACCOUNT.service_arn}, "is not the plan's target service"),
    ({"service": "arn:aws:ecs:us-east-1:123456789012:service/prod/billing"}, "is not the plan's target service"),
    ({"forceNewDeployment": True}, "may not set forceNewDeployment"),
    ({"desiredCount": True}, "must be an integer"),
    ({"desiredCount": 0}, "never scales a service to 0 tasks"),
])
def test_a_step_that_names_anything_but_the_target_is_refused_with_the_reason(params, reason):
    bad = step("update_service_desired_count", **{"desiredCount": 5, **params})
    assert reason in refusal(policy.check_shape, TARGET, bad)


def test_task_definitions_and_tasks_are_full_arns_of_the_targets_account_and_region():
    assert "not a full ARN" in refusal(policy.check_shape, TARGET, step("update_service_task_definition",
                                                                        taskDefinition="api:61"))
    west_td = TD.format(61).replace("us-east-1", "us-west-2")
    assert "not a full ARN" in refusal(policy.check_shape, TARGET, step("run_task", taskDefinition=west_td))
    assert "not a full ARN" in refusal(policy.check_shape, TARGET, step("stop_task", task="abc123"))
    assert "exactly one task" in refusal(policy.check_shape, TARGET, step("run_task", taskDefinition=TD.format(61),
                                                                          count=2))


# ---- against what AWS shows -----------------------------------------------------------------------
def test_the_client_must_be_in_the_targets_account_and_region():
    policy.check_identity(TARGET, "123456789012", "us-east-1")
    assert "region us-west-2" in refusal(policy.check_identity, TARGET, "123456789012", "us-west-2")
    assert "account 210987654321" in refusal(policy.check_identity, TARGET, "210987654321", "us-east-1")


def test_the_described_service_must_be_the_target_itself():
    policy.check_service(TARGET, service())
    assert "not an ACTIVE service" in refusal(policy.check_service, TARGET, None)
    assert "not an ACTIVE service" in refusal(policy.check_service, TARGET, service(status="DRAINING"))
    assert "not the plan's" in refusal(policy.check_service, TARGET, service(target=WEST))


def test_desired_count_moves_by_exactly_one_and_never_to_zero():
    for wanted in (3, 5):
        assert "from the observed value" in policy.check_change(
            TARGET, step("update_service_desired_count", desiredCount=wanted), service(desired=4))
    for wanted in (2, 4, 6):
        assert "only ±1" in refusal(policy.check_change, TARGET, step("update_service_desired_count",
                                                                     desiredCount=wanted), service(desired=4))
    assert "never scales a service to 0" in refusal(policy.check_change, TARGET, step(
        "update_service_desired_count", desiredCount=0), service(desired=1))


def test_a_rollback_goes_to_another_active_revision_of_the_same_family():
    rollback = step("update_service_task_definition", taskDefinition=TD.format(61))
    assert "api:62 -> api:61" in policy.check_change(TARGET, rollback, service(), task_definition=task_definition(61))
    assert "already runs api:62" in refusal(policy.check_change, TARGET, rollback, service(),
                                            task_definition=task_definition(62))
    assert "of family 'billing'" in refusal(policy.check_change, TARGET, rollback, service(),
                                            task_definition=task_definition(12, family="billing"))
    assert "INACTIVE, not ACTIVE" in refusal(policy.check_change, TARGET, rollback, service(),
                                             task_definition=task_definition(61, status="INACTIVE"))


def test_compare_and_set_compares_task_definitions_by_full_arn():
    scale = step("update_service_desired_count", desiredCount=5).model_copy(
        update={"expected_before": {"taskDefinition": TD.format(62), "desiredCount": 4}})
    policy.check_expected(scale, service())
    same_name_elsewhere = service(taskDefinition=TD.format(62).replace("us-east-1", "eu-west-1"))
    assert "re-plan" in refusal(policy.check_expected, scale, same_name_elsewhere)
    assert "desiredCount is 3" in refusal(policy.check_expected, scale, service(desired=3))


def _task(**fields: Any) -> dict[str, Any]:
    return {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc", "clusterArn": TARGET.cluster_arn,
            "group": "service:api", "startedBy": "ecs-svc/111", "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING", **fields}


def test_only_a_running_task_the_services_own_deployment_started_may_be_stopped():
    stop = step("stop_task", task="arn:aws:ecs:us-east-1:123456789012:task/prod/abc")
    assert "started by ecs-svc/111" in policy.check_change(TARGET, stop, service(), task=_task())
    # a standalone task someone started with the service's group is not the service's
    assert "not by a deployment of api" in refusal(policy.check_change, TARGET, stop, service(),
                                                   task=_task(startedBy="alice"))
    assert "not to service api" in refusal(policy.check_change, TARGET, stop, service(),
                                           task=_task(group="service:billing"))
    assert "runs in" in refusal(policy.check_change, TARGET, stop, service(),
                                task=_task(clusterArn=WEST.cluster_arn))
    assert "already stopped" in refusal(policy.check_change, TARGET, stop, service(), task=_task(lastStatus="STOPPED"))
    assert "already stopped" in refusal(policy.check_change, TARGET, stop, service(),
                                        task=_task(desiredStatus="STOPPED"))
    assert "not found" in refusal(policy.check_change, TARGET, stop, service(), task=None)


def test_run_task_launches_like_the_service_or_not_at_all():
    network = {"awsvpcConfiguration": {"subnets": ["subnet-a"], "securityGroups": ["sg-a"]}}
    svc = service(launchType="FARGATE", platformVersion="1.4.0", networkConfiguration=network)
    run = step("run_task", taskDefinition=TD.format(62))
    assert "launched like the service's" in policy.check_change(TARGET, run, svc, task_definition=task_definition(62))
    assert policy.run_task_params(run, svc)["networkConfiguration"] == network
    foreign = step("run_task", taskDefinition=TD.format(62),
                   networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-attacker"]}})
    assert "networkConfiguration" in refusal(policy.check_change, TARGET, foreign, svc,
                                             task_definition=task_definition(62))
    for name, value in (("launchType", "EC2"), ("platformVersion", "1.3.0"),
                        ("capacityProviderStrategy", [{"capacityProvider": "FARGATE_SPOT"}])):
        odd = step("run_task", taskDefinition=TD.format(62), **{name: value})
        assert f"RunTask {name}" in refusal(policy.check_change, TARGET, odd, svc, task_definition=task_definition(62))


# ---- invariants over any plan, state and approval -------------------------------------------------------
targets = st.sampled_from([TARGET, WEST, OTHER_ACCOUNT])
counts = st.one_of(st.integers(min_value=-3, max_value=12), st.booleans())


@pytest.mark.attack("write policy invariants")
@given(observed=st.integers(min_value=0, max_value=10), wanted=counts, target=targets, approved_target=targets,
       allow=st.booleans(), decision=st.sampled_from(["approved", "rejected", "expired"]))
def test_no_desired_count_change_outside_plus_minus_one_or_to_zero_or_elsewhere_or_unapproved_ever_passes(
        observed, wanted, target, approved_target, allow, decision):
    scale = PlanStep(number=1, action="update_service_desired_count", api_call="x", description="x",
                     params={"cluster": target.cluster_arn, "service": target.service_arn, "desiredCount": wanted},
                     expected_before={"desiredCount": observed})
    plan = plan_of(scale)  # always a plan for TARGET
    approval = approved(plan, decision, target=approved_target)
    try:
        policy.check_request(plan, scale, WriteScope.of(allow), approval)
        policy.check_service(TARGET, service(desired=observed))
        policy.check_expected(scale, service(desired=observed))
        policy.check_change(TARGET, scale, service(desired=observed))
    except Refused:
        return
    assert allow and decision == "approved" and approved_target == TARGET and target == TARGET
    assert not isinstance(wanted, bool) and wanted >= 1 and abs(wanted - observed) == 1


@pytest.mark.attack("write policy invariants")
@given(family=st.sampled_from(["api", "billing", "api-worker"]), status=st.sampled_from(["ACTIVE", "INACTIVE"]),
       revision=st.integers(min_value=60, max_value=63), region=st.sampled_from(["us-east-1", "us-west-2"]))
def test_no_task_definition_change_to_another_family_region_or_inactive_revision_ever_passes(family, status,
                                                                                           revision, region):
    arn = TD.format(revision).replace("/api:", f"/{family}:").replace("us-east-1", region)
    rollback = step("update_service_task_definition", taskDefinition=arn)
    td = {"taskDefinitionArn": arn, "family": family, "status": status}
    try:
        policy.check_shape(TARGET, rollback)
        policy.check_change(TARGET, rollback, service(revision=62), task_definition=td)
    except Refused:
        return
    assert family == "api" and status == "ACTIVE" and region == "us-east-1" and revision != 62
