"""The write policy's words and its allowed edges: every refusal says exactly why (people read it at the approval
page and in the audit log, and the reports quote it), and the changes it must allow are allowed."""
from __future__ import annotations

from typing import Any

import pytest

from agents.aws_ecs_service.domain import write_policy as policy
from agents.aws_ecs_service.domain.write_policy import Refused, WriteScope
from tests.unit.test_write_policy import TARGET, TD, WEST, approved, plan_of, service, step, task_definition

LEGACY_SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/api"  # the legacy format names no cluster


def reason(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Refused) as caught:
        fn(*args, **kwargs)
    return str(caught.value)


def _task(**fields: Any) -> dict[str, Any]:
    return {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc", "clusterArn": TARGET.cluster_arn,
            "group": "service:api", "startedBy": "ecs-svc/111", "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
            **fields}


STOP = step("stop_task", task="arn:aws:ecs:us-east-1:123456789012:task/prod/abc")
ROLLBACK = step("update_service_task_definition", taskDefinition=TD.format(61))


@pytest.mark.parametrize(("call", "expected"), [
    (lambda: WriteScope.of(False).blocked_reason(TARGET), "writes are disabled (allowWrite is off): nothing was changed"),
    (lambda: WriteScope.of(True, ["staging", "dev"]).blocked_reason(TARGET),
     "cluster prod is watched but not writable (writable clusters: dev, staging): the plan is for a person to apply"),
    (lambda: WriteScope.of(True, []).blocked_reason(TARGET),
     "cluster prod is watched but not writable (writable clusters: none): the plan is for a person to apply"),
])
def test_why_nothing_may_be_written_to_a_cluster(call, expected):
    assert call() == expected


@pytest.mark.parametrize(("fn", "args", "expected"), [
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount=5).model_copy(
        update={"action": "delete_service"})), "delete_service is not an allowed action"),
    (policy.check_shape, (TARGET, step("update_service_desired_count")),
     "ecs:UpdateService needs desiredCount"),
    (policy.check_shape, (TARGET, step("run_task")), "ecs:RunTask needs taskDefinition"),
    (policy.check_shape, (TARGET, step("update_service_desired_count").model_copy(update={"params": {}})),
     "ecs:UpdateService needs cluster, desiredCount, service"),
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount=5, forceNewDeployment=True,
                                       deploymentConfiguration={})),
     "ecs:UpdateService may not set deploymentConfiguration, forceNewDeployment (not on the allow-list)"),
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount=5).model_copy(
        update={"params": {"cluster": WEST.cluster_arn, "service": TARGET.service_arn, "desiredCount": 5}})),
     f"cluster '{WEST.cluster_arn}' is not the plan's target cluster {TARGET.cluster_arn}"),
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount=5, service=WEST.service_arn)),
     f"service '{WEST.service_arn}' is not the plan's target service {TARGET.service_arn}"),
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount="5")),
     "desiredCount must be an integer, got '5'"),
    (policy.check_shape, (TARGET, step("update_service_desired_count", desiredCount=0)),
     "desiredCount 0: the agent never scales a service to 0 tasks"),
    (policy.check_shape, (TARGET, step("run_task", taskDefinition=TD.format(62), count=3)),
     "RunTask may start exactly one task, not 3"),
    (policy.check_shape, (TARGET, step("update_service_task_definition", taskDefinition="api:61")),
     "task definition 'api:61' is not a full ARN in prod/api (account 123456789012, us-east-1): only the "
     "target's own account and region may be changed"),
    (policy.check_shape, (TARGET, step("stop_task", task="abc")),
     "task 'abc' is not a full ARN in prod/api (account 123456789012, us-east-1): only the target's own account "
     "and region may be changed"),
    (policy.check_identity, (TARGET, "123456789012", "us-west-2"),
     "the AWS client is for region us-west-2, the plan's service is in us-east-1"),
    (policy.check_identity, (TARGET, "210987654321", "us-east-1"),
     "the AWS credentials are for account 210987654321, the plan's service is in 123456789012"),
    (policy.check_service, (TARGET, None), "prod/api (account 123456789012, us-east-1) is not an ACTIVE service"),
    (policy.check_service, (TARGET, service(serviceArn=LEGACY_SERVICE)),
     f"AWS answered with service {LEGACY_SERVICE} of {TARGET.cluster_arn}, not the plan's {TARGET.service_arn}"),
    (policy.check_expected, (step("update_service_desired_count", desiredCount=5).model_copy(
        update={"expected_before": {"desiredCount": 4}}), service(desired=3)),
     "the service changed since the plan was made: desiredCount is 3, the plan expected 4; re-plan"),
    (policy.check_change, (TARGET, step("update_service_desired_count", desiredCount=6), service(desired=4)),
     "desiredCount 4 -> 6 is a change of +2: only ±1 from the observed value is allowed"),
    (policy.check_change, (TARGET, step("update_service_desired_count", desiredCount=2), service(desired=True)),
     "the service's desiredCount True cannot be read: nothing to compare against"),
    (policy.check_change, (TARGET, step("update_service_desired_count", desiredCount=2), service(desired=None)),
     "the service's desiredCount None cannot be read: nothing to compare against"),
    (policy.check_change, (TARGET, ROLLBACK, service()), "the task definition cannot be described"),
    (policy.check_change, (TARGET, ROLLBACK, service(taskDefinition=None), None, task_definition(61)),
     "the service's task definition cannot be read: no family to compare against"),
    (policy.check_change, (TARGET, STOP, service(), None), "the task was not found"),
    (policy.check_change, (TARGET, ROLLBACK, service(), None, task_definition(12, family="billing")),
     "billing:12 is of family 'billing', the service runs 'api': only a revision of the same family is allowed"),
    (policy.check_change, (TARGET, ROLLBACK, service(), None, task_definition(61, status="INACTIVE")),
     "api:61 is INACTIVE, not ACTIVE"),
    (policy.check_change, (TARGET, ROLLBACK, service(), None, task_definition(62)),
     "the service already runs api:62: nothing to change"),
    (policy.check_change, (TARGET, STOP, service(), _task(clusterArn=WEST.cluster_arn)),
     f"task abc runs in {WEST.cluster_arn}, not in {TARGET.cluster_arn}"),
    (policy.check_change, (TARGET, STOP, service(), _task(group="family:api")),
     "task abc belongs to 'family:api', not to service api"),
    (policy.check_change, (TARGET, STOP, service(deployments=[]), _task(startedBy="alice")),
     "task abc was started by 'alice', not by a deployment of api (none): only the service's own tasks may be "
     "stopped"),
    (policy.check_change, (TARGET, STOP, service(deployments=[{"id": "ecs-svc/2"}, {"id": "ecs-svc/1"}]),
                           _task(startedBy="alice")),
     "task abc was started by 'alice', not by a deployment of api (ecs-svc/1, ecs-svc/2): only the service's own "
     "tasks may be stopped"),
    (policy.check_change, (TARGET, step("run_task", taskDefinition=TD.format(62), platformVersion="1.3.0"),
                           service(platformVersion="1.4.0"), None, task_definition(62)),
     "RunTask platformVersion '1.3.0' is not the service's own ('1.4.0'): a task of the family runs the way the "
     "service runs its tasks"),
])
def test_every_refusal_says_exactly_why(fn, args, expected):
    assert reason(fn, *args) == expected


def test_an_approval_decided_otherwise_or_for_another_service_says_whose_and_when():
    scale = step("update_service_desired_count", desiredCount=5)
    plan = plan_of(scale)
    assert reason(policy.check_approval, plan, approved(plan, "expired")) == (
        f"plan {plan.plan_hash} was expired by alice at 2026-12-07T10:00:00+00:00: nothing may be applied")
    assert reason(policy.check_approval, plan, approved(plan).model_copy(update={"incident_id": "inc-2"})) == (
        f"no approval for plan {plan.plan_hash} of incident inc-1")
    assert reason(policy.check_approval, plan, approved(plan, target=WEST)) == (
        "the approval is for prod/api (account 123456789012, us-west-2), the plan changes prod/api (account "
        "123456789012, us-east-1)")
    policy.check_approval(plan, approved(plan).model_copy(update={"target": None}))  # recorded before targets


def test_what_the_policy_allows_is_allowed_and_says_what_it_allows():
    up = step("update_service_desired_count", desiredCount=1)
    assert policy.check_change(TARGET, up, service(desired=0)) == "desiredCount 0 -> 1 (+1 from the observed value)"
    down = step("update_service_desired_count", desiredCount=1)
    assert policy.check_change(TARGET, down, service(desired=2)) == "desiredCount 2 -> 1 (-1 from the observed value)"
    policy.check_shape(TARGET, up)  # one task is the smallest service, not zero
    assert policy.check_change(TARGET, ROLLBACK, service(), None, task_definition(61)) == (
        "taskDefinition api:62 -> api:61 (ACTIVE, same family)")
    assert policy.check_change(TARGET, STOP, service(), _task()) == (
        "one task of service api (abc, started by ecs-svc/111)")
    run = step("run_task", taskDefinition=TD.format(62))
    assert policy.check_change(TARGET, run, service(), None, task_definition(62)) == (
        "one task of family api (api:62), launched like the service's")
    same = step("run_task", taskDefinition=TD.format(62), launchType="FARGATE", platformVersion="1.4.0")
    assert policy.check_change(TARGET, same, service(launchType="FARGATE", platformVersion="1.4.0"), None,
                               task_definition(62)) == "one task of family api (api:62), launched like the service's"


def test_run_task_takes_the_services_capacity_providers_or_its_launch_type_never_both():
    providers = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    run = step("run_task", taskDefinition=TD.format(62))
    both = policy.run_task_params(run, service(launchType="FARGATE", capacityProviderStrategy=providers))
    assert both["capacityProviderStrategy"] == providers and "launchType" not in both
    plain = policy.run_task_params(run, service(launchType="FARGATE", platformVersion="LATEST"))
    assert (plain["launchType"], plain["platformVersion"]) == ("FARGATE", "LATEST")
    assert "networkConfiguration" not in plain and "capacityProviderStrategy" not in plain
    assert policy.run_task_params(run, service(launchType="", platformVersion=None)) == run.params
    own = step("run_task", taskDefinition=TD.format(62), capacityProviderStrategy=providers)
    assert policy.run_task_params(own, service()) == own.params  # providers and no launch type anywhere
    assert run.params == step("run_task", taskDefinition=TD.format(62)).params  # the step itself is left as it was


def test_a_service_task_or_revision_is_named_by_the_last_part_of_its_arn():
    assert policy.short_name(TD.format(61)) == "api:61" and policy.short_name("") == ""
    assert policy.short_name("arn:aws:ecs:us-east-1:123456789012:task/prod/abc") == "abc"
    assert policy.family_of(TD.format(61)) == "api" and policy.family_of("my-api:7") == "my-api"
    assert policy.shows_result(STOP, service()) and not policy.shows_result(
        step("update_service_desired_count", desiredCount=5), service(desired=4))
    assert policy.shows_result(step("update_service_desired_count", desiredCount=5), service(desired=5))
    assert policy.shows_result(ROLLBACK, service(taskDefinition=TD.format(61)))
    assert not policy.shows_result(ROLLBACK, service())
