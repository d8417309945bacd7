"""checkov's findings this stack does not fix, each acknowledged on its resource with the reason.

checkov reads `Metadata.checkov.skip` (id and comment) of a CloudFormation resource and reports the
check as skipped with that comment. Checks that concern every resource of a kind are acknowledged
by an aspect (below); the others next to the resource they concern. `make test` runs checkov on the
synthesized template (tests/infra/test_checkov.py): a failure there is a finding nobody answered.
"""
from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import CfnResource, IAspect
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

METADATA_KEY = "checkov"


def acknowledge(construct: IConstruct, check: str, reason: str) -> None:
    """Skip `check` on the construct's CloudFormation resource (the construct itself or its default child)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to acknowledge {check} on")
    skips = (resource.get_metadata(METADATA_KEY) or {}).get("skip", [])
    if not any(s["id"] == check for s in skips):
        resource.add_metadata(METADATA_KEY, {"skip": [*skips, {"id": check, "comment": reason}]})


def _is_function(node: CfnResource) -> bool:
    return node.cfn_resource_type == "AWS::Lambda::Function"


def _function_without(node: CfnResource, prop: str) -> bool:
    """A Lambda function that leaves `prop` unset (CDK's own provider functions are plain CfnResources, set
    nothing the checks look for)."""
    if not _is_function(node):
        return False
    return not isinstance(node, lambda_.CfnFunction) or getattr(node, prop) is None


def _cdk_provider_outside_vpc(node: CfnResource) -> bool:
    return _function_without(node, "vpc_config") and "Provider" in node.node.path


# check -> (reason, which resources it applies to)
BY_KIND: dict[str, tuple[str, Callable[[CfnResource], bool]]] = {
    "CKV_AWS_158": (
        "Log groups are encrypted at rest by CloudWatch Logs' own keys; a customer key would add a key policy for "
        "the Logs service to every group. Their content is redacted (no secrets, no environment values).",
        lambda node: node.cfn_resource_type == "AWS::Logs::LogGroup"),
    "CKV_AWS_173": (
        "The environment holds names, ARNs and the API URL only; secrets are read from Secrets Manager at run "
        "time. Lambda encrypts environment variables at rest with its AWS managed key.",
        lambda node: _is_function(node) and not _function_without(node, "environment")),
    "CKV_AWS_116": (
        "A dead-letter queue applies to asynchronous invocations: API Gateway, Step Functions and CloudFormation "
        "invoke these synchronously and handle errors themselves; the intake, invoked asynchronously by "
        "EventBridge, sends failed events to the incident dead-letter queue through its on-failure destination.",
        _is_function),
    "CKV_AWS_115": (
        "No reserved concurrency: a reservation comes out of the account's quota and fails the deploy in an "
        "account still at its starting quota. Concurrency is bounded by the workflow (one execution per "
        "incident) and API Gateway throttling; the chatConcurrency context value reserves some for the chat API.",
        lambda node: _function_without(node, "reserved_concurrent_executions")),
    "CKV_AWS_117": (
        "A CDK custom-resource provider function: it answers CloudFormation and calls the Lambda and EC2 APIs, "
        "which the agent's private subnets (no NAT by default) do not reach. The agent's own functions all run "
        "in the VPC.",
        _cdk_provider_outside_vpc),
}


@jsii.implements(IAspect)
class CheckovAcknowledgements:
    """Acknowledges BY_KIND on every resource of the kinds it names."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        for check, (reason, applies) in BY_KIND.items():
            if applies(node):
                acknowledge(node, check, reason)
