"""EventBridge rules for the four incident triggers, scoped to the watched clusters, into intake."""
from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from ..checkov import acknowledge


def _cluster_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:ecs:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster/{name}"


def rule_patterns(clusters: list[str]) -> dict[str, dict[str, Any]]:
    """The patterns of the reference (§4.5), each narrowed to `clusters`."""
    cluster_arns = [_cluster_arn(c) for c in clusters]
    return {
        "TaskStopped": {
            "source": ["aws.ecs"], "detail_type": ["ECS Task State Change"],
            "detail": {"clusterArn": cluster_arns, "lastStatus": ["STOPPED"], "group": [{"prefix": "service:"}],
                       "stopCode": [{"anything-but": ["UserInitiated"]}],
                       "stoppedReason": [{"anything-but": {"prefix": "Scaling activity initiated by"}}]},
        },
        # No clusterArn in deployment events: the service ARN (new format) carries the cluster.
        "DeploymentState": {
            "source": ["aws.ecs"], "detail_type": ["ECS Deployment State Change"],
            "resources": events.Match.any_of(*[
                events.Match.prefix(f"arn:{Aws.PARTITION}:ecs:{Aws.REGION}:{Aws.ACCOUNT_ID}:service/{c}/")
                for c in clusters]),
            "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED", "SERVICE_DEPLOYMENT_COMPLETED"]},
        },
        "ServiceAction": {
            "source": ["aws.ecs"], "detail_type": ["ECS Service Action"],
            "detail": {"clusterArn": cluster_arns, "eventType": ["WARN", "ERROR"]},
        },
        # Metric alarms on a watched cluster's metrics; composite alarms go to intake to be resolved.
        "AlarmState": {
            "source": ["aws.cloudwatch"], "detail_type": ["CloudWatch Alarm State Change"],
            "detail": {"state": {"value": ["ALARM"]},
                       "$or": [{"configuration": {"metrics": {"metricStat": {"metric": {
                                   "dimensions": {"ClusterName": list(clusters)}}}}}},
                               {"configuration": {"alarmRule": [{"exists": True}]}}]},
        },
    }


class IncidentEvents(Construct):
    def __init__(self, scope: Construct, id: str, *, clusters: list[str], intake: lambda_.IFunction):
        super().__init__(scope, id)
        self.dlq = sqs.Queue(self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                             retention_period=Duration.days(14))
        NagSuppressions.add_resource_suppressions(self.dlq, [
            {"id": "AwsSolutions-SQS3", "reason": "This queue is the dead-letter queue of the incident rules and of "
             "the intake function; an alarm watches its depth."},
        ])
        acknowledge(self.dlq, "CKV_AWS_27", "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); the check reads "
                    "only KmsMasterKeyId.")
        for name, pattern in rule_patterns(clusters).items():
            rule = events.Rule(self, name, event_pattern=events.EventPattern(**pattern),
                               description=f"ECS incident trigger: {name}")
            rule.add_target(targets.LambdaFunction(intake, dead_letter_queue=self.dlq, retry_attempts=8,
                                                   max_event_age=Duration.hours(2)))
