"""The deployments analyzer at its boundaries: which deployments fail, what each signal quotes, and what the
analyzer proposes when the service is scaled to zero or a deployment fails with nothing below it.

Through the module's public functions (`deployment_line`, `failing_deployments`, `DeploymentAnalyzer.propose`) over
views read from evidence documents built with tests/unit/evidence_builder.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier
from agents.aws_ecs_service.diagnosis.analyzers.deployments import (
    DeploymentAnalyzer,
    deployment_line,
    failing_deployments,
)
from agents.aws_ecs_service.diagnosis.analyzers.events import event_signals
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import NOW, EvidenceBuilder, ago, failing_deploy

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:{}"
SD = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/api/{}"
LONG = "circuit breaker: tasks failed to start " + "x" * 300


def at(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def deployments_of(evidence: dict[str, Any]):
    view = read_view(evidence)
    return failing_deployments(view, event_signals(view))


def quoted(signals) -> list[tuple[str, str, dt.datetime | None, str | None]]:
    return [(s.rule.id, s.line, s.at, s.deployment_id) for s in signals]


def with_deployments(*deployments: dict[str, Any], **evidence: Any) -> dict[str, Any]:
    """A steady service whose DescribeServices deployments are exactly these."""
    b = EvidenceBuilder()
    b.deployment(11)
    doc = b.build()
    doc["service"]["deployments"] = list(deployments)
    doc.update(evidence)
    return doc


# ---- deployment_line ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("deployment, line", [
    ({"id": "ecs-svc/7", "taskDefinition": TD.format(12), "status": "PRIMARY", "rolloutState": "FAILED",
      "failedTasks": 3, "runningCount": 1, "desiredCount": 2, "createdAt": "2025-03-14T11:20:00+00:00",
      "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."},
     "deployment ecs-svc/7 (api:12): status PRIMARY, rolloutState FAILED, failedTasks 3, running 1 of 2, "
     "created 2025-03-14T11:20:00+00:00: ECS deployment circuit breaker: tasks failed to start."),
    ({}, "deployment ? (): status ?, rolloutState n/a, failedTasks 0, running 0 of 0, created ?"),
    ({"id": "ecs-svc/8", "rolloutState": None, "failedTasks": None, "runningCount": None, "desiredCount": None,
      "rolloutStateReason": ""},
     "deployment ecs-svc/8 (): status ?, rolloutState n/a, failedTasks 0, running 0 of 0, created ?"),
    ({"id": "ecs-svc/9", "rolloutStateReason": LONG},
     "deployment ecs-svc/9 (): status ?, rolloutState n/a, failedTasks 0, running 0 of 0, created ?: "
     + LONG[:199] + "…"),
])
def test_a_deployment_line_names_id_revision_state_counts_and_creation_and_clips_the_reason_to_200(deployment, line):
    assert deployment_line(deployment) == line


# ---- which DescribeServices deployments fail -----------------------------------------------------------------

@pytest.mark.parametrize("fields, rule", [
    ({"rolloutState": "FAILED", "failedTasks": 0}, "F30"),
    ({"rolloutState": "IN_PROGRESS", "failedTasks": 2}, "F30"),
    ({"failedTasks": 1}, "F30"),                                      # no rollout state: NONE with failed tasks
    ({"rolloutState": None, "failedTasks": 1}, "F30"),
    ({"rolloutState": "IN_PROGRESS"}, None),                           # failed tasks unknown: none failed
    ({"rolloutState": "IN_PROGRESS", "failedTasks": None}, None),
    ({"rolloutState": "IN_PROGRESS", "failedTasks": 0}, None),
    ({"rolloutState": "IN_PROGRESS", "failedTasks": 0,
      "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."}, "F30"),
    ({"rolloutState": "COMPLETED", "failedTasks": 0}, None),           # a steady state is no wrapper
    ({"rolloutState": "COMPLETED", "failedTasks": 0, "rolloutStateReason": "alarm detected"}, "F32"),
])
def test_a_deployment_fails_by_its_rollout_state_failed_tasks_or_reason(fields, rule):
    d = {"id": "ecs-svc/5", "status": "PRIMARY", "taskDefinition": TD.format(12), "createdAt": ago(30),
         "updatedAt": ago(3), **fields}
    found = deployments_of(with_deployments(d))
    if rule is None:
        assert (found.failing, found.failing_ids, found.wrapper_signals, found.revisions) == ([], set(), [], set())
        assert not found.active
    else:
        assert found.failing == [d] and found.failing_ids == {"ecs-svc/5"} and found.revisions == {TD.format(12)}
        assert quoted(found.wrapper_signals) == [(rule, deployment_line(d), at(3), "ecs-svc/5")]
        assert found.active


def test_failing_deployments_are_listed_newest_first_with_their_revisions():
    old = {"id": "ecs-svc/1", "taskDefinition": TD.format(10), "rolloutState": "FAILED", "createdAt": ago(90)}
    new = {"id": "ecs-svc/2", "taskDefinition": TD.format(11), "rolloutState": "FAILED", "createdAt": ago(20)}
    bare = {"id": "ecs-svc/3", "rolloutState": "FAILED", "createdAt": ago(50)}  # no task definition named
    found = deployments_of(with_deployments(old, new, bare))
    assert [d["id"] for d in found.failing] == ["ecs-svc/2", "ecs-svc/3", "ecs-svc/1"]
    assert found.revisions == {TD.format(10), TD.format(11)}
    assert found.failing_ids == {"ecs-svc/1", "ecs-svc/2", "ecs-svc/3"}


def test_a_failing_deployment_without_an_id_fails_but_adds_no_id():
    d = {"taskDefinition": TD.format(12), "rolloutState": "FAILED"}
    found = deployments_of(with_deployments(d))
    assert found.failing == [d] and found.failing_ids == set()
    assert quoted(found.wrapper_signals) == [("F30", deployment_line(d), None, None)]


# ---- the whole picture: DescribeServices, DescribeServiceDeployments, events --------------------------------

def test_failing_deployments_gathers_deployments_service_deployments_and_wrapper_events():
    b = failing_deploy(rollout="FAILED", reason="ECS deployment circuit breaker: tasks failed to start.")
    b.deployment(13, status="ACTIVE", rollout="IN_PROGRESS", age=30, dep_id="ecs-svc/13")  # only an event names it
    b.service_deployment(14, "ROLLBACK_SUCCESSFUL", age=60 * 5)  # finished before the window: says nothing
    b.service_deployment(15, "ROLLBACK_SUCCESSFUL", age=20, source=12, triggered_alarms=["api-5xx", "api-latency"],
                         reason="rolled back")
    b.service_deployment(16, "SUCCESSFUL", age=10)
    b.service_deployment(17, "ROLLBACK_SUCCESSFUL", age=10, triggered_alarms=["api-5xx"])
    b.event("(service api) (deployment ecs-svc/13) deployment failed: tasks failed to start.", age=15)
    b.event("(service api) deployment failed: alarm detected.", age=14)
    b.event("(service api) was unable to place a task because no container instance met all of its requirements.",
            age=13)
    found = deployments_of(b.build())
    new, event = "ecs-svc/1000012", "ecs-svc/13"
    assert [d["id"] for d in found.failing] == [event, new]
    assert found.failing_ids == {new, event}
    assert found.triggered_alarms == ["api-5xx", "api-latency"]
    assert found.revisions == {TD.format(12), TD.format(13), TD.format(15), TD.format(17)}
    assert quoted(found.wrapper_signals) == [
        ("F30", f"deployment {new} (api:12): status PRIMARY, rolloutState FAILED, failedTasks 3, running 0 of 2, "
                f"created {ago(40)}: ECS deployment circuit breaker: tasks failed to start.", at(2), new),
        ("F32", "service deployment sd1 (api:15): status ROLLBACK_SUCCESSFUL: rolled back", None, None),
        ("F32", "service deployment sd3 (api:17): status ROLLBACK_SUCCESSFUL", None, None),
        ("F32", f"event {at(14).isoformat()}: (service api) deployment failed: alarm detected.", at(14), None),
        ("F30", f"event {at(15).isoformat()}: (service api) (deployment ecs-svc/13) deployment failed: tasks failed "
                "to start.", at(15), event),
    ]


def service_deployment(**fields: Any) -> dict[str, Any]:
    return {"serviceDeploymentArn": SD.format("sd9"), "status": "ROLLBACK_SUCCESSFUL", **fields}


@pytest.mark.parametrize("times, counts", [
    ({"finishedAt": ago(10), "updatedAt": ago(300), "createdAt": ago(300)}, True),
    ({"finishedAt": ago(300), "updatedAt": ago(10), "createdAt": ago(10)}, False),  # finished before the window
    ({"updatedAt": ago(10), "createdAt": ago(300)}, True),     # still running: when it last changed
    ({"updatedAt": ago(300), "createdAt": ago(10)}, False),
    ({"createdAt": ago(10)}, True),
    ({"createdAt": ago(300)}, False),
    ({}, True),                                                 # no time at all: not known to be outside
])
def test_a_service_deployment_counts_when_it_finished_else_last_changed_else_started_inside_the_window(times, counts):
    found = deployments_of(with_deployments(service_deployments=[service_deployment(**times)]))
    assert [s.rule.id for s in found.wrapper_signals] == (["F31"] if counts else [])


def test_a_service_deployment_outside_the_window_does_not_hide_the_ones_after_it():
    sds = [service_deployment(finishedAt=ago(300)), service_deployment(finishedAt=ago(10), statusReason="second")]
    found = deployments_of(with_deployments(service_deployments=sds))
    assert [s.line for s in found.wrapper_signals] == ["service deployment sd9: status ROLLBACK_SUCCESSFUL: second"]


@pytest.mark.parametrize("fields, rule", [
    ({"status": "ROLLBACK_SUCCESSFUL"}, "F31"),
    ({"status": "FAILED"}, "F30"),
    ({"status": "STOPPED"}, "F30"),
    ({"status": "IN_PROGRESS", "statusReason": "rolling back to deploymentId sd1"}, "F31"),
    ({"status": "IN_PROGRESS", "alarms": {"triggeredAlarmNames": ["api-5xx"]}}, "F32"),
    ({"status": "IN_PROGRESS", "alarms": {"triggeredAlarmNames": []}}, None),
    ({"status": "IN_PROGRESS", "alarms": None}, None),
    ({"status": "IN_PROGRESS"}, None),
    ({"status": "SUCCESSFUL"}, None),
    ({}, None),
])
def test_a_service_deployment_fails_by_its_status_reason_or_triggered_alarms(fields, rule):
    found = deployments_of(with_deployments(service_deployments=[{"serviceDeploymentArn": SD.format("sd4"),
                                                                   "finishedAt": ago(5), **fields}]))
    assert [s.rule.id for s in found.wrapper_signals] == ([rule] if rule else [])
    assert found.triggered_alarms == (["api-5xx"] if rule == "F32" else [])
    assert found.failing == [] and found.failing_ids == set()


def test_triggered_alarms_of_all_failing_service_deployments_are_gathered_once_sorted():
    sds = [service_deployment(finishedAt=ago(10), alarms={"triggeredAlarmNames": ["b-latency", "a-5xx"]}),
           service_deployment(finishedAt=ago(9), alarms={"triggeredAlarmNames": ["a-5xx", "c-errors"]}),
           service_deployment(finishedAt=ago(8), status="SUCCESSFUL", alarms={"triggeredAlarmNames": None}),
           service_deployment(finishedAt=ago(300), alarms={"triggeredAlarmNames": ["d-old"]})]
    assert deployments_of(with_deployments(service_deployments=sds)).triggered_alarms == \
        ["a-5xx", "b-latency", "c-errors"]


@pytest.mark.parametrize("target, revisions, line", [
    ({"arn": "rev/1"}, {TD.format(21)}, "service deployment sd9 (api:21): status ROLLBACK_SUCCESSFUL: " + "y" * 199
     + "…"),
    ({"taskDefinition": TD.format(22)}, {TD.format(22)},
     "service deployment sd9 (api:22): status ROLLBACK_SUCCESSFUL: " + "y" * 199 + "…"),
    ("rev/1", {TD.format(21)}, "service deployment sd9 (api:21): status ROLLBACK_SUCCESSFUL: " + "y" * 199 + "…"),
    ({"arn": "rev/unknown"}, set(), "service deployment sd9: status ROLLBACK_SUCCESSFUL: " + "y" * 199 + "…"),
    (None, set(), "service deployment sd9: status ROLLBACK_SUCCESSFUL: " + "y" * 199 + "…"),
])
def test_a_failing_service_deployment_names_the_revision_it_deployed_and_its_reason_clipped_to_200(
        target, revisions, line):
    sd = service_deployment(finishedAt=ago(10), targetServiceRevision=target, statusReason="y" * 250)
    found = deployments_of(with_deployments(
        service_deployments=[sd], service_revisions=[{"serviceRevisionArn": "rev/1", "taskDefinition": TD.format(21)}]))
    assert found.revisions == revisions
    assert [s.line for s in found.wrapper_signals] == [line]


# ---- the CloudFormation stack -------------------------------------------------------------------------------

@pytest.mark.parametrize("stack, line", [
    ({"StackName": "api-stack", "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "StackStatusReason": "z" * 250,
      "LastUpdatedTime": ago(20), "CreationTime": ago(60 * 24 * 30)},
     "stack api-stack: UPDATE_ROLLBACK_COMPLETE: " + "z" * 199 + "…"),
    ({"StackName": "api-stack", "StackStatus": "CREATE_FAILED", "CreationTime": ago(20)},
     "stack api-stack: CREATE_FAILED"),
    ({"StackName": "api-stack", "StackStatus": "UPDATE_COMPLETE", "StackStatusReason": "rolled ROLLBACK",
      "LastUpdatedTime": ago(20)}, "stack api-stack: UPDATE_COMPLETE: rolled ROLLBACK"),  # the reason counts too
    ({"StackName": "api-stack", "StackStatus": "UPDATE_ROLLBACK_COMPLETE"}, "stack api-stack: UPDATE_ROLLBACK_COMPLETE"),
    ({"StackName": "api-stack", "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "LastUpdatedTime": ago(60 * 5),
      "CreationTime": ago(20)}, None),  # failed long before the window
    ({"StackName": "api-stack", "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "CreationTime": ago(60 * 5)}, None),
    ({"StackName": "api-stack", "StackStatus": "UPDATE_COMPLETE", "LastUpdatedTime": ago(20)}, None),
    ({}, None),
])
def test_a_stack_that_failed_or_rolled_back_inside_the_window_is_a_wrapper_signal(stack, line):
    found = deployments_of(with_deployments(cloudformation={"stack": stack}))
    assert quoted(found.wrapper_signals) == ([("C01", line, None, None)] if line else [])


def test_no_cloudformation_evidence_is_no_stack_signal():
    for doc in (with_deployments(cloudformation=None), with_deployments(cloudformation={"stack": None})):
        assert deployments_of(doc).wrapper_signals == []


# ---- DeploymentAnalyzer: scaled to zero ---------------------------------------------------------------------

def scaled_to_zero(desired: int = 0, running: int = 0) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    return b


def test_a_service_scaled_to_zero_quotes_its_counts_the_scale_in_events_and_the_scaled_in_tasks():
    b = scaled_to_zero()
    for age, n in ((30, 1), (20, 2), (10, 3)):
        b.event(f"(service api) has stopped {n} running tasks: (task a{n}).", age=age)
    b.event("(service api) has stopped running tasks: (task ab).", age=5)  # no count: not a scale-in line
    b.event("(service api) has reached a steady state.", age=4)
    tasks = [b.stopped(31, "ServiceSchedulerInitiated", reason, exit_code=143, age=age) for age, reason in (
        (40, "Scaling activity initiated by (deployment ecs-svc/1000031)"),
        (35, "scaling activity initiated by deployment ecs-svc/1000031"),
        (32, "Scaling activity initiated by (deployment ecs-svc/1000031)"),
        (31, "Task stopped by user"))]
    [h] = DeploymentAnalyzer().propose(Analysis(read_view(b.build())))
    assert (h.cause, h.rule.id, h.confidence, h.severity, h.tier) == ("scaled-to-zero", "S01", 0.9, "high",
                                                                      Tier.SERVICE_STATE)
    assert h.summary == "The service's desired count is 0: it was scaled down and runs no tasks."
    assert h.evidence == [
        "service api: desiredCount 0, runningCount 0",
        f"event {at(10).isoformat()}: (service api) has stopped 3 running tasks: (task a3).",
        f"event {at(20).isoformat()}: (service api) has stopped 2 running tasks: (task a2).",
        f"task/{tasks[0][:8]}: Scaling activity initiated by (deployment ecs-svc/1000031)",
        f"task/{tasks[1][:8]}: scaling activity initiated by deployment ecs-svc/1000031",
    ]
    assert h.verdicts == [] and h.signals == []


@pytest.mark.parametrize("desired, running", [(1, 0), (0, 1), (2, 2)])
def test_a_service_with_desired_or_running_tasks_is_not_scaled_to_zero(desired, running):
    assert DeploymentAnalyzer().propose(Analysis(read_view(scaled_to_zero(desired, running).build()))) == []


def test_a_single_stopped_running_task_reads_as_a_scale_in_line():
    b = scaled_to_zero().event("(service api) has stopped 1 running task: (task a1).", age=3)
    [h] = DeploymentAnalyzer().propose(Analysis(read_view(b.build())))
    assert h.evidence[1:] == [f"event {at(3).isoformat()}: (service api) has stopped 1 running task: (task a1)."]


def test_without_a_service_description_nothing_is_scaled_to_zero():
    doc = scaled_to_zero().build()
    doc["service"] = {}
    assert DeploymentAnalyzer().propose(Analysis(read_view(doc))) == []


# ---- DeploymentAnalyzer: a failure nothing explains ---------------------------------------------------------

def test_a_healthy_service_gets_no_guess():
    b = EvidenceBuilder()
    b.deployment(31)
    assert DeploymentAnalyzer().propose(Analysis(read_view(b.build()))) == []


def test_a_failing_deployment_nothing_explains_is_a_guess_at_the_new_revisions_application():
    b = failing_deploy(rollout="FAILED", reason="ECS deployment circuit breaker: tasks failed to start.")
    for age in (15, 14, 13, 12):
        b.event(f"(service api) (deployment ecs-svc/1000012) deployment failed: tasks failed to start ({age}).",
                age=age)
    analysis = Analysis(read_view(b.build()))
    [h] = DeploymentAnalyzer().propose(analysis)
    assert (h.cause, h.rule.id, h.confidence, h.severity, h.tier) == ("app-crash", "F01b", 0.2, "high", Tier.GUESS)
    assert h.summary == ("A deployment is failing and no stopped task, event or log names the cause; the new "
                         "revision's application is the most likely suspect.")
    line = deployment_line(analysis.deployments.failing[0])
    assert h.evidence == [line] + [s.line for s in analysis.deployments.wrapper_signals][1:3]
    assert h.verdicts == [] and h.signals == []


def test_tasks_stopped_for_reasons_no_rule_knows_are_a_guess_that_quotes_three_of_them():
    b = EvidenceBuilder(desired=2, running=1)
    b.deployment(31)
    for age in (14, 13, 12, 11):
        b.stopped(31, None, f"Something odd happened ({age})", exit_code=None, age=age)
    analysis = Analysis(read_view(b.build()))
    [h] = DeploymentAnalyzer().propose(analysis)
    assert (h.cause, h.rule.id, h.confidence, h.severity, h.tier) == ("app-crash", "F01b", 0.2, "high", Tier.GUESS)
    assert h.summary == "4 tasks stopped for reasons no rule recognises."
    assert len(analysis.failures) == 4
    assert h.evidence == [v.line() for v in analysis.failures][:3]
    assert h.verdicts == analysis.failures


def test_a_deployment_failed_by_a_cpu_alarm_is_a_guess_at_that_alarm():
    b = failing_deploy(rollout="IN_PROGRESS", failed=0)
    b.service_deployment(12, "ROLLBACK_SUCCESSFUL", age=20, reason="rolled back", triggered_alarms=["api-cpu-high"])
    for age in (15, 14, 13):
        b.event(f"(service api) deployment failed: alarm detected ({age}).", age=age)
    b.alarm("api-cpu-high", "CPUUtilization").alarm("api-memory-high", "MemoryUtilization")
    analysis = Analysis(read_view(b.build()))
    [h] = DeploymentAnalyzer().propose(analysis)
    cpu = [s for s in analysis.alarm_signals if "api-cpu-high" in s.line]
    assert (h.cause, h.rule.id, h.confidence, h.severity, h.tier) == ("cpu-saturation", "A01", 0.35, "high",
                                                                      Tier.GUESS)
    assert h.summary == "A CPU alarm for the service is in ALARM."
    assert h.evidence == [cpu[0].line] + [s.line for s in analysis.deployments.wrapper_signals][:2]
    assert len(analysis.deployments.wrapper_signals) == 4
    assert h.signals == cpu and h.verdicts == []


def test_an_alarm_no_deployment_triggered_is_no_guess_at_that_alarm():
    b = failing_deploy(rollout="FAILED")
    b.alarm("api-cpu-high", "CPUUtilization")
    [h] = DeploymentAnalyzer().propose(Analysis(read_view(b.build())))
    assert h.rule.id == "F01b"


def test_the_guess_quotes_only_the_newest_failing_deployment_beside_the_signals():
    b = failing_deploy(rollout="FAILED")
    b.deployment(10, status="ACTIVE", rollout="IN_PROGRESS", age=60 * 24 * 20, dep_id="ecs-svc/10")
    b.event("(service api) (deployment ecs-svc/10) deployment failed: tasks failed to start.", age=15)
    analysis = Analysis(read_view(b.build()))
    assert [d["id"] for d in analysis.deployments.failing] == ["ecs-svc/1000012", "ecs-svc/10"]
    [h] = DeploymentAnalyzer().propose(analysis)
    assert h.evidence == [s.line for s in analysis.deployments.wrapper_signals]
    assert deployment_line(analysis.deployments.failing[1]) not in h.evidence
