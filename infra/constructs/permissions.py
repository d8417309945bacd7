"""What the agent may do in the account: ECS/Logs/CloudWatch reads, ECS writes, Bedrock invocations."""
from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from ..bedrock_model import BedrockModel
from ..nag import acknowledge_wildcards

# Read-only calls of the triage engine. Most ECS Describe/List calls and the CloudWatch/Logs reads
# have no resource-level permissions, hence "*" (reads only).
READ_ACTIONS = [
    "ecs:Describe*", "ecs:List*",
    "logs:GetLogEvents", "logs:FilterLogEvents",
    "cloudwatch:Get*", "cloudwatch:Describe*",
    # Evidence beyond ECS (diagnosis/collector.py): target health of the service's target groups, the ECR
    # images (and manifests) its revisions run, the tasks' network path when a network cause is in play, and
    # the status of the CloudFormation stack that owns it. All reads, none with resource-level scoping worth it.
    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTargetGroupAttributes",  # the deregistration delay the verification waits out
    "ecr:BatchGetImage",
    "ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints", "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcAttribute",
    "cloudformation:DescribeStacks",
]
WRITE_ACTIONS = ["ecs:UpdateService", "ecs:StopTask", "ecs:RunTask"]
BEDROCK_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def _ecs_arn(kind: str, rest: str) -> str:
    return f"arn:{Aws.PARTITION}:ecs:{Aws.REGION}:{Aws.ACCOUNT_ID}:{kind}/{rest}"


def _nag_ecs(kind: str, rest: str) -> str:
    return f"Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:{kind}/{rest}"


def allow_reads(role: iam.Role) -> None:
    role.add_to_policy(iam.PolicyStatement(sid="TriageReadOnly", actions=READ_ACTIONS, resources=["*"]))
    acknowledge_wildcards(
        role, "Read-only triage calls: ECS Describe/List and CloudWatch Get/Describe cover the engine's reads, and "
        "most of them (ListClusters, DescribeTaskDefinition, GetMetricData, DescribeAlarms, log reads) have no "
        "resource-level permissions.",
        "Action::ecs:Describe*", "Action::ecs:List*", "Action::cloudwatch:Get*", "Action::cloudwatch:Describe*",
        "Resource::*")


def allow_writes(role: iam.Role, clusters: list[str], task_role_arns: list[str]) -> None:
    """UpdateService/StopTask on the services and tasks of `clusters`; RunTask only into those clusters."""
    cluster_arns = [_ecs_arn("cluster", c) for c in clusters]
    passable = task_role_arns or [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*"]
    for statement in (
        iam.PolicyStatement(sid="RemediateServices", actions=["ecs:UpdateService"],
                            resources=[_ecs_arn("service", f"{c}/*") for c in clusters]),
        iam.PolicyStatement(sid="RemediateTasks", actions=["ecs:StopTask"],
                            resources=[_ecs_arn("task", f"{c}/*") for c in clusters]),
        # RunTask's resource is the task definition; the cluster is a condition key.
        iam.PolicyStatement(sid="RemediateRunTask", actions=["ecs:RunTask"],
                            resources=[_ecs_arn("task-definition", "*:*")],
                            conditions={"ArnEquals": {"ecs:cluster": cluster_arns}}),
        iam.PolicyStatement(sid="PassTaskRoles", actions=["iam:PassRole"], resources=passable,
                            conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
    ):
        role.add_to_policy(statement)
    acknowledge_wildcards(
        role, "Writes are limited to the services and tasks of the clusters named in writeClusters (names are "
        "known, service and task ids are not); RunTask only with ecs:cluster in those clusters; PassRole only to "
        "ecs-tasks.amazonaws.com (narrow it with -c taskRoleArns=...).",
        *[_nag_ecs("service", f"{c}/*") for c in clusters], *[_nag_ecs("task", f"{c}/*") for c in clusters],
        _nag_ecs("task-definition", "*:*"), "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*")


def allow_bedrock(role: iam.Role, model: BedrockModel) -> None:
    """InvokeModel on the chosen model, or on an inference profile and the models it routes to."""
    for statement in bedrock_statements(model):
        role.add_to_policy(statement)
    acknowledge_wildcards(
        role, "An inference profile routes to its foundation model in the Regions of its geography (a global one "
        "also through the Region-less model ARN); the foundation-model grant holds only for requests made through "
        "the chosen profile (condition bedrock:InferenceProfileArn).",
        {"regex": "/^Resource::arn:<AWS::Partition>:bedrock:\\*?::foundation-model\\/.*$/"})


def bedrock_statements(model: BedrockModel) -> list[iam.PolicyStatement]:
    if not model.is_profile:
        arn = model.model_id if model.arn_region else \
            f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model.foundation_model}"
        return [iam.PolicyStatement(sid="InvokeModel", actions=BEDROCK_ACTIONS, resources=[arn])]
    profile_arn = model.model_id if model.arn_region else \
        f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/{model.model_id}"
    # An application profile's model is known only to Bedrock; a system profile names it.
    routed = model.foundation_model or "*"
    models = [f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{routed}"]
    if model.routes_globally or model.kind == "application-inference-profile":
        # Global routing is authorized on the Region-less model ARN (an application profile may wrap a global one).
        models.append(f"arn:{Aws.PARTITION}:bedrock:::foundation-model/{routed}")
    return [
        iam.PolicyStatement(sid="InvokeProfile", actions=BEDROCK_ACTIONS, resources=[profile_arn]),
        # langchain-aws looks an application profile up to learn its model (GetInferenceProfile).
        iam.PolicyStatement(sid="ReadProfile", actions=["bedrock:GetInferenceProfile"], resources=[profile_arn]),
        iam.PolicyStatement(sid="InvokeThroughProfile", actions=BEDROCK_ACTIONS, resources=models,
                            conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}),
    ]
