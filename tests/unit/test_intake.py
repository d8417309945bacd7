"""Intake's normaliser: the four event kinds (old and new ARNs) to an exact service and a trigger with its failure
signature, drops with reasons (scaling alarms included), de-duplication. Opening or joining incidents, with a
storm of events, is tests/integration/test_incident_identity.py (PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from agents.aws_ecs_service.domain.incident_keys import incident_id, is_incident_id
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser

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
    assert found.target == ServiceTarget.from_arns(f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default",
                                                   f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/default/servicetest")
    assert (found.trigger.kind, found.trigger.signature) == ("deployment-failed", "deployment-failed")
    assert "tasks failed to start" in found.trigger.summary


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


def test_incident_ids_name_the_service_and_are_unique_per_service_identity_and_opening_signal():
    at = dt.datetime(2026, 1, 1, 12, 5, tzinfo=dt.UTC)
    east = ServiceTarget.from_names(ACCOUNT, "eu-west-1", "prod", "checkout")
    a = incident_id(east, at, "event-1")
    assert a.startswith("inc-prod-checkout-20260101T120500-") and is_incident_id(a)
    assert a == incident_id(east, at, "event-1")  # a redelivered event names the same execution
    assert a != incident_id(east, at, "event-2")
    for twin in (ServiceTarget.from_names(ACCOUNT, "us-east-1", "prod", "checkout"),
                 ServiceTarget.from_names("444455556666", "eu-west-1", "prod", "checkout")):
        assert incident_id(twin, at, "event-1") != a
    long = incident_id(ServiceTarget.from_names(ACCOUNT, "eu-west-1", "c" * 255, "s" * 255), at, "e")
    assert len(long) <= 80 and is_incident_id(long)


def test_same_named_services_in_other_regions_or_accounts_are_other_targets():
    east = Normaliser().normalise(alarm({"metrics": SINGLE_METRIC}))
    west_event = alarm({"metrics": SINGLE_METRIC})
    west_event["region"] = "us-west-2"
    west = Normaliser().normalise(west_event)
    other_event = alarm({"metrics": SINGLE_METRIC})
    other_event["account"] = "444455556666"
    other = Normaliser().normalise(other_event)
    assert len({east.target.key, west.target.key, other.target.key}) == 3
    assert (west.target.region, other.target.account) == ("us-west-2", "444455556666")


def test_signatures_tell_one_kind_of_failure_from_another():
    assert Normaliser().normalise(service_action()).trigger.signature == "service:SERVICE_TASK_PLACEMENT_FAILURE"
    assert Normaliser().normalise(task_stopped()).trigger.signature == "task-stopped:EssentialContainerExited"
    assert Normaliser().normalise(alarm({"metrics": SINGLE_METRIC})).trigger.signature == "alarm:checkout-memory-high"


def scaling(name: str, description: str | None = None) -> dict:
    event = alarm({"metrics": SINGLE_METRIC, **({"description": description} if description else {})})
    event["detail"]["alarmName"] = name
    return event


def test_application_auto_scaling_alarms_are_scaling_signals_not_incidents():
    tracking = scaling("TargetTracking-service/prod/checkout-AlarmHigh-5b3c6d3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                       "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy arn:aws:autoscaling:eu-west-1:"
                       f"{ACCOUNT}:scalingPolicy:1:resource/ecs/service/prod/checkout:policyName/cpu75.")
    dropped = Normaliser().normalise(tracking)
    assert isinstance(dropped, Dropped) and "target tracking" in dropped.reason
    renamed = scaling("cpu-scale-out", "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy x")
    assert "Application Auto Scaling created" in Normaliser().normalise(renamed).reason
    policy = f"arn:aws:autoscaling:eu-west-1:{ACCOUNT}:scalingPolicy:1:resource/ecs/service/prod/checkout:policyName/up"
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:pager"
    step = scaling("checkout-cpu-step")
    asked: list[tuple[str, str, str]] = []

    def actions(found: list[str]):
        return lambda account, region, name: asked.append((account, region, name)) or found

    dropped = Normaliser(alarm_actions=actions([policy])).normalise(step)
    assert isinstance(dropped, Dropped) and "step scaling" in dropped.reason
    assert asked == [(ACCOUNT, "eu-west-1", "checkout-cpu-step")]
    # an alarm that pages someone as well as scaling is an incident alarm
    assert isinstance(Normaliser(alarm_actions=actions([policy, topic])).normalise(step), IncidentRequest)
    assert isinstance(Normaliser(alarm_actions=lambda *_: None).normalise(step), IncidentRequest)
