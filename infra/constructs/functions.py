"""The agent's Lambda functions: the code asset of their kind, one role and one log group each."""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, Aws, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from ..nag import acknowledge_wildcards

SERVICE_NAME = "ecs-incident-agent"
METRICS_NAMESPACE = "EcsIncidentAgent"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ALIAS = "live"


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    description: str
    asset: str  # the kind of code asset (infra/assets.py)
    memory_mb: int = 512
    timeout_s: int = 60
    # The LangGraph functions: SnapStart takes their heavy imports out of the cold start.
    graph: bool = False
    reserved_concurrency: int | None = None


class AgentFunction(Construct):
    """A function invoked through its `live` alias (SnapStart applies to published versions only)."""

    def __init__(self, scope: Construct, id: str, *, spec: FunctionSpec, code: lambda_.Code,
                 environment: dict[str, str], vpc: ec2.IVpc, subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, log_retention: logs.RetentionDays, snap_start: bool):
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"{spec.handler}: only what this function does")
        # Own role without AWS managed policies: log writes go to this function's log group only.
        self.role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                                    resources=[self.log_group.log_group_arn]))
        # Every function runs in the VPC: they all reach PostgreSQL through RDS Proxy.
        self._allow_vpc_networking()
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            description=spec.description,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=spec.reserved_concurrency,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if (spec.graph and snap_start) else None,
            environment=environment,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
        )
        self.alias = self.function.add_alias(ALIAS)
        if spec.graph and snap_start:
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish", "Every version is published through the live alias.")
        acknowledge_wildcards(self.role, "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level "
                              "permissions (CDK's active-tracing grant).", "Resource::*")
        NagSuppressions.add_resource_suppressions(self.function, [
            {"id": "AwsSolutions-L1", "reason": "Pinned to python3.12: the bundled wheels are built for cp312; a "
             "runtime change is a deliberate rebuild, not a drift."},
        ])

    def _allow_vpc_networking(self) -> None:
        # What AWSLambdaVPCAccessExecutionRole grants, scoped to this account and region.
        ec2_arn = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        self.role.add_to_policy(iam.PolicyStatement(actions=["ec2:DescribeNetworkInterfaces"], resources=["*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface"],
            resources=[f"{ec2_arn}:network-interface/*", f"{ec2_arn}:subnet/*", f"{ec2_arn}:security-group/*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            resources=[f"{ec2_arn}:network-interface/*"]))
        nag_arn = "Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>"
        acknowledge_wildcards(
            self.role, "Lambda's VPC networking (AWSLambdaVPCAccessExecutionRole's actions) scoped to this account and "
            "region: ENI ids are created at run time; DescribeNetworkInterfaces has no resource-level permissions.",
            f"{nag_arn}:network-interface/*", f"{nag_arn}:subnet/*", f"{nag_arn}:security-group/*")
