"""S3 bucket for incident reports and evidence, plus its access-log bucket."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from cdk_nag import NagSuppressions
from constructs import Construct

from ..checkov import acknowledge


class Reports(Construct):
    def __init__(self, scope: Construct, id: str, *, retention_days: int):
        super().__init__(scope, id)
        common = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days),
                                              noncurrent_version_expiration=Duration.days(30))],
            **common,
        )
        # SSE-S3 (the report store's default): presigned report links then need no KMS grant.
        self.bucket = s3.Bucket(
            self, "Bucket",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="reports/",
            lifecycle_rules=[s3.LifecycleRule(
                expiration=Duration.days(retention_days),
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(1),
                transitions=[s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                           transition_after=Duration.days(30))],
            )],
            **common,
        )
        NagSuppressions.add_resource_suppressions(self.access_logs, [
            {"id": "AwsSolutions-S1", "reason": "This is the access-log bucket of the reports bucket; logging it "
             "to itself would loop."},
        ])
        acknowledge(self.access_logs, "CKV_AWS_18", "This is the access-log bucket of the reports bucket; logging "
                    "it to itself would loop.")
