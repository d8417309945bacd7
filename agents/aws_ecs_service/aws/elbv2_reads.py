"""Read-only Elastic Load Balancing calls: the service's target groups and their targets' health."""
from __future__ import annotations

from typing import Any


def target_groups(elbv2, arns: list[str]) -> list[dict[str, Any]]:
    """DescribeTargetGroups for the service's target groups (port, protocol, health-check path/port/matcher)."""
    return elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]


def target_health(elbv2, arn: str) -> list[dict[str, Any]]:
    """DescribeTargetHealth of one target group: each target with its state, reason code and description."""
    return elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
