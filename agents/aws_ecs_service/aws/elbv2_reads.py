"""Read-only Elastic Load Balancing calls: the service's target groups and their targets' health."""
from __future__ import annotations

from typing import Any


def target_groups(elbv2, arns: list[str]) -> list[dict[str, Any]]:
    """DescribeTargetGroups for the service's target groups (port, protocol, health-check path/port/matcher)."""
    return elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]


def target_health(elbv2, arn: str) -> list[dict[str, Any]]:
    """DescribeTargetHealth of one target group: each target with its state, reason code and description."""
    return elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]


def deregistration_delay_s(elbv2, arn: str) -> int | None:
    """How long a target group lets a deregistered target drain (DescribeTargetGroupAttributes)."""
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    found = next((a["Value"] for a in attributes if a.get("Key") == "deregistration_delay.timeout_seconds"), None)
    return int(found) if found is not None and str(found).isdigit() else None
