"""SNS topic for approval requests and alarms, encrypted with its own KMS key, email subscribers."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct


class Notifications(Construct):
    def __init__(self, scope: Construct, id: str, *, emails: list[str]):
        super().__init__(scope, id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                           description="ECS incident agent notifications")
        # CloudWatch alarms publish to the encrypted topic as a service principal.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))
        self.topic = sns.Topic(self, "Topic", display_name="ECS incident agent", master_key=self.key,
                               enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subs.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.topic.grant_publish(grantee)
