"""The evidence collector against moto's ECS/CloudWatch: real API shapes, pagination, alarm filtering."""
from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws
from moto.ec2 import utils as ec2_utils

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.collector import collect
from agents.aws_ecs_service.diagnosis.errors import ClusterNotFound, ServiceNotFound

pytestmark = pytest.mark.slow  # moto ECS/CloudWatch/EC2 worlds: one to three seconds each

REGION = "us-east-1"
DIMENSIONS = [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "api"}]


@pytest.fixture
def moto_world(aws_env):
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("ecs", "cloudwatch", "ec2")}


def _task_definition(ecs, image: str, memory: int) -> str:
    return ecs.register_task_definition(
        family="api", networkMode="bridge", requiresCompatibilities=["EC2"],
        containerDefinitions=[{"name": "api", "image": image, "essential": True, "memory": memory,
                               "logConfiguration": {"logDriver": "awslogs", "options": {
                                   "awslogs-group": "/ecs/api", "awslogs-region": REGION,
                                   "awslogs-stream-prefix": "ecs"}}}],
    )["taskDefinition"]["taskDefinitionArn"]


def _service(ecs, launch_type: str = "FARGATE") -> tuple[str, str]:
    ecs.create_cluster(clusterName="prod")
    previous = _task_definition(ecs, "api:1.0", 1024)
    current = _task_definition(ecs, "api:1.1", 512)
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition=current, desiredCount=120,
                       launchType=launch_type)
    return previous, current


def _alarm(cloudwatch, name: str, state: str = "ALARM", **metric) -> None:
    params = {"AlarmName": name, "EvaluationPeriods": 1, "Threshold": 80.0,
              "ComparisonOperator": "GreaterThanThreshold", **metric}
    if "Metrics" not in metric:
        params.update(Namespace="AWS/ECS", MetricName="CPUUtilization", Statistic="Average", Period=60)
    cloudwatch.put_metric_alarm(**params)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_collects_a_moto_service_with_paginated_tasks(moto_world):
    ecs, cloudwatch = moto_world["ecs"], moto_world["cloudwatch"]
    previous, current = _service(ecs)
    running = ecs.run_task(cluster="prod", taskDefinition=current, count=121, launchType="FARGATE",
                           group="service:api")["tasks"]
    ecs.stop_task(cluster="prod", task=running[0]["taskArn"], reason="Essential container in task exited")
    cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": DIMENSIONS, "Value": 97.0, "Unit": "Percent",
         "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)}])
    _alarm(cloudwatch, "api-cpu-high", Dimensions=DIMENSIONS)
    _alarm(cloudwatch, "api-cpu-ok", state="OK", Dimensions=DIMENSIONS)
    _alarm(cloudwatch, "other-service-cpu", Dimensions=[{"Name": "ClusterName", "Value": "prod"},
                                                        {"Name": "ServiceName", "Value": "billing"}])
    _alarm(cloudwatch, "api-error-ratio", Metrics=[
        {"Id": "cpu", "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": "AWS/ECS", "MetricName": "CPUUtilization", "Dimensions": DIMENSIONS},
            "Period": 60, "Stat": "Average"}},
        {"Id": "ratio", "Expression": "cpu / 100", "ReturnData": True}])

    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")

    json.dumps(evidence)
    assert evidence["service"]["serviceName"] == "api"
    assert len(evidence["tasks"]["running"]) == 120 and len(evidence["tasks"]["stopped"]) == 1
    # moto answers ListTasks in one page whatever maxResults says; DescribeTasks still goes by 100s
    assert ctx.counter.by_operation["ecs:ListTasks"] == 2
    assert ctx.counter.by_operation["ecs:DescribeTasks"] == 3  # RUNNING: 100 + 20, STOPPED: 1
    assert evidence["current_task_definition"] == current
    assert evidence["previous_task_definition"] == previous  # ListTaskDefinitions fallback
    assert evidence["task_definitions"][previous]["containerDefinitions"][0]["memory"] == 1024
    assert [value for _, value in evidence["metrics"]["CPUUtilization"]] == [97.0]
    assert evidence["metrics"]["MemoryUtilization"] == []
    assert {a["AlarmName"] for a in evidence["alarms"]} == {"api-cpu-high", "api-error-ratio"}
    # moto does not implement ListServiceDeployments: recorded, not fatal
    assert [e["call"] for e in evidence["errors"]] == ["ecs:ListServiceDeployments"]
    assert evidence["container_instances"] == []
    assert evidence["stats"]["api_calls"] == ctx.counter.calls


def test_reads_container_instances_on_ec2(moto_world):
    ecs, ec2 = moto_world["ecs"], moto_world["ec2"]
    _service(ecs, launch_type="EC2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = boto3.resource("ec2", region_name=REGION).create_instances(ImageId=image, MinCount=1, MaxCount=1)[0]
    ecs.register_container_instance(
        cluster="prod", instanceIdentityDocument=json.dumps(ec2_utils.generate_instance_identity_document(instance)))

    evidence = collect(AwsContext(), "prod", "api")

    assert [ci["ec2InstanceId"] for ci in evidence["container_instances"]] == [instance.id]


def test_unknown_cluster_and_service(moto_world):
    moto_world["ecs"].create_cluster(clusterName="prod")
    with pytest.raises(ClusterNotFound):
        collect(AwsContext(), "nowhere", "api")
    with pytest.raises(ServiceNotFound):
        collect(AwsContext(), "prod", "api")
