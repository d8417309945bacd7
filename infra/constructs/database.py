"""RDS PostgreSQL (checkpoints and approvals) behind RDS Proxy; credentials in Secrets Manager, rotated."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from cdk_nag import NagSuppressions
from constructs import Construct

from ..checkov import acknowledge
from ..naming import physical_name

MULTI_AZ_OFF = ("Multi-AZ is the multiAz context switch (off by default): the database holds conversation "
                "checkpoints, incidents and pending approvals, restorable from backups.")

DB_NAME = "agent"
DB_PORT = 5432
LOG_EXPORTS = ("postgresql", "upgrade")


class Database(Construct):
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, subnets: ec2.SubnetSelection,
                 clients: ec2.ISecurityGroup, deletion_protection: bool, multi_az: bool,
                 backup_retention_days: int, log_retention: logs.RetentionDays):
        super().__init__(scope, id)
        self.name = DB_NAME
        self.instance_sg = ec2.SecurityGroup(self, "InstanceSg", vpc=vpc, allow_all_outbound=False,
                                             description="PostgreSQL: reachable from RDS Proxy and rotation only")
        self.proxy_sg = ec2.SecurityGroup(self, "ProxySg", vpc=vpc, allow_all_outbound=False,
                                          description="RDS Proxy: reachable from the agent functions")
        stack_name = Stack.of(self).stack_name
        identifier = physical_name(stack_name, "postgres")
        # Log groups of the exports made here (with retention) rather than by CDK's LogRetention function,
        # which would need logs:PutRetentionPolicy on "*".
        log_groups = [logs.LogGroup(self, f"{export.capitalize()}Logs", retention=log_retention,
                                    log_group_name=f"/aws/rds/instance/{identifier}/{export}",
                                    removal_policy=RemovalPolicy.DESTROY) for export in LOG_EXPORTS]
        self.instance = rds.DatabaseInstance(
            self, "Postgres",
            instance_identifier=identifier,
            # Minor upgrades are applied automatically from here on.
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.BURSTABLE4_GRAVITON, ec2.InstanceSize.MICRO),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.instance_sg],
            database_name=DB_NAME,
            credentials=rds.Credentials.from_generated_secret("agent_admin"),
            storage_encrypted=True,
            allocated_storage=20,
            max_allocated_storage=100,
            multi_az=multi_az,
            backup_retention=Duration.days(backup_retention_days),
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            enable_performance_insights=True,
            publicly_accessible=False,
        )
        for group in log_groups:
            self.instance.node.add_dependency(group)
        self.secret = self.instance.secret
        self.instance.add_rotation_single_user(automatically_after=Duration.days(30), vpc_subnets=subnets)
        self.proxy = self.instance.add_proxy(
            "Proxy",
            db_proxy_name=physical_name(stack_name, "proxy"),
            secrets=[self.secret],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.proxy_sg],
            require_tls=True,
            debug_logging=False,
        )
        self.instance_sg.add_ingress_rule(self.proxy_sg, ec2.Port.tcp(DB_PORT), "RDS Proxy to PostgreSQL")
        self.proxy_sg.add_egress_rule(self.instance_sg, ec2.Port.tcp(DB_PORT), "RDS Proxy to PostgreSQL")
        self.proxy_sg.add_ingress_rule(clients, ec2.Port.tcp(DB_PORT), "Agent functions to RDS Proxy")
        self.endpoint = self.proxy.endpoint

        if not multi_az:
            acknowledge(self.instance, "CKV_AWS_157", MULTI_AZ_OFF)
        acknowledge(self.instance, "CKV_AWS_118", "Performance Insights is on and the PostgreSQL logs go to "
                    "CloudWatch; enhanced monitoring's OS metrics would need another role for little on this size.")
        # The generated secret itself (self.secret is its attachment to the instance).
        acknowledge(self.instance.node.find_child("Secret"), "CKV_AWS_149", "The database credentials are encrypted with Secrets Manager's AWS "
                    "managed key; only this stack's function roles and the rotation function may read them.")
        NagSuppressions.add_resource_suppressions(self.instance, [
            {"id": "AwsSolutions-RDS3", "reason": MULTI_AZ_OFF},
            {"id": "AwsSolutions-RDS11", "reason": "Clients reach the database only through RDS Proxy inside "
             "private subnets; a non-default port adds nothing against that path."},
        ], apply_to_children=True)

    def grant_connect(self, grantee: iam.IGrantable) -> None:
        """The functions log in through the proxy with the rotated secret's user and password."""
        self.secret.grant_read(grantee)
