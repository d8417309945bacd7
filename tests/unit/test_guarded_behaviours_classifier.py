"""The rule table and the classifier at their boundaries, through `classify(evidence)` and the planner only.

Each test is named for the behaviour it protects; most come in pairs, one on each side of a boundary, so a
threshold, window or comparison that moves makes one of them fail.
"""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.classifier import classify
from agents.aws_ecs_service.operations.planner import build_plans
from tests.unit.evidence_builder import EvidenceBuilder, failing_deploy

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def categories(result) -> list[str]:
    return [f.category for f in result.findings]


def steady_service(desired: int = 2, running: int | None = None) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    return b


# ---- CPU saturation: at or above 85 % for the last 3 datapoints -------------------------------------------

@pytest.mark.parametrize("points", [(85, 85, 85), (85, 90, 94), (60, 85.0, 99, 86)])
def test_cpu_at_or_above_85_for_the_last_three_points_is_saturation(points):
    r = classify(steady_service().metric("CPUUtilization", *points).build())
    assert r.root_cause.category == "cpu-saturation"
    assert r.suggested_actions[0].action == "scale" and r.suggested_actions[0].params == {"desiredCount": 3}


@pytest.mark.parametrize("points", [(84, 84, 84), (84.9, 99, 99), (99, 99, 84.9)])
def test_cpu_below_85_in_any_of_the_last_three_points_is_not_saturation(points):
    r = classify(steady_service().metric("CPUUtilization", *points).build())
    assert r.root_cause.category == "healthy" and "cpu-saturation" not in categories(r)


def test_two_high_cpu_points_after_a_normal_one_are_not_saturation():
    r = classify(steady_service().metric("CPUUtilization", 40, 97, 99).build())
    assert r.root_cause.category == "healthy"


def test_only_the_last_three_cpu_points_count_an_older_normal_one_does_not_hold_saturation_back():
    r = classify(steady_service().metric("CPUUtilization", 40, 97, 98, 99).build())
    assert r.root_cause.category == "cpu-saturation"


def test_memory_at_or_above_90_for_the_last_three_points_is_pressure_and_89_is_not():
    assert classify(steady_service().metric("MemoryUtilization", 90, 90, 90).build()).root_cause.category == \
        "memory-pressure"
    assert classify(steady_service().metric("MemoryUtilization", 89, 95, 95).build()).root_cause.category == "healthy"


# ---- alarms: only ALARM is firing --------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["INSUFFICIENT_DATA", "OK"])
def test_a_cpu_alarm_that_is_not_in_alarm_does_not_fire(state):
    r = classify(steady_service().alarm("api-cpu-high", "CPUUtilization", state=state,
                                        reason="Insufficient Data: 3 datapoints were unknown.").build())
    assert r.root_cause.category == "healthy" and "cpu-saturation" not in categories(r)
    assert r.root_cause.confidence >= 0.85  # nothing in ALARM: no doubt cast on "healthy"


def test_an_unrelated_alarm_with_insufficient_data_casts_no_doubt_on_healthy():
    r = classify(steady_service().alarm("api-latency-p99", "TargetResponseTime", state="INSUFFICIENT_DATA").build())
    assert r.root_cause.category == "healthy" and r.root_cause.confidence >= 0.85
    assert not any("api-latency-p99" in line for line in r.root_cause.evidence)


def test_a_cpu_alarm_in_alarm_fires():
    r = classify(steady_service().alarm("api-cpu-high", "CPUUtilization", state="ALARM").build())
    assert r.root_cause.category == "cpu-saturation"


# ---- exit 137: SIGKILL is out-of-memory only with an OOM signal -------------------------------------------

def test_a_stop_timeouts_exit_137_with_no_oom_signal_is_not_container_oom():
    """Scale-in sent SIGTERM, the app ignored it, ECS sent SIGKILL after stopTimeout: a routine stop (F03)."""
    b = steady_service(desired=2)
    for age in (30, 12):
        b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1000031)",
                  exit_code=137, age=age)
    b.metric("MemoryUtilization", 35, 36, 35)
    r = classify(b.build())
    assert r.root_cause.category == "healthy" and "container-oom" not in categories(r)


def test_exit_137_after_a_failed_container_health_check_is_the_health_check_not_oom():
    b = failing_deploy(service="web", new=8, old=7)
    for age in (30, 20, 10):
        b.stopped(8, "ServiceSchedulerInitiated", "Task failed container health checks", exit_code=137, age=age)
    r = classify(b.build())
    assert r.root_cause.category == "container-health-check-failed" and "container-oom" not in categories(r)


def test_exit_137_of_an_essential_container_with_no_oom_reason_and_normal_memory_is_a_crash_not_oom():
    b = steady_service(desired=2)
    for age in (25, 9):
        b.stopped(31, exit_code=137, age=age)
    b.metric("MemoryUtilization", 40, 41, 40)
    r = classify(b.build())
    assert r.root_cause.category == "app-crash" and "container-oom" not in categories(r)


def test_exit_137_with_an_out_of_memory_error_reason_is_container_oom():
    b = steady_service(desired=2)
    for age in (25, 9):
        b.stopped(31, exit_code=137, container_reason=OOM_REASON, age=age)
    r = classify(b.build())
    assert r.root_cause.category == "container-oom"
    assert any("OutOfMemoryError" in line for line in r.root_cause.evidence)


# ---- user stops: the cause only when they are more than half the stops ------------------------------------

def _user_and_routine_stops(users: int, routine: int) -> EvidenceBuilder:
    b = steady_service(desired=3, running=2)  # one short: user stops could explain it
    for i in range(users):
        b.stopped(31, "UserInitiated", "Task stopped by user", exit_code=143, age=10 + i)
    for i in range(routine):
        b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143,
                  age=30 + i)
    return b


def test_user_stops_that_are_exactly_half_of_the_stops_are_not_the_cause():
    r = classify(_user_and_routine_stops(users=2, routine=2).build())
    assert r.root_cause.category != "task-stopped-by-user"


def test_user_stops_that_are_more_than_half_of_the_stops_are_the_cause():
    r = classify(_user_and_routine_stops(users=3, routine=2).build())
    assert r.root_cause.category == "task-stopped-by-user"


def test_two_user_stops_on_a_full_service_are_routine_but_three_are_the_cause():
    full = EvidenceBuilder(desired=2)
    full.deployment(31)
    for age in (20, 10):
        full.stopped(31, "UserInitiated", "Task stopped by user", exit_code=143, age=age)
    assert classify(full.build()).root_cause.category == "healthy"
    full.stopped(31, "UserInitiated", "Task stopped by user", exit_code=143, age=5)
    assert classify(full.build()).root_cause.category == "task-stopped-by-user"


# ---- running tasks' logs: one line is not enough to decide ------------------------------------------------

DEPENDENCY_LINE = "ERROR psycopg.OperationalError: connection to server at db.internal (10.0.3.7), port 5432 failed: " \
                  "Connection refused"


def test_one_running_task_log_line_is_not_enough_to_name_the_cause():
    b = steady_service(desired=2)
    b.log(b.running_task(31), DEPENDENCY_LINE)
    b.alarm("api-5xx", "HTTPCode_Target_5XX_Count")
    r = classify(b.build())
    assert r.root_cause.category == "healthy" and "dependency-unreachable" not in categories(r)


def test_two_running_task_log_lines_name_the_cause():
    b = steady_service(desired=2)
    b.log(b.running_task(31), DEPENDENCY_LINE, DEPENDENCY_LINE)
    b.alarm("api-5xx", "HTTPCode_Target_5XX_Count")
    assert classify(b.build()).root_cause.category == "dependency-unreachable"


def test_running_task_logs_are_not_read_without_a_symptom():
    """No alarm and every desired task running: errors in the logs of a working service are not an incident."""
    b = steady_service(desired=2)
    b.log(b.running_task(31), DEPENDENCY_LINE, DEPENDENCY_LINE)
    assert classify(b.build()).root_cause.category == "healthy"


def test_fewer_tasks_running_than_desired_is_a_symptom_that_makes_running_logs_count():
    b = steady_service(desired=3, running=2)
    b.log(b.running_task(31), DEPENDENCY_LINE, DEPENDENCY_LINE)
    assert classify(b.build()).root_cause.category == "dependency-unreachable"


# ---- scaled to zero, and recovery --------------------------------------------------------------------------

def test_scaled_to_zero_is_not_named_while_tasks_still_run():
    b = EvidenceBuilder(desired=0, running=2)  # desiredCount just set to 0: the tasks are still draining
    b.deployment(31)
    r = classify(b.build())
    assert r.root_cause.category != "scaled-to-zero" and "scaled-to-zero" not in categories(r)


def test_scaled_to_zero_is_named_once_nothing_runs():
    b = EvidenceBuilder(desired=0, running=0)
    b.deployment(31)
    assert classify(b.build()).root_cause.category == "scaled-to-zero"


def _capacity_then_steady(desired: int, running: int) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(3)
    b.event("(service api) has reached a steady state.", age=5)
    b.event("(service api) was unable to place a task. Reason: Capacity is unavailable at this time. Please try "
            "again later or in a different availability zone.", age=40)
    return b


def test_a_steady_state_event_with_fewer_tasks_running_than_desired_is_not_recovered():
    r = classify(_capacity_then_steady(desired=3, running=2).build())
    assert r.root_cause.category == "capacity-unavailable"
    assert r.findings[0].severity == "high" and "steady state" not in r.root_cause.summary


def test_a_steady_state_event_with_every_desired_task_running_is_recovered():
    r = classify(_capacity_then_steady(desired=3, running=3).build())
    assert r.findings[0].severity == "medium" and "has since reached a steady state" in r.root_cause.summary


# ---- rollback targets: never a revision that failed ---------------------------------------------------------

def test_a_rollback_target_whose_own_tasks_failed_is_not_offered():
    """The previous revision completed its rollout once, but its tasks crash in this window too."""
    b = EvidenceBuilder(desired=2, running=0)
    b.taskdef(4).taskdef(5).taskdef(6)
    b.deployment(6, rollout="IN_PROGRESS", failed=3, age=20, running=0)
    b.deployment(5, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 2, running=0)
    b.previous = 5
    for age in (90, 70):
        b.stopped(5, exit_code=1, age=age)
    for age in (15, 10, 5):
        b.stopped(6, exit_code=1, age=age)
    result = classify(b.build())
    evidence = b.build()
    steps = [s for p in build_plans(result, evidence, "inc-1") for s in p.steps]
    assert result.root_cause.category == "app-crash"
    assert all(s.params.get("taskDefinition") not in ("api:5", "api:6", b.td_arn(5), b.td_arn(6)) for s in steps)
    assert all(a.params.get("taskDefinition") not in ("api:5", "api:6") for a in result.suggested_actions)


def test_the_last_revision_that_ran_healthy_is_the_rollback_target():
    b = EvidenceBuilder(desired=2, running=2)
    b.taskdef(4).taskdef(5).taskdef(6)
    b.deployment(6, rollout="IN_PROGRESS", failed=3, age=20, running=0)
    b.deployment(5, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 2)
    b.running_task(5)
    b.running_task(5)
    for age in (15, 10, 5):
        b.stopped(6, exit_code=1, age=age)
    result = classify(b.build())
    steps = [s for p in build_plans(result, b.build(), "inc-1") for s in p.steps]
    assert result.suggested_actions[0].params == {"taskDefinition": "api:5"}
    assert [s.params["taskDefinition"] for s in steps if s.action == "update_service_task_definition"][:1] in (
        ["api:5"], [b.td_arn(5)])
