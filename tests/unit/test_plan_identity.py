"""What an approval binds to and what "the same service" means: the plan hash covers the exact target and every
step, and a ServiceTarget is one consistent service whichever ARN format named it. Each test is named for the
behaviour it protects."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.domain.plan import SKIPPED, AuditEntry, Plan, PlanStep, applied, plan_hash_of
from agents.aws_ecs_service.domain.target import ServiceTarget, TargetError, parse_ecs_arn

EAST = ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api")
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:61"


def rollback(**changes) -> PlanStep:
    step = PlanStep(number=1, action="update_service_task_definition", api_call="x", description="x",
                    params={"cluster": EAST.cluster_arn, "service": EAST.service_arn, "taskDefinition": TD},
                    expected_before={"taskDefinition": TD.replace("61", "62")})
    return step.model_copy(update=changes)


def test_the_hash_changes_with_every_part_of_the_target():
    base = plan_hash_of(EAST, [rollback()])
    for twin in (ServiceTarget.from_names("210987654321", "us-east-1", "prod", "api"),
                 ServiceTarget.from_names("123456789012", "us-west-2", "prod", "api"),
                 ServiceTarget.from_names("123456789012", "us-east-1", "staging", "api"),
                 ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api2"),
                 ServiceTarget.from_arns(EAST.cluster_arn, "arn:aws:ecs:us-east-1:123456789012:service/api")):
        assert plan_hash_of(twin, [rollback()]) != base, twin


def test_the_hash_changes_with_every_part_of_a_step_and_ignores_the_words():
    base = plan_hash_of(EAST, [rollback()])
    assert plan_hash_of(EAST, [rollback(params={**rollback().params, "taskDefinition": TD.replace("61", "60")})]) != base
    assert plan_hash_of(EAST, [rollback(expected_before={"taskDefinition": TD})]) != base
    assert plan_hash_of(EAST, [rollback(action="run_task")]) != base
    assert plan_hash_of(EAST, []) != base and plan_hash_of(EAST, [rollback(), rollback()]) != base
    # what a person reads does not change what is approved
    assert plan_hash_of(EAST, [rollback(api_call="other words", description="more words", undo="u")]) == base
    assert len(base) == 32 and int(base, 16) >= 0


def test_a_plans_hash_is_its_steps_and_target_hash_and_not_its_id_or_title():
    plan = Plan(incident_id="inc-1", target=EAST, root_cause="app-crash", title="t", summary="s", steps=[rollback()])
    assert plan.plan_hash == plan_hash_of(EAST, [rollback()])
    assert plan.model_copy(update={"incident_id": "inc-2", "title": "other"}).plan_hash == plan.plan_hash
    assert Plan.model_validate(plan.model_dump(mode="json")).plan_hash == plan.plan_hash  # survives storage


def test_the_legacy_and_the_new_service_arn_of_one_service_are_one_key():
    legacy = ServiceTarget.from_arns(EAST.cluster_arn, "arn:aws:ecs:us-east-1:123456789012:service/api")
    assert legacy.key == EAST.key == "aws:123456789012:us-east-1:prod/api"
    assert legacy.same_service(EAST) and EAST.same_service(legacy) and not EAST.same_service(None)
    assert (legacy.cluster, legacy.service, legacy.partition) == ("prod", "api", "aws")


@pytest.mark.parametrize(("cluster_arn", "service_arn", "why"), [
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-west-2:123456789012:service/prod/api",
     "different regions"),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:210987654321:service/prod/api",
     "different accounts"),
    ("arn:aws-cn:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:service/prod/api",
     "different partitions"),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:service/batch/api",
     "is not in cluster"),
    ("arn:aws:ecs:us-east-1:123456789012:service/prod/api", "arn:aws:ecs:us-east-1:123456789012:service/prod/api",
     "not a cluster ARN"),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
     "not a service ARN"),
    ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "arn:aws:ecs:us-east-1:123456789012:service/prod/",
     "not a service ARN"),
])
def test_a_target_is_one_consistent_service_or_refused_naming_what_differs(cluster_arn, service_arn, why):
    with pytest.raises(TargetError, match=why):
        ServiceTarget.from_arns(cluster_arn, service_arn)


def test_account_and_region_given_must_be_the_arns_own():
    for account, region in (("210987654321", "us-east-1"), ("123456789012", "us-west-2")):
        with pytest.raises(ValueError, match="is not the one of"):  # pydantic's ValidationError, a ValueError
            ServiceTarget(account=account, region=region, cluster_arn=EAST.cluster_arn, service_arn=EAST.service_arn)


@pytest.mark.parametrize(("account", "region", "cluster", "service"), [
    ("12345678901", "us-east-1", "prod", "api"), ("123456789012", "useast1", "prod", "api"),
    ("123456789012", "us-east-1", "prod/x", "api"), ("123456789012", "us-east-1", "prod", ""),
    ("123456789012", "us-east-1", "p" * 256, "api")])
def test_names_that_ecs_would_not_accept_make_no_target(account, region, cluster, service):
    with pytest.raises(TargetError):
        ServiceTarget.from_names(account, region, cluster, service)


def test_only_cluster_and_service_arns_parse():
    assert parse_ecs_arn(EAST.service_arn) == {"partition": "aws", "region": "us-east-1", "account": "123456789012",
                                               "kind": "service", "names": ["prod", "api"]}
    for other in ("", "prod", TD, "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
                  "arn:aws:ecs:us-east-1:1234:cluster/prod", "arn:aws:ec2:us-east-1:123456789012:cluster/prod",
                  "arn:aws:ecs:us-east-1:123456789012:service/a/b/c"):
        assert parse_ecs_arn(other) is None, other


def test_the_hash_of_a_plan_is_the_same_in_every_release():
    """An approval recorded before an upgrade must still match the same plan after it: the hash's material and
    encoding are fixed (target fields, each step's action, parameters and before, sorted compact JSON, SHA-256)."""
    assert plan_hash_of(EAST, [rollback()]) == "3887adb2112fd6846d1b10079458ca17"
    assert plan_hash_of(EAST, []) == "e84842cd836d2f3ccdad84d1abe6b463"


def test_a_target_built_from_names_has_the_current_arn_format_and_refusals_name_the_part():
    assert (EAST.cluster_arn, EAST.service_arn) == ("arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                                                    "arn:aws:ecs:us-east-1:123456789012:service/prod/api")
    china = ServiceTarget.from_names("123456789012", "cn-north-1", "prod", "api", partition="aws-cn")
    assert china.service_arn == "arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/api"
    for kwargs, message in (({"account": "1234"}, "account '1234' is not a valid ECS account"),
                            ({"region": "moon"}, "region 'moon' is not a valid ECS region"),
                            ({"cluster": ""}, "cluster '' is not a valid ECS cluster"),
                            ({"service": "a b"}, "service 'a b' is not a valid ECS service")):
        names = {"account": "123456789012", "region": "us-east-1", "cluster": "prod", "service": "api", **kwargs}
        with pytest.raises(TargetError) as refused:
            ServiceTarget.from_names(**names)
        assert str(refused.value) == message


@pytest.mark.parametrize(("cluster_arn", "message"), [
    ("prod", "not a cluster ARN: 'prod'"),
    ("arn:aws:ecs:us-east-1:123456789012:service/api", "not a cluster ARN: "
                                                       "'arn:aws:ecs:us-east-1:123456789012:service/api'"),
    ("arn:aws:ecs:us-west-2:123456789012:cluster/prod",
     "the cluster ARN and the service ARN name different regions: us-west-2 and us-east-1"),
])
def test_the_exact_reason_a_pair_of_arns_is_not_one_service(cluster_arn, message):
    with pytest.raises(TargetError) as refused:
        ServiceTarget.from_arns(cluster_arn, EAST.service_arn)
    assert str(refused.value) == message
    with pytest.raises(TargetError) as refused:
        ServiceTarget.from_arns(EAST.cluster_arn, "api")
    assert str(refused.value) == "not a service ARN: 'api'"


def test_a_target_from_a_described_service_is_that_service_and_a_row_without_arns_is_refused():
    described = {"serviceArn": EAST.service_arn, "clusterArn": EAST.cluster_arn, "serviceName": "api"}
    assert ServiceTarget.from_described(described) == EAST
    legacy = {**described, "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/api"}
    assert ServiceTarget.from_described(legacy).key == EAST.key
    for missing, why in (("serviceArn", "not a service ARN: ''"), ("clusterArn", "not a cluster ARN: ''")):
        with pytest.raises(TargetError) as refused:
            ServiceTarget.from_described({k: v for k, v in described.items() if k != missing})
        assert str(refused.value) == why


def audit(allowed: bool = True, result: str = "ok") -> AuditEntry:
    return AuditEntry(at="2026-12-07T10:00:00+00:00", incident_id="inc-1", plan_hash="h", operation="ecs:UpdateService",
                      params={}, allowed=allowed, reason="r", result=result)


def test_a_plan_is_in_place_only_when_every_attempted_step_was_allowed_and_took_effect():
    assert applied([audit()]) and applied([audit(), audit(result=SKIPPED)])
    assert not applied([])  # nothing attempted is nothing applied
    assert not applied([audit(), audit(allowed=False)])
    assert not applied([audit(), audit(result="pending")])
    assert not applied([audit(allowed=False, result="ok")])
