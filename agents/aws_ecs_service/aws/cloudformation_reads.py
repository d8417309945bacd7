"""Read-only CloudFormation call: the status of the stack that owns the service (from its tag)."""
from __future__ import annotations

from typing import Any

STACK_NAME_TAG = "aws:cloudformation:stack-name"
# Parameters and Outputs are left out: their values can be secrets and say nothing about a failure.
_KEPT = ("StackName", "StackId", "StackStatus", "StackStatusReason", "CreationTime", "LastUpdatedTime")


def stack_name(tags: list[dict[str, str]] | None) -> str | None:
    """The stack a resource belongs to, from the tag CloudFormation puts on it (ECS tags use key/value)."""
    for tag in tags or []:
        if (tag.get("key") or tag.get("Key")) == STACK_NAME_TAG:
            return tag.get("value") or tag.get("Value")
    return None


def stack_status(cloudformation, name: str) -> dict[str, Any]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {key: stack[key] for key in _KEPT if key in stack}
