"""How long a verification waits, derived from the service's load balancer (moto's ELBv2): a long deregistration
delay lengthens it, the deployment's ceiling caps it, a service without a load balancer keeps the configured window."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.session import SessionPool
from agents.aws_ecs_service.operations.verification_window import DEFAULT_DEREGISTRATION_DELAY_S, verification_window


@pytest.fixture
def target_group(aws_env):
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        elbv2 = boto3.client("elbv2", region_name="us-east-1")
        group = elbv2.create_target_group(Name="api", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                          HealthCheckIntervalSeconds=30, HealthyThresholdCount=5)["TargetGroups"][0]
        elbv2.modify_target_group_attributes(TargetGroupArn=group["TargetGroupArn"], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "900"}])
        yield group


def evidence(groups: list[dict], grace: int = 60) -> dict:
    return {"service": {"healthCheckGracePeriodSeconds": grace}, "load_balancers": {"target_groups": groups}}


def test_a_long_drain_behind_a_load_balancer_lengthens_the_window(target_group):
    ctx = SessionPool().context("us-east-1")
    window = verification_window(ctx, evidence([target_group]), base_s=600, ceiling_s=3600)
    assert window.seconds == 180 + 60 + 30 * 5 + 900
    assert "900 s deregistration delay" in window.why and "60 s health-check grace" in window.why


def test_the_ceiling_caps_it_and_the_base_is_its_floor(target_group):
    ctx = SessionPool().context("us-east-1")
    assert verification_window(ctx, evidence([target_group]), base_s=600, ceiling_s=1000).seconds == 1000
    assert "capped at the 1000 s ceiling" in verification_window(ctx, evidence([target_group]), 600, 1000).why
    assert verification_window(ctx, evidence([target_group]), base_s=2000, ceiling_s=3600).seconds == 2000


def test_no_load_balancer_keeps_the_configured_window_and_an_unreadable_delay_counts_as_the_default(aws_env):
    with mock_aws():
        ctx = SessionPool().context("us-east-1")
        assert verification_window(ctx, evidence([]), base_s=600, ceiling_s=3600).seconds == 600
        gone = {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/1",
                "HealthCheckIntervalSeconds": 10, "HealthyThresholdCount": 3}
        window = verification_window(ctx, evidence([gone], grace=0), base_s=60, ceiling_s=3600)
        assert window.seconds == 180 + 30 + DEFAULT_DEREGISTRATION_DELAY_S
