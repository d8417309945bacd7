"""The reads beyond ECS against moto (fakeaws does not model them): load balancer target health, ECR images and
their platforms, the tasks' network path, the CloudFormation stack that owns the service; each skipped when it
does not apply. Then what the classifier makes of them."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.classifier import classify
from agents.aws_ecs_service.diagnosis.collector import collect

REGION = "us-east-1"
ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture
def aws(aws_env):
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION)
               for name in ("ecs", "ec2", "elbv2", "ecr", "cloudformation")}


def _network(ec2) -> tuple[str, str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="api", Description="api tasks", VpcId=vpc)["GroupId"]
    return vpc, subnet, group


def _task_definition(ecs, image: str, **extra) -> str:
    return ecs.register_task_definition(
        family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/api-execution",
        containerDefinitions=[{"name": "api", "image": image, "essential": True, "memory": 512,
                               "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}], **extra,
    )["taskDefinition"]["taskDefinitionArn"]


def _service(ecs, subnet: str, group: str, image: str, **extra) -> str:
    ecs.create_cluster(clusterName="prod")
    td = _task_definition(ecs, image)
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition=td, desiredCount=2, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group],
                                                                     "assignPublicIp": "DISABLED"}}, **extra)
    return td


def _stopped_task(ecs, td: str, reason: str, subnet: str) -> None:
    task = ecs.run_task(cluster="prod", taskDefinition=td, count=1, launchType="FARGATE", group="service:api",
                        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": []}})
    ecs.stop_task(cluster="prod", task=task["tasks"][0]["taskArn"], reason=reason)


def _failed_pulls(aws, reason: str) -> tuple[str, str]:
    """A service whose tasks stopped twice with this pull error: (its VPC, its subnet)."""
    vpc, subnet, group = _network(aws["ec2"])
    _push(aws["ecr"], "api", "v1")
    td = _service(aws["ecs"], subnet, group, f"{REGISTRY}/api:v1")
    for _ in range(2):
        _stopped_task(aws["ecs"], td, reason, subnet)
    return vpc, subnet


def _push(ecr, repository: str, tag: str, platforms: list[str] | None = None) -> None:
    if repository not in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]:
        ecr.create_repository(repositoryName=repository)
    if platforms is None:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "a" * 64,
                               "size": 1}, "layers": []}
    else:
        manifest = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + str(i) * 64, "size": 1,
             "platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]}} for i, p in enumerate(platforms)]}
    ecr.put_image(repositoryName=repository, imageTag=tag, imageManifest=json.dumps(manifest))


def test_target_health_and_the_target_groups_health_check(aws):
    ec2, elbv2, ecs = aws["ec2"], aws["elbv2"], aws["ecs"]
    vpc, subnet, group = _network(ec2)
    tg = elbv2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                   HealthCheckPath="/healthz", HealthCheckPort="8081")["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "10.0.1.15", "Port": 8080}])
    _push(aws["ecr"], "api", "v1")
    _service(ecs, subnet, group, f"{REGISTRY}/api:v1", loadBalancers=[
        {"targetGroupArn": tg["TargetGroupArn"], "containerName": "api", "containerPort": 8080}])

    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")

    balancers = evidence["load_balancers"]
    assert [g["HealthCheckPath"] for g in balancers["target_groups"]] == ["/healthz"]
    assert [t["Target"]["Id"] for t in balancers["target_health"][tg["TargetGroupArn"]]] == ["10.0.1.15"]
    assert ctx.counter.by_operation["elastic-load-balancing-v2:DescribeTargetHealth"] == 1
    assert "ec2:DescribeSubnets" not in ctx.counter.by_operation  # no network-looking cause in play
    evidence["load_balancers"]["target_health"][tg["TargetGroupArn"]][0]["TargetHealth"] = {
        "State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
        "Description": "Health checks failed with these codes: [404]"}
    result = classify(json.loads(json.dumps(evidence)))
    assert result.root_cause.category == "elb-health-check-failed"
    assert any("listens on 8080, not 8081" in line for line in result.root_cause.evidence)


def test_no_load_balancer_no_stack_no_elbv2_or_cloudformation_reads(aws):
    _, subnet, group = _network(aws["ec2"])
    _push(aws["ecr"], "api", "v1")
    _service(aws["ecs"], subnet, group, f"{REGISTRY}/api:v1")
    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")
    assert evidence["load_balancers"] == {} and evidence["cloudformation"] == {}
    assert not [op for op in ctx.counter.by_operation if op.split(":")[0] in ("elastic-load-balancing-v2", "cloudformation")]


def test_ecr_images_of_the_deployed_revision(aws):
    _, subnet, group = _network(aws["ec2"])
    _push(aws["ecr"], "team/api", "v2", platforms=["linux/arm64"])
    td = _service(aws["ecs"], subnet, group, f"{REGISTRY}/team/api:v2")
    missing = _task_definition(aws["ecs"], f"{REGISTRY}/team/api:v3")
    aws["ecs"].update_service(cluster="prod", service="api", taskDefinition=missing)

    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")

    by_image = {i["image"]: i for i in evidence["images"]}
    assert by_image[f"{REGISTRY}/team/api:v3"]["status"] == "ImageNotFound"
    assert by_image[f"{REGISTRY}/team/api:v3"]["revisions"] == [missing]
    assert by_image[f"{REGISTRY}/team/api:v2"]["status"] == "found"
    assert by_image[f"{REGISTRY}/team/api:v2"]["platforms"] == ["linux/arm64"]
    assert by_image[f"{REGISTRY}/team/api:v2"]["revisions"] == [td]
    assert ctx.counter.by_operation["ecr:BatchGetImage"] == 1  # one call per repository, whatever the tags


def test_a_missing_tag_is_caught_before_any_task_stops(aws):
    _, subnet, group = _network(aws["ec2"])
    _push(aws["ecr"], "api", "v1")
    _service(aws["ecs"], subnet, group, f"{REGISTRY}/api:v1")
    aws["ecs"].update_service(cluster="prod", service="api",
                              taskDefinition=_task_definition(aws["ecs"], f"{REGISTRY}/api:v2"))
    evidence = collect(AwsContext(), "prod", "api")
    # moto leaves the new deployment IN_PROGRESS-less; a deployment still rolling out is what ECS shows here
    for d in evidence["service"]["deployments"]:
        d["rolloutState"] = "IN_PROGRESS" if d["status"] == "PRIMARY" else "COMPLETED"
    result = classify(evidence)
    assert result.root_cause.category == "image-not-found"
    assert any("ImageNotFound" in line and "api:v2" in line for line in result.root_cause.evidence)


def test_the_network_path_is_read_for_a_network_looking_cause_and_settles_vpc_dns(aws):
    ec2 = aws["ec2"]
    vpc, subnet = _failed_pulls(aws, f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                                     f"failed to resolve ref {REGISTRY}/api:v1: failed to do request: Head "
                                     f"\"https://{REGISTRY}/v2/api/manifests/v1\": dial tcp 10.0.0.2:443: i/o timeout")
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):  # turned off since
        ec2.modify_vpc_attribute(VpcId=vpc, **{attribute: {"Value": False}})

    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")

    network = evidence["network"]
    assert [s["SubnetId"] for s in network["subnets"]] == [subnet]
    assert network["vpcs"] == [{"VpcId": vpc, "EnableDnsSupport": False, "EnableDnsHostnames": False}]
    assert len(network["security_groups"]) == 1
    assert network["route_tables"] and network["assign_public_ip"] == "DISABLED"
    assert ctx.counter.by_operation["ec2:DescribeVpcAttribute"] == 2
    result = classify(evidence)
    assert result.root_cause.category == "vpc-dns-resolution"
    assert any("DNS resolution disabled" in line for line in result.root_cause.evidence)
    assert classify(json.loads(json.dumps(evidence))) == result  # evidence.json replays to the same answer


def test_no_route_to_ecr_joins_an_image_pull_network_failure(aws):
    _failed_pulls(aws, "CannotPullContainerError: The task cannot pull 'api:v1' from the Amazon ECR repository 'api'. "
                       "There is a connection issue between the task and Amazon ECR. Check your task network "
                       "configuration.")
    result = classify(collect(AwsContext(), "prod", "api"))
    assert result.root_cause.category == "image-pull-network"
    assert any("no path to Amazon ECR" in line for line in result.root_cause.evidence)


def test_the_stack_that_owns_the_service(aws):
    cfn = aws["cloudformation"]
    cfn.create_stack(StackName="web-stack", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    _, subnet, group = _network(aws["ec2"])
    _push(aws["ecr"], "api", "v1")
    _service(aws["ecs"], subnet, group, f"{REGISTRY}/api:v1",
             tags=[{"key": "aws:cloudformation:stack-name", "value": "web-stack"}])
    evidence = collect(AwsContext(), "prod", "api")
    stack = evidence["cloudformation"]["stack"]
    assert stack["StackName"] == "web-stack" and stack["StackStatus"] == "CREATE_COMPLETE"
    assert "Parameters" not in stack and "Outputs" not in stack
