"""SNS topic for approval requests and alarms, encrypted with its own KMS key, email subscribers.

`enforce_ssl` gives the topic a policy of its own (a TLS-only Deny), which replaces SNS's default
policy: from then on a service principal can publish only where that policy allows it. CloudWatch
alarms are the one service that publishes here (the approval function publishes as an IAM role of
this account, which its own policy allows), so the topic allows exactly that, and so does the key.
"""
from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"


def alarms_of_this_account() -> dict[str, dict[str, str]]:
    """Conditions that keep the CloudWatch service from publishing for another account's alarms."""
    return {"ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}


class Notifications(Construct):
    def __init__(self, scope: Construct, id: str, *, emails: list[str]):
        super().__init__(scope, id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                           description="ECS incident agent notifications")
        # Publishing to an encrypted topic needs a data key: CloudWatch asks for it as a service principal.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsEncrypt",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))
        self.topic = sns.Topic(self, "Topic", display_name="ECS incident agent", master_key=self.key,
                               enforce_ssl=True)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions=alarms_of_this_account(),
        ))
        for email in emails:
            self.topic.add_subscription(subs.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.topic.grant_publish(grantee)
