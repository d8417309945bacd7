"""Intake (incidents/intake.py): de-duplication, and what every request or drop says. Each test is named for the
behaviour it protects. Incident identity is test_guarded_behaviours_incident_keys.py."""
from __future__ import annotations

import json

import pytest

from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser
from tests.unit.test_intake import ACCOUNT, SINGLE_METRIC, alarm, deployment_failed, service_action, task_stopped


def task(n: int, version: int = 5) -> dict:
    return task_stopped(version=version, task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/{n:032x}")


def is_duplicate(found) -> bool:
    return isinstance(found, Dropped) and found.reason.startswith("duplicate task event")


# -- de-duplication: bounded memory, oldest forgotten first ---------------------------------------------------

def test_the_deduplicator_remembers_exactly_its_capacity():
    normaliser = Normaliser(dedupe_capacity=3)
    for n in range(3):
        assert isinstance(normaliser.normalise(task(n)), IncidentRequest)
    assert all(is_duplicate(normaliser.normalise(task(n))) for n in range(3))


def test_the_deduplicators_memory_is_bounded_the_oldest_is_forgotten_first():
    normaliser = Normaliser(dedupe_capacity=3)
    for n in range(5):
        normaliser.normalise(task(n))
    # tasks 2, 3, 4 are remembered (the newest three); 0 and 1 were forgotten, oldest first
    assert [is_duplicate(normaliser.normalise(task(n))) for n in (4, 3, 2)] == [True, True, True]
    assert isinstance(normaliser.normalise(task(0)), IncidentRequest)


def test_a_duplicate_does_not_make_the_deduplicator_forget_anything():
    normaliser = Normaliser(dedupe_capacity=2)
    normaliser.normalise(task(1))
    normaliser.normalise(task(2))
    for _ in range(5):
        assert is_duplicate(normaliser.normalise(task(1)))
    assert is_duplicate(normaliser.normalise(task(2)))


def test_by_default_ten_thousand_distinct_tasks_are_remembered():
    intake = Normaliser()
    for n in range(10_000):
        intake.normalise(task(n))
    assert is_duplicate(intake.normalise(task(0)))  # the oldest is still remembered
    intake.normalise(task(10_000))
    assert is_duplicate(intake.normalise(task(1))) and not is_duplicate(intake.normalise(task(0)))  # one more: forgot


def test_a_long_storm_of_distinct_tasks_keeps_only_the_newest_within_capacity():
    normaliser = Normaliser(dedupe_capacity=50)
    for n in range(1_000):
        normaliser.normalise(task(n))
    assert is_duplicate(normaliser.normalise(task(999))) and is_duplicate(normaliser.normalise(task(950)))
    assert isinstance(normaliser.normalise(task(949)), IncidentRequest)


def test_a_new_version_of_a_task_event_is_not_a_duplicate_of_the_old_one():
    normaliser = Normaliser()
    normaliser.normalise(task(1, version=5))
    assert isinstance(normaliser.normalise(task(1, version=6)), IncidentRequest)
    assert is_duplicate(normaliser.normalise(task(1, version=5)))


def test_a_dropped_benign_stop_is_not_remembered_as_seen():
    normaliser = Normaliser(dedupe_capacity=1)
    normaliser.normalise(task(1))
    benign = task_stopped(stop_code="UserInitiated", task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/{2:032x}")
    assert "stopped by a user" in normaliser.normalise(benign).reason
    assert is_duplicate(normaliser.normalise(task(1)))  # the benign stop took no room


# -- every drop says exactly why; every request says exactly what happened ---------------------------------------

def _with_detail(event: dict, **detail) -> dict:
    return {**event, "detail": {**event["detail"], **detail}}


COMPOSITE = {"alarmRule": "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)"}
CHILDREN = json.dumps({"triggeringAlarms": [{"arn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:ServerCpuTooHigh"},
                                            {"state": {}}]})
ALB = [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                                              "dimensions": {"LoadBalancer": "app/web/1"}}}, "returnData": True}]
HALF_DIMENSIONS = [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ECS", "name": "CPUUtilization",
                                                          "dimensions": {"ClusterName": "prod"}}}, "returnData": True}]

DROPS = [
    ("text", "not a JSON object", None, None),
    ({"detail-type": "EC2 Instance State-change Notification", "id": "e1"}, "not an incident event kind",
     "EC2 Instance State-change Notification", "e1"),
    ({"detail-type": "ECS Deployment State Change", "id": "e2", "detail": {}},
     "unparseable ECS Deployment State Change event (version, source, account, time, region)",
     "ECS Deployment State Change", "e2"),
    (_with_detail(deployment_failed(), eventName="SERVICE_DEPLOYMENT_COMPLETED"),
     "deployment event SERVICE_DEPLOYMENT_COMPLETED is not a failure", "ECS Deployment State Change", "d1"),
    (deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/servicetest"),
     f"deployment event without a service ARN that names the cluster (['arn:aws:ecs:us-west-2:{ACCOUNT}:service/"
     "servicetest']); legacy ARNs need exactly one ALLOWED_CLUSTERS entry", "ECS Deployment State Change", "d1"),
    (service_action("INFO", "SERVICE_STEADY_STATE"), "service action INFO SERVICE_STEADY_STATE is informational",
     "ECS Service Action", "sa1"),
    ({**service_action(), "resources": []}, "service action without a service/cluster ([])", "ECS Service Action",
     "sa1"),
    ({**service_action(), "resources": [f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default", "arn:aws:ecs:x"]},
     f"service action without a service/cluster (['arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default'])",
     "ECS Service Action", "sa1"),
    (task_stopped(last_status="RUNNING", stop_code=None), "task RUNNING/STOPPED has not stopped",
     "ECS Task State Change", "t5"),
    (task_stopped(group="family:x"), "task of group 'family:x' belongs to no service", "ECS Task State Change", "t5"),
    (task_stopped(stop_code="UserInitiated"), "task stopped by a user (UserInitiated)", "ECS Task State Change", "t5"),
    (task_stopped(stop_code="ServiceSchedulerInitiated", reason="Scaling activity initiated by (deployment ecs-svc/1)"),
     "task stopped by scaling", "ECS Task State Change", "t5"),
    (task_stopped(stop_code="ServiceSchedulerInitiated", reason="Deployment replaced this task"),
     "task replaced by the scheduler: Deployment replaced this task", "ECS Task State Change", "t5"),
    (task_stopped(stop_code="ServiceSchedulerInitiated", reason=None), "task replaced by the scheduler: no reason",
     "ECS Task State Change", "t5"),
    (task_stopped(task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/e9511a82", cluster_arn=None),
     "task event without a cluster", "ECS Task State Change", "t5"),
    (alarm({"metrics": SINGLE_METRIC}, state="OK"), "alarm checkout-memory-high went to OK, not ALARM",
     "CloudWatch Alarm State Change", "a1"),
    (alarm(COMPOSITE, reason_data=CHILDREN),
     "composite alarm checkout-memory-high does not point at an ECS service (no ClusterName + ServiceName dimensions "
     f"or tags); child alarms ['arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:ServerCpuTooHigh', '?']",
     "CloudWatch Alarm State Change", "a1"),
    (alarm({"metrics": ALB}), "alarm checkout-memory-high does not point at an ECS service (no ClusterName + "
                              "ServiceName dimensions or tags)", "CloudWatch Alarm State Change", "a1"),
    (alarm({"metrics": HALF_DIMENSIONS}, tags={"ServiceName": "checkout"}),
     "alarm checkout-memory-high does not point at an ECS service (no ClusterName + ServiceName dimensions or tags)",
     "CloudWatch Alarm State Change", "a1"),
    (deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/pr od/ser:vice"),
     "cluster 'pr od' and service 'ser:vice': not a valid ECS name", "ECS Deployment State Change", "d1"),
    (deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/prod/" + "s:" * 60),
     f"service {'s:' * 40!r}: not a valid ECS name", "ECS Deployment State Change", "d1"),  # names cut to 80
    ({**deployment_failed(), "detail": {k: v for k, v in deployment_failed()["detail"].items() if k != "eventName"}},
     "unparseable ECS Deployment State Change event (detail.eventName)", "ECS Deployment State Change", "d1"),
    ({**deployment_failed(), "resources": []}, "deployment event without a service ARN that names the cluster ([]); "
                                               "legacy ARNs need exactly one ALLOWED_CLUSTERS entry",
     "ECS Deployment State Change", "d1"),
    ({**deployment_failed(), "resources": [f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/servicetest",
                                           f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/other"]},
     f"deployment event without a service ARN that names the cluster (['arn:aws:ecs:us-west-2:{ACCOUNT}:service/"
     "servicetest']); legacy ARNs need exactly one ALLOWED_CLUSTERS entry", "ECS Deployment State Change", "d1"),
]


@pytest.mark.parametrize("event, reason, detail_type, event_id", DROPS,
                         ids=[f"{i}-{d[1][:40]}" for i, d in enumerate(DROPS)])
def test_every_dropped_event_says_exactly_why(event, reason, detail_type, event_id):
    assert Normaliser().normalise(event) == Dropped(reason=reason, detail_type=detail_type, event_id=event_id)


def test_an_event_of_a_cluster_outside_the_allowed_ones_is_dropped_saying_so():
    assert Normaliser(["prod"]).normalise(deployment_failed()).reason == "cluster default is not in ALLOWED_CLUSTERS"


REQUESTS = [
    (deployment_failed(), "us-west-2", "default", "servicetest", "deployment-failed",
     "SERVICE_DEPLOYMENT_FAILED (ecs-svc/123): ECS deployment circuit breaker: tasks failed to start.", "d1",
     "2020-05-23T12:31:14+00:00", None),
    (service_action(), "us-west-2", "default", "servicetest", "service-action",
     "ERROR SERVICE_TASK_PLACEMENT_FAILURE: RESOURCE:FARGATE", "sa1", "2019-11-19T19:55:38+00:00", None),
    (task_stopped(), "eu-west-1", "prod", "checkout", "task-stopped",
     "task 0123456789abcdef0123456789abcdef stopped (EssentialContainerExited): Essential container in task exited; "
     "OutOfMemoryError: Container killed due to memory usage", "t5", "2026-01-01T12:00:05+00:00", None),
    (alarm({"metrics": SINGLE_METRIC}), "eu-west-1", "prod", "checkout", "alarm",
     "alarm checkout-memory-high in ALARM: Threshold Crossed: 3 out of the last 3 datapoints", "a1",
     "2026-01-01T12:05:00+00:00", "checkout-memory-high"),
]


@pytest.mark.parametrize("event, region, cluster, service, kind, summary, event_id, at, alarm_name", REQUESTS,
                         ids=["deployment", "service-action", "task", "alarm"])
def test_every_incident_request_says_exactly_what_happened(event, region, cluster, service, kind, summary, event_id,
                                                           at, alarm_name):
    found = Normaliser().normalise(event)
    assert (found.cluster, found.service) == (cluster, service)
    trigger = found.trigger
    assert (trigger.kind, trigger.summary, trigger.event_id, trigger.at, trigger.alarm_name) == (
        kind, summary, event_id, at, alarm_name)


def test_a_task_summary_without_reasons_says_so():
    event = task_stopped(reason=None)
    event["detail"]["containers"] = [{"name": "app", "lastStatus": "STOPPED", "exitCode": 1}]
    assert Normaliser().normalise(event).trigger.summary == (
        "task 0123456789abcdef0123456789abcdef stopped (EssentialContainerExited): ?")


def test_an_alarm_summary_without_a_state_reason_ends_at_the_state():
    event = alarm({"metrics": SINGLE_METRIC})
    event["detail"]["state"]["reason"] = None
    assert Normaliser().normalise(event).trigger.summary == "alarm checkout-memory-high in ALARM:"


def test_an_alarm_with_only_tags_naming_the_service_points_at_it():
    found = Normaliser().normalise(alarm({"metrics": ALB}, tags={"ClusterName": "prod", "ServiceName": "checkout"}))
    assert (found.cluster, found.service) == ("prod", "checkout")


def test_a_deployment_failure_without_an_id_or_reason_says_so():
    event = deployment_failed()
    del event["detail"]["deploymentId"], event["detail"]["reason"]
    assert Normaliser().normalise(event).trigger.summary == "SERVICE_DEPLOYMENT_FAILED (?): no reason given"


def test_a_service_action_without_a_reason_is_summarised_by_its_type_and_name():
    event = service_action()
    del event["detail"]["reason"]
    assert Normaliser().normalise(event).trigger.summary == "ERROR SERVICE_TASK_PLACEMENT_FAILURE"


def test_a_service_action_with_a_legacy_service_arn_takes_the_cluster_from_its_cluster_arn():
    event = {**service_action(), "resources": [f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/servicetest"]}
    found = Normaliser().normalise(event)
    assert (found.cluster, found.service) == ("default", "servicetest")


def test_a_task_event_takes_its_cluster_from_the_cluster_arn_or_else_from_a_new_format_task_arn():
    legacy_task = Normaliser().normalise(task_stopped(task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/e9511a82",
                                                      cluster_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/prod"))
    no_cluster_arn = Normaliser().normalise(task_stopped(cluster_arn=None))
    assert legacy_task.cluster == "prod" and no_cluster_arn.cluster == "prod"


def test_a_stopped_task_without_a_stop_code_is_still_an_incident_of_an_unknown_kind():
    found = Normaliser().normalise(task_stopped(stop_code=None))
    assert isinstance(found, IncidentRequest) and "stopped (None)" in found.trigger.summary
    assert found.trigger.signature == "task-stopped:unknown"


def test_only_the_first_four_times_the_summary_limit_of_an_event_text_is_read():
    """Redaction's work is bounded: what lies beyond is never read, even when redaction would shrink the rest."""
    found = Normaliser().normalise(task_stopped(reason="password=" + "a" * 2100 + " TAIL"))
    assert "password=<redacted>" in found.trigger.summary and "TAIL" not in found.trigger.summary


def test_a_task_still_stopping_with_a_stop_code_counts_as_stopped():
    assert isinstance(Normaliser().normalise(task_stopped(last_status="DEACTIVATING")), IncidentRequest)
    assert "has not stopped" in Normaliser().normalise(task_stopped(last_status="DEACTIVATING", stop_code=None)).reason


# -- the exact service an event is about ------------------------------------------------------------------------

def test_a_service_arn_in_the_event_is_the_authority_on_account_and_region():
    """The ARN's region and account win over the envelope's (they agree in AWS; when they don't, the ARN names the
    service the event is about)."""
    for make in (deployment_failed, service_action):
        event = make()
        event["region"], event["account"] = "eu-central-1", "999999999999"
        found = Normaliser().normalise(event)
        assert isinstance(found, IncidentRequest), found
        assert (found.target.region, found.target.account) == ("us-west-2", ACCOUNT)
        assert found.target.service_arn == f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/default/servicetest"


def test_without_a_service_arn_that_names_it_the_service_is_the_events_account_and_region():
    legacy = deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/servicetest")
    legacy["region"] = "eu-central-1"
    found = Normaliser(["default"]).normalise(legacy)
    assert isinstance(found, IncidentRequest)
    assert found.target.service_arn == f"arn:aws:ecs:eu-central-1:{ACCOUNT}:service/default/servicetest"


def test_the_partition_comes_from_the_events_resources():
    event = task_stopped()
    event["resources"] = ["not-an-arn", "arn:aws-cn:ecs:cn-north-1:111122223333:task/prod/0123456789abcdef"]
    event["region"] = "cn-north-1"
    event["detail"]["clusterArn"] = "arn:aws-cn:ecs:cn-north-1:111122223333:cluster/prod"
    found = Normaliser().normalise(event)
    assert found.target.partition == "aws-cn" and found.target.cluster_arn.startswith("arn:aws-cn:ecs:cn-north-1:")
    event["resources"] = ["not-an-arn", "arn:other:ecs:cn-north-1:111122223333:task/prod/0123"]
    assert Normaliser().normalise(event).target.partition == "aws"  # nothing says otherwise: the commercial one


def test_an_event_whose_account_is_not_an_account_is_dropped_saying_so():
    event = alarm({"metrics": SINGLE_METRIC})
    event["account"] = "1234"
    dropped = Normaliser().normalise(event)
    assert isinstance(dropped, Dropped)
    assert dropped.reason == "not a service identity: account '1234' is not a valid ECS account"
    assert (dropped.detail_type, dropped.event_id) == ("CloudWatch Alarm State Change", "a1")


def test_a_stopped_tasks_summary_names_the_task_by_its_id():
    found = Normaliser().normalise(task_stopped())
    assert found.trigger.summary.startswith("task 0123456789abcdef0123456789abcdef stopped (EssentialContainerExited): ")


def test_a_signature_is_at_most_200_characters():
    event = alarm({"metrics": SINGLE_METRIC})
    event["detail"]["alarmName"] = "x" * 255
    assert len(Normaliser().normalise(event).trigger.signature) == 200


@pytest.mark.parametrize(("name", "description", "actions", "expected"), [
    ("TargetTracking-service/prod/checkout-AlarmHigh-1", None, None,
     "Application Auto Scaling's target tracking alarm"),
    ("cpu", "DO NOT EDIT OR DELETE. For StepScaling policy x", None,
     "an alarm Application Auto Scaling created and manages"),
    ("cpu", None, [f"arn:aws:autoscaling:eu-west-1:{ACCOUNT}:scalingPolicy:1:resource/ecs/service/prod/x:policyName/up"],
     "its only actions are Application Auto Scaling policies (step scaling)"),
])
def test_a_scaling_alarm_is_dropped_saying_which_kind(name, description, actions, expected):
    event = alarm({"metrics": SINGLE_METRIC, **({"description": description} if description else {})})
    event["detail"]["alarmName"] = name
    dropped = Normaliser(alarm_actions=lambda *_: actions).normalise(event)
    assert dropped.reason == f"alarm {name} is a scaling signal, not an incident: {expected}"
