"""Intake: the four event kinds (old and new ARNs), drops with reasons, de-duplication, a 500-event storm."""
from __future__ import annotations

import copy
import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser
from agents.aws_ecs_service.incidents.keys import incident_id, is_incident_id
from agents.aws_ecs_service.incidents.settings import RuntimeSettings
from agents.aws_ecs_service.incidents.starter import Intake

ACCOUNT = "111122223333"


def deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/default/servicetest", event_id="d1",
                      time="2020-05-23T12:31:14Z"):
    return {"version": "0", "id": event_id, "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
            "account": ACCOUNT, "time": time, "region": "us-west-2", "resources": [resource],
            "detail": {"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/123",
                       "updatedAt": "2020-05-23T11:11:11Z",
                       "reason": "ECS deployment circuit breaker: tasks failed to start."}}


def service_action(event_type="ERROR", name="SERVICE_TASK_PLACEMENT_FAILURE"):
    return {"version": "0", "id": "sa1", "detail-type": "ECS Service Action", "source": "aws.ecs", "account": ACCOUNT,
            "time": "2019-11-19T19:55:38Z", "region": "us-west-2",
            "resources": [f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/default/servicetest"],
            "detail": {"eventType": event_type, "eventName": name,
                       "clusterArn": f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default",
                       "capacityProviderArns": [f"arn:aws:ecs:us-west-2:{ACCOUNT}:capacity-provider/FARGATE_SPOT"],
                       "reason": "RESOURCE:FARGATE", "createdAt": "2019-11-06T19:09:33.087Z", "somethingNew": 1}}


def task_stopped(version=5, last_status="STOPPED", stop_code="EssentialContainerExited", group="service:checkout",
                 task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/0123456789abcdef0123456789abcdef",
                 cluster_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/prod", reason="Essential container in task exited"):
    detail = {"taskArn": task_arn, "taskDefinitionArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/checkout:42",
              "group": group, "startedBy": "ecs-svc/1234567890123456789", "cpu": "512", "memory": "1024",
              "desiredStatus": "STOPPED", "lastStatus": last_status, "stopCode": stop_code, "stoppedReason": reason,
              "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 137,
                              "reason": "OutOfMemoryError: Container killed due to memory usage"}],
              "enableExecuteCommand": "false", "version": version}
    if cluster_arn:
        detail["clusterArn"] = cluster_arn
    return {"version": "0", "id": f"t{version}", "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "account": ACCOUNT, "time": "2026-01-01T12:00:05Z", "region": "eu-west-1", "resources": [task_arn],
            "detail": detail}


SINGLE_METRIC = [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ECS", "name": "MemoryUtilization",
                                                        "dimensions": {"ClusterName": "prod", "ServiceName": "checkout"}},
                                             "period": 60, "stat": "Maximum"}, "returnData": True}]
METRIC_MATH = [
    {"id": "e1", "expression": "100 * running / desired", "label": "RunningPct", "returnData": True},
    {"id": "running", "metricStat": {"metric": {"namespace": "ECS/ContainerInsights", "name": "RunningTaskCount",
                                                "dimensions": {"ClusterName": "prod", "ServiceName": "checkout"}},
                                     "period": 60, "stat": "Minimum"}, "returnData": False},
]


def alarm(configuration, state="ALARM", tags=None, reason_data="{\"version\":\"1.0\",\"threshold\":90.0}"):
    detail = {"alarmName": "checkout-memory-high", "configuration": configuration,
              "previousState": {"value": "OK", "timestamp": "2026-01-01T11:00:00.000+0000"},
              "state": {"value": state, "reason": "Threshold Crossed: 3 out of the last 3 datapoints",
                        "reasonData": reason_data, "timestamp": "2026-01-01T12:05:00.000+0000"}}
    if tags:
        detail["alarmTags"] = tags
    return {"version": "0", "id": "a1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
            "account": ACCOUNT, "time": "2026-01-01T12:05:00Z", "region": "eu-west-1",
            "resources": [f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:checkout-memory-high"], "detail": detail}


def test_deployment_failure_takes_cluster_and_service_from_the_new_format_service_arn():
    found = Normaliser().normalise(deployment_failed())
    assert isinstance(found, IncidentRequest)
    assert (found.region, found.cluster, found.service, found.trigger.kind) == ("us-west-2", "default", "servicetest",
                                                                                "deployment-failed")
    assert "tasks failed to start" in found.trigger.summary
    assert found.incident_id == incident_id("us-west-2", "default", "servicetest", dt.datetime.fromisoformat(found.trigger.at))


def test_deployment_failure_with_a_legacy_service_arn_needs_a_single_allowed_cluster():
    legacy = deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/servicetest")
    dropped = Normaliser().normalise(legacy)
    assert isinstance(dropped, Dropped) and "legacy" in dropped.reason
    found = Normaliser(["default"]).normalise(legacy)
    assert isinstance(found, IncidentRequest) and (found.cluster, found.service) == ("default", "servicetest")


@pytest.mark.parametrize("name", ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"])
def test_deployment_events_that_are_not_failures_are_dropped(name):
    event = deployment_failed()
    event["detail"]["eventName"] = name
    assert isinstance(Normaliser().normalise(event), Dropped)


def test_service_action_error_and_warn_open_incidents_info_does_not():
    found = Normaliser().normalise(service_action())
    assert isinstance(found, IncidentRequest) and found.trigger.kind == "service-action"
    assert found.trigger.summary == "ERROR SERVICE_TASK_PLACEMENT_FAILURE: RESOURCE:FARGATE"
    assert isinstance(Normaliser().normalise(service_action("WARN", "SERVICE_TASK_START_IMPAIRED")), IncidentRequest)
    assert isinstance(Normaliser().normalise(service_action("INFO", "SERVICE_STEADY_STATE")), Dropped)


def test_task_stopped_with_a_failure_stop_code_is_an_incident_of_its_service():
    found = Normaliser().normalise(task_stopped())
    assert isinstance(found, IncidentRequest)
    assert (found.cluster, found.service, found.trigger.kind) == ("prod", "checkout", "task-stopped")
    assert "OutOfMemoryError" in found.trigger.summary


def test_task_events_are_deduplicated_on_task_arn_and_version():
    normaliser = Normaliser()
    assert isinstance(normaliser.normalise(task_stopped(version=5)), IncidentRequest)
    again = normaliser.normalise(task_stopped(version=5))
    assert isinstance(again, Dropped) and "duplicate" in again.reason
    assert isinstance(normaliser.normalise(task_stopped(version=6)), IncidentRequest)


def test_old_format_task_arn_without_cluster_arn_uses_the_single_allowed_cluster():
    old = task_stopped(task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/e9511a82-9247-4239-89e9-ffd548ed9ee4",
                       cluster_arn=None)
    assert isinstance(Normaliser().normalise(old), Dropped)
    found = Normaliser(["prod"]).normalise(old)
    assert isinstance(found, IncidentRequest) and found.cluster == "prod"


@pytest.mark.parametrize("change, why", [
    ({"last_status": "RUNNING", "stop_code": None}, "has not stopped"),
    ({"stop_code": "UserInitiated"}, "by a user"),
    ({"stop_code": "ServiceSchedulerInitiated", "reason": "Scaling activity initiated by (deployment ecs-svc/1)"},
     "scaling"),
    ({"stop_code": "ServiceSchedulerInitiated", "reason": "Deployment replaced this task"}, "replaced by the scheduler"),
    ({"group": "family:voterintake"}, "no service"),
])
def test_benign_or_unrelated_task_events_are_dropped_with_a_reason(change, why):
    dropped = Normaliser().normalise(task_stopped(**change))
    assert isinstance(dropped, Dropped) and why in dropped.reason


def test_deprovisioning_event_with_a_stop_code_counts_and_health_check_replacements_count():
    assert isinstance(Normaliser().normalise(task_stopped(last_status="DEPROVISIONING")), IncidentRequest)
    elb = task_stopped(stop_code="ServiceSchedulerInitiated", reason="Task failed ELB health checks in (target-group x)")
    assert isinstance(Normaliser().normalise(elb), IncidentRequest)


def test_alarm_single_metric_and_metric_math_resolve_to_the_service():
    for metrics in (SINGLE_METRIC, METRIC_MATH):
        found = Normaliser().normalise(alarm({"metrics": metrics}))
        assert isinstance(found, IncidentRequest)
        assert (found.cluster, found.service, found.trigger.alarm_name) == ("prod", "checkout", "checkout-memory-high")


def test_alarm_back_to_ok_is_dropped():
    assert isinstance(Normaliser().normalise(alarm({"metrics": SINGLE_METRIC}, state="OK")), Dropped)


def test_composite_alarm_is_resolved_by_tags_or_dropped_with_its_children_named():
    composite = {"alarmRule": "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)"}
    children = json.dumps({"triggeringAlarms": [{"arn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:ServerCpuTooHigh",
                                                 "state": {"value": "ALARM"}}]})
    dropped = Normaliser().normalise(alarm(composite, reason_data=children))
    assert isinstance(dropped, Dropped) and "composite alarm" in dropped.reason and "ServerCpuTooHigh" in dropped.reason
    found = Normaliser().normalise(alarm(composite, tags={"ClusterName": "prod", "ServiceName": "checkout"}))
    assert isinstance(found, IncidentRequest) and found.service == "checkout"


def test_alb_alarm_without_ecs_dimensions_is_dropped():
    alb = [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                                                  "dimensions": {"LoadBalancer": "app/web/1"}}}, "returnData": True}]
    assert isinstance(Normaliser().normalise(alarm({"metrics": alb})), Dropped)


@pytest.mark.parametrize("event", [None, "text", {}, {"detail-type": "EC2 Instance State-change Notification"},
                                   {"detail-type": "ECS Deployment State Change", "source": "aws.ecs", "detail": {}}])
def test_unparseable_and_unknown_events_are_dropped_not_raised(event):
    assert isinstance(Normaliser().normalise(event), Dropped)


def test_clusters_outside_allowed_clusters_are_dropped():
    dropped = Normaliser(["prod"]).normalise(deployment_failed())
    assert isinstance(dropped, Dropped) and "ALLOWED_CLUSTERS" in dropped.reason


def test_incident_ids_are_hourly_per_service_and_valid_execution_names():
    at = dt.datetime(2026, 1, 1, 12, 5, tzinfo=dt.UTC)
    a = incident_id("eu-west-1", "prod", "checkout", at)
    assert a == incident_id("eu-west-1", "prod", "checkout", at + dt.timedelta(minutes=50))
    assert a != incident_id("eu-west-1", "prod", "checkout", at + dt.timedelta(hours=1))
    assert a != incident_id("eu-west-1", "prod", "checkout-v2", at)
    long = incident_id("eu-west-1", "c" * 255, "s/" * 100, at)
    assert len(long) <= 80 and is_incident_id(long) and is_incident_id(a)


@pytest.fixture
def state_machine(aws_env):
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="incidents", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600,
                                                                          "End": True}}}))["stateMachineArn"]
        yield sfn, arn


def test_a_storm_of_500_events_for_one_service_starts_one_execution(state_machine):
    sfn, arn = state_machine
    knobs = RuntimeSettings().workflow_knobs()
    events = []
    for i in range(500):
        kind = i % 3
        if kind == 0:
            e = deployment_failed(event_id=f"d{i}", time="2020-05-23T12:31:14Z")
        elif kind == 1:
            e = service_action()
        else:
            e = task_stopped(version=i, task_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/default/{i:032x}",
                             cluster_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default", group="service:servicetest")
            e["region"], e["time"] = "us-west-2", "2020-05-23T12:40:00Z"
        if kind == 1:
            e = copy.deepcopy(e)
            e["time"] = "2020-05-23T12:10:00Z"
        events.append(e)
    # Two containers see the storm: each has its own memory, the execution name still makes one.
    first, second = (Intake(sfn, arn, knobs, Normaliser()) for _ in range(2))
    outcomes = [(first if i % 2 else second).handle(e) for i, e in enumerate(events)]
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1
    assert sum(o["outcome"] == "started" for o in outcomes) == 1
    assert {o["incident_id"] for o in outcomes} == {executions[0]["name"]}
    started = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert started["target"] == {"region": "us-west-2", "cluster": "default", "service": "servicetest"}
    assert started["settings"]["approval_timeout_s"] > started["settings"]["approval_ttl_s"]


def test_repeat_in_a_new_container_is_already_exists_not_an_error(state_machine):
    sfn, arn = state_machine
    knobs = RuntimeSettings().workflow_knobs()
    a = Intake(sfn, arn, knobs, Normaliser()).handle(deployment_failed())
    changed = deployment_failed(event_id="other")
    b = Intake(sfn, arn, knobs, Normaliser()).handle(changed)
    assert a["outcome"] == "started" and b["outcome"] == "duplicate" and a["execution_arn"] == b["execution_arn"]
