"""ECS worlds in moto's in-process backend: services with revisions and tasks, in several regions and accounts.

moto keys its backends by account and region: credentials of a role assumed in account B (moto's STS) see
account B's ECS, the default credentials see account A. So same-named twins (prod/api in another region or
another account) are real, separate services here, as they are in AWS.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from agents.aws_ecs_service.aws.session import SessionPool
from agents.aws_ecs_service.domain.target import ServiceTarget

ACCOUNT = "123456789012"  # moto's default account
OTHER_ACCOUNT = "210987654321"
_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api"


def assumed_credentials(account: str) -> dict[str, str]:
    """Credentials of a role in `account` (moto's STS makes every later call run in that account)."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/ecs-incident-agent", RoleSessionName="tests")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


@dataclass
class EcsService:
    """One service of one account and region, on revision `current` of family `api`."""

    session: boto3.session.Session
    region: str
    cluster: str = "prod"
    service: str = "api"
    revisions: int = 3
    current: int = 3
    desired: int = 4
    arns: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ecs = self.ecs
        ecs.create_cluster(clusterName=self.cluster)
        for revision in range(1, self.revisions + 1):
            td = ecs.register_task_definition(
                family="api", containerDefinitions=[{"name": "app", "image": f"{_IMAGE}:v{revision}", "essential": True,
                                       "memory": 256, "cpu": 128}])
            self.arns[revision] = td["taskDefinition"]["taskDefinitionArn"]
        ecs.register_task_definition(family="billing", containerDefinitions=[{"name": "b", "image": "b",
                                                                            "memory": 128}])
        self.described = ecs.create_service(
            cluster=self.cluster, serviceName=self.service, taskDefinition=self.arns[self.current],
            desiredCount=self.desired, launchType="EC2")["service"]

    @property
    def ecs(self) -> Any:
        return self.session.client("ecs", region_name=self.region)

    @property
    def target(self) -> ServiceTarget:
        return ServiceTarget.from_described(self.described)

    def state(self) -> dict[str, Any]:
        return self.ecs.describe_services(cluster=self.target.cluster_arn, services=[self.target.service_arn])[
            "services"][0]

    def deployment_id(self) -> str:
        return self.state()["deployments"][0]["id"]

    def task(self, started_by: str | None = None, group: str | None = None, cluster: str | None = None) -> str:
        """A task of the family in a cluster (default: one the service's deployment started)."""
        cluster = cluster or self.cluster
        return self.ecs.start_task(cluster=cluster, taskDefinition=self.arns[self.current],
                                   containerInstances=[self.container_instance(cluster)],
                                   startedBy=started_by or self.deployment_id(),
                                   group=group or f"service:{self.service}")["tasks"][0]["taskArn"]

    def container_instance(self, cluster: str) -> str:
        ec2 = self.session.client("ec2", region_name=self.region)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
        document = {"region": self.region, "instanceId": instance["InstanceId"], "accountId": ACCOUNT}
        self.ecs.create_cluster(clusterName=cluster)
        return self.ecs.register_container_instance(
            cluster=cluster, instanceIdentityDocument=json.dumps(document))["containerInstance"]["containerInstanceArn"]


def pool_for(credentials_by_account: dict[str, dict[str, str]] | None = None) -> SessionPool:
    """The agent's session pool, reaching each account with its configured credentials (default chain otherwise)."""
    known = credentials_by_account or {}
    return SessionPool(credentials_for=lambda account: known.get(account))
