"""cdk-nag acknowledgements, always with the specific findings they cover and why."""
from __future__ import annotations

from cdk_nag import NagSuppressions
from constructs import IConstruct


def acknowledge_wildcards(construct: IConstruct, reason: str, *findings: str | dict) -> None:
    """AwsSolutions-IAM5 for exactly these findings ("Action::x:Get*", "Resource::...", {"regex": "/.../"})."""
    NagSuppressions.add_resource_suppressions(
        construct, [{"id": "AwsSolutions-IAM5", "reason": reason, "appliesTo": list(findings)}],
        apply_to_children=True)
