"""The incident state machine from the repo's ASL, with its task functions substituted in."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagSuppressions
from constructs import Construct

from .functions import AgentFunction

# ASL placeholder -> workflow step
SUBSTITUTIONS = {
    "TriageFunctionArn": "triage",
    "PlanFunctionArn": "plan",
    "RequestApprovalFunctionArn": "request_approval",
    "RemediateFunctionArn": "remediate",
    "VerifyFunctionArn": "verify",
    "ReportFunctionArn": "report",
}


class Workflow(Construct):
    def __init__(self, scope: Construct, id: str, *, definition: Path, steps: dict[str, AgentFunction],
                 log_retention: logs.RetentionDays):
        super().__init__(scope, id)
        if not definition.is_file():
            raise FileNotFoundError(f"state machine definition not found: {definition}")
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(definition)),
            definition_substitutions={key: steps[step].alias.function_arn for key, step in SUBSTITUTIONS.items()},
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            # Execution data holds incident evidence; it lives in Postgres and S3, not in logs.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        # The definition comes from a file, so CDK cannot see the Lambda tasks: grant them here.
        for step in SUBSTITUTIONS.values():
            steps[step].alias.grant_invoke(self.state_machine)
        NagSuppressions.add_resource_suppressions(self.state_machine, [
            {"id": "AwsSolutions-IAM5", "reason": "Log delivery and X-Ray actions of Step Functions have no "
             "resource-level permissions (CDK's LogOptions/tracing grants).", "appliesTo": ["Resource::*"]},
        ], apply_to_children=True)
