"""What a triage reports beside its root cause (findings.py) and the service's status, through `classify(evidence)`.

Each test is named for the behaviour it protects; severities, confidences and evidence lines are asserted exactly,
since they are what a person reads and what the planner and the notifications act on.
"""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.classifier import classify
from agents.aws_ecs_service.diagnosis.findings import status
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import EvidenceBuilder, ago, failing_deploy

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."
IMAGE_CHANGE = "api:12 vs api:11: container api: image api:v1.11 -> api:v1.12"
ROUTINE = "Scaling activity initiated by (service api)"


def by_category(result) -> dict:
    return {f.category: f for f in result.findings}


def _failed_deploy(running: int | None = None, steady_after: bool = False) -> EvidenceBuilder:
    b = failing_deploy(new=12, old=11, running=running, reason=CIRCUIT_BREAKER)
    for age in (30, 25, 20):
        b.stopped(12, exit_code=1, age=age)
    if steady_after:
        b.event("(service api) has reached a steady state.", age=5)
    return b


def deployment_line(running: int = 0, failed: int = 3, reason: str = f": {CIRCUIT_BREAKER}") -> str:
    return (f"deployment ecs-svc/1000012 (api:12): status PRIMARY, rolloutState IN_PROGRESS, failedTasks {failed}, "
            f"running {running} of 2, created {ago(40)}{reason}")


def test_a_failing_deployment_is_its_own_finding_naming_the_cause_one_level_down_with_what_it_changed():
    b = _failed_deploy()
    b.event("(service api) (deployment ecs-svc/1000012) deployment failed: tasks failed to start.", age=8)
    r = classify(b.build())
    assert [f.category for f in r.findings] == ["app-crash", "deployment-failing"]
    root, failing = r.findings
    assert (root.severity, root.confidence, root.rule) == ("critical", 0.86, "F01")
    assert root.evidence[-1] == IMAGE_CHANGE  # the deployment brought it: what it changed is evidence
    assert (failing.severity, failing.confidence, failing.rule) == ("high", 0.9, "F30")
    assert failing.summary == "A deployment is failing (circuit breaker / failed tasks). The cause one level down: " \
                              "app-crash."
    assert failing.evidence == [
        deployment_line(),
        f"event {ago(8)}: (service api) (deployment ecs-svc/1000012) deployment failed: tasks failed to start.",
        IMAGE_CHANGE]


def test_a_recovered_service_lowers_the_severity_of_its_cause_and_of_the_failing_deployment():
    r = classify(_failed_deploy(steady_after=True).build())
    root, failing = r.findings
    assert root.severity == "high" and root.summary.endswith(". The service has since reached a steady state.")
    assert failing.severity == "medium" and r.status == "degraded"


def test_a_cause_that_leaves_no_task_running_is_critical_whatever_its_rule_says():
    b = EvidenceBuilder(desired=2, running=0)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=age)
    r = classify(b.build())
    assert r.root_cause.category == "spot-interruption" and r.findings[0].severity == "critical"
    assert r.status == "down"
    b.running = 1
    assert classify(b.build()).findings[0].severity == "medium"


def test_wrapper_signals_quote_at_most_two_deployments_and_three_other_lines():
    b = _failed_deploy()
    for n in range(4):
        b.event(f"(service api) (deployment ecs-svc/1000012) deployment failed: tasks failed to start. ({n})",
                age=8 - n)
    failing = by_category(classify(b.build()))["deployment-failing"]
    assert failing.evidence[0] == deployment_line()
    assert [line.rsplit("(", 1)[1] for line in failing.evidence[1:4]] == ["3)", "2)", "1)"]
    assert failing.evidence[4:] == [IMAGE_CHANGE]


def test_other_causes_are_said_one_severity_lower_with_four_fifths_of_their_confidence_and_five_lines():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15):
        b.stopped(12, exit_code=137, container_reason=OOM_REASON, age=age)
    for n, age in enumerate((60, 55, 50, 45)):
        b.log(b.stopped(11, exit_code=1, age=age), "Traceback (most recent call last):", f"RuntimeError: boom {n}")
    r = classify(b.build())
    assert r.root_cause.category == "container-oom"
    other = by_category(r)["app-crash"]
    assert other.severity == "high" and other.rule == "L06"   # the rule says critical
    # 0.85 (the log rule) for 4 of 6 failures, x 0.8 beside the root
    assert other.confidence == round(0.85 * (0.7 + 0.3 * 4 / 6) * 0.8 + 0.03 * 0.8, 2)
    assert len(other.evidence) == 5 and other.evidence[3].startswith("log task/")


def test_metrics_not_used_by_the_root_are_findings_of_medium_severity_with_seven_tenths_of_their_confidence():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, exit_code=1, age=age)
    b.metric("CPUUtilization", 90, 91, 92).metric("MemoryUtilization", 95, 96, 97)
    found = by_category(classify(b.build()))
    assert (found["cpu-saturation"].severity, found["cpu-saturation"].confidence) == ("medium", 0.56)
    assert (found["memory-pressure"].severity, found["memory-pressure"].confidence) == ("medium", 0.52)
    assert found["cpu-saturation"].evidence == ["metric CPUUtilization: recent datapoints 90, 91, 92 (>= 85%)"]
    assert found["memory-pressure"].rule == "M02"


def test_memory_pressure_is_not_repeated_beside_an_oom_kill_it_explains():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, exit_code=137, container_reason=OOM_REASON, age=age)
    b.metric("MemoryUtilization", 95, 96, 97).metric("CPUUtilization", 90, 91, 92)
    r = classify(b.build())
    assert r.root_cause.category == "container-oom"
    assert [f.category for f in r.findings] == ["container-oom", "cpu-saturation"]


def test_a_root_named_by_metrics_is_not_repeated_as_a_metric_finding():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.metric("CPUUtilization", 90, 91, 92)
    b.alarm("api-cpu-high", "CPUUtilization", reason="cpu high")
    r = classify(b.build())
    assert [f.category for f in r.findings] == ["cpu-saturation"]
    assert r.findings[0].evidence == ["metric CPUUtilization: recent datapoints 90, 91, 92 (>= 85%)",
                                      "alarm api-cpu-high is in ALARM: cpu high"]


def test_routine_stops_beside_a_cause_are_info_findings_with_three_lines():
    b = _failed_deploy()
    for age in (50, 45, 40, 35):
        b.stopped(11, "ServiceSchedulerInitiated", ROUTINE, exit_code=143, age=age)
    routine = by_category(classify(b.build()))["healthy"]
    assert routine.severity == "info" and routine.rule == "F37"
    assert routine.summary == "4 of 7 stopped tasks were routine replacements or scale-in (not failures)."
    assert routine.confidence == round(0.9 * (0.7 + 0.3 * 4 / 7) + 0.03, 2) and len(routine.evidence) == 3


def test_the_same_cause_said_twice_with_the_same_words_is_one_finding():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, exit_code=1, age=age)
    b.alarm("api-cpu-high", "CPUUtilization", reason="cpu high").alarm("api-cpu-critical", "CPUUtilization")
    r = classify(b.build())
    assert [f.category for f in r.findings] == ["app-crash", "cpu-saturation"]
    assert r.findings[1].evidence == ["alarm api-cpu-critical is in ALARM: Threshold Crossed: 3 out of the last 3 "
                                      "datapoints were greater than the threshold"]


# ---- the service's status -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("desired, running, cause, expected", [
    (0, 0, "scaled-to-zero", "down"), (0, 0, "healthy", "down"),
    (2, 0, "app-crash", "down"), (2, 0, "healthy", "down"), (1, 0, "app-crash", "down"), (1, 1, "healthy", "healthy"),
    (2, 1, "app-crash", "degraded"), (2, 2, "app-crash", "degraded"), (2, 2, "healthy", "healthy"),
    (2, 1, "healthy", "healthy"),
])
def test_a_service_is_down_when_nothing_runs_degraded_with_a_cause_and_healthy_otherwise(desired, running, cause,
                                                                                         expected):
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    assert status(read_view(b.build()), cause) == expected


def test_without_a_service_described_a_desired_count_of_zero_says_nothing_of_being_down():
    assert status(read_view({}), "healthy") == "healthy"
    assert status(read_view({}), "app-crash") == "degraded"


@pytest.mark.parametrize("desired, running, expected", [(1, 0, "critical"), (1, 1, "medium"), (3, 0, "critical")])
def test_one_desired_task_not_running_is_as_critical_as_many(desired, running, expected):
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=age)
    assert classify(b.build()).findings[0].severity == expected


def test_a_service_scaled_to_zero_keeps_its_rules_severity():
    b = EvidenceBuilder(desired=0, running=0)
    b.deployment(31)
    r = classify(b.build())
    assert r.root_cause.category == "scaled-to-zero" and r.findings[0].severity == "high" and r.status == "down"


def test_no_task_running_without_any_failure_signal_is_not_made_critical():
    b = EvidenceBuilder(desired=2, running=0)
    b.deployment(31)
    r = classify(b.build())
    assert r.root_cause.category == "healthy" and r.findings[0].severity == "info" and r.status == "down"


def test_the_root_quotes_at_most_four_changes_of_the_revision_that_brought_it():
    b = failing_deploy(new=12, old=11)
    b.taskdef(12, memory="2048", cpu="1024", env={"A": "1", "B": "2"}, secrets={"S": "arn:aws:ssm:x"},
              command=["serve"])
    for age in (30, 25, 20):
        b.stopped(12, exit_code=1, age=age)
    r = classify(b.build())
    changes = [line for line in r.root_cause.evidence if line.startswith("api:12 vs api:11: ")]
    failing = by_category(r)["deployment-failing"]
    assert len(changes) == 4 and len([line for line in failing.evidence if line.startswith("api:12 vs api:11")]) > 4


def test_the_failing_deployment_finding_quotes_at_most_two_failing_deployments():
    b = EvidenceBuilder(desired=2)
    for revision, age in ((12, 40), (11, 80), (10, 100)):
        b.deployment(revision, status="ACTIVE", rollout="FAILED", failed=3, age=age, running=0,
                     reason=CIRCUIT_BREAKER)
    b.deployment(9, status="PRIMARY", rollout="COMPLETED", age=5)
    for age in (30, 25, 20):
        b.stopped(12, exit_code=1, age=age)
    failing = by_category(classify(b.build()))["deployment-failing"]
    quoted = [line for line in failing.evidence if line.startswith("deployment ")]
    assert [line.split(" ")[1] for line in quoted] == ["ecs-svc/1000012", "ecs-svc/1000011"]


def test_failures_said_beside_the_root_are_not_repeated_as_routine_stops():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15):
        b.stopped(12, exit_code=137, container_reason=OOM_REASON, age=age)
    for age in (60, 55, 50):
        b.stopped(11, exit_code=1, age=age)
    b.stopped(11, "ServiceSchedulerInitiated", ROUTINE, exit_code=143, age=45)
    r = classify(b.build())
    assert [(f.category, f.severity) for f in r.findings] == [
        ("container-oom", "critical"), ("deployment-failing", "high"), ("app-crash", "high"), ("healthy", "info")]
