"""The diagnosis core at its boundaries: how the evidence is read (view.py), how one stopped task is judged
(analyzers/tasks.py), what metrics and alarms say (analyzers/metrics.py), and what "healthy" reports
(decision.py), through their public functions and `classify(evidence)`.

Each test is named for the behaviour it protects; the exact lines and numbers asserted are what a person reads
in a triage, so a changed key, default or weight makes one of them fail.
"""
from __future__ import annotations

import datetime as dt

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier
from agents.aws_ecs_service.diagnosis.analyzers.metrics import MetricAnalyzer, alarm_signals, metric_signals
from agents.aws_ecs_service.diagnosis.analyzers.tasks import (
    TaskAnalyzer,
    belongs_to_failing_deployment,
    classify_task,
    task_hypotheses,
)
from agents.aws_ecs_service.diagnosis.classifier import classify
from agents.aws_ecs_service.diagnosis.decision import decide
from agents.aws_ecs_service.diagnosis.rules import RULES_BY_ID
from agents.aws_ecs_service.diagnosis.view import read_view, stopped_at, ts
from tests.unit.evidence_builder import NOW, EvidenceBuilder, ago, failing_deploy

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"


def steady(desired: int = 2, running: int | None = None) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    return b


def view_of(b: EvidenceBuilder, **extra):
    evidence = b.build()
    evidence.update(extra)
    return read_view(evidence)


# ---- view: metric datapoints --------------------------------------------------------------------------------

def test_metric_datapoints_are_read_from_either_key_spelling_kept_inside_the_window_and_sorted_by_time():
    points = [
        {"Timestamp": ago(5), "Value": 91},
        {"timestamp": ago(15), "value": 92},
        {"Timestamp": ago(10), "value": 93},
        [ago(20), 94],
        [ago(60 * 5), 99],                      # before the 2 h window
        {"Timestamp": ago(60 * 6), "Value": 99},
        {"Timestamp": ago(1), "Value": None},   # no value: not a datapoint
    ]
    view = view_of(steady(), metrics={"MemoryUtilization": points})
    assert [v for _, v in view.metrics["MemoryUtilization"]] == [94.0, 92.0, 93.0, 91.0]
    assert [at.isoformat() for at, _ in view.metrics["MemoryUtilization"]] == [ago(20), ago(15), ago(10), ago(5)]


def test_a_datapoint_after_the_window_ends_is_not_read():
    later = (NOW + dt.timedelta(hours=1)).isoformat()
    view = view_of(steady(), metrics={"CPUUtilization": [[later, 99], [ago(5), 10]]})
    assert view.metrics["CPUUtilization"] == [(dt.datetime.fromisoformat(ago(5)), 10.0)]


# ---- view: logs ------------------------------------------------------------------------------------------------

def test_log_lines_are_filed_under_the_task_id_from_task_id_or_else_the_stream():
    logs = [
        {"task_id": "aaa111", "stream": "ecs/api/zzz999", "container": "api",
         "events": [{"timestamp": ago(3), "message": "from a dict"}, [ago(2), "from a pair"], "bare text", ""]},
        {"stream": "ecs/api/bbb222", "container": "api", "events": ["from the stream"]},
        {"task_id": "ccc333", "events": ["no container named"]},
    ]
    view = view_of(steady(), logs=logs)
    assert view.logs["aaa111"] == [("api", "from a dict"), ("api", "from a pair"), ("api", "bare text")]
    assert view.logs["bbb222"] == [("api", "from the stream")]
    assert view.logs["ccc333"] == [("", "no container named")]
    assert "zzz999" not in view.logs
    assert view.sidecar_streams == {}


@pytest.mark.parametrize("entry, sidecar", [
    ({"container": "envoy"}, True),                      # a mesh container by its name
    ({"container": "worker", "essential": False}, True),  # the collector said it is not essential
    ({"container": "worker", "essential": True}, False),
    ({"container": "api"}, False),
])
def test_a_sidecar_log_stream_is_known_by_its_container_name_or_its_essential_flag(entry, sidecar):
    view = view_of(steady(), logs=[{"task_id": "t1", "events": ["Connection refused"], **entry}])
    assert view.sidecar_streams == ({"t1": {entry["container"]}} if sidecar else {})
    assert view.app_logs("t1") == ([] if sidecar else [(entry["container"], "Connection refused")])


# ---- view: events ----------------------------------------------------------------------------------------------

def test_an_event_line_shows_its_time_or_a_question_mark_and_the_message_as_ecs_wrote_it():
    b = steady()
    b.event("(service api) has reached a steady state.", age=5)
    evidence = b.build()
    evidence["service"]["events"].append({"id": "no-time", "message": "(service api)   was unable to place a task."})
    lines = [e.line() for e in read_view(evidence).events]
    assert lines == [f"event {ago(5)}: (service api) has reached a steady state.",
                     "event ?: (service api) was unable to place a task."]


# ---- metrics and alarms ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("alarm, line", [
    ({"AlarmName": "api-cpu", "MetricName": "CPUUtilization", "StateValue": "ALARM", "StateReason": "Threshold"},
     "alarm api-cpu is in ALARM: Threshold"),
    ({"AlarmName": "api-cpu", "MetricName": "CPUUtilization", "state": "alarm", "reason": "lower-case keys"},
     "alarm api-cpu is in ALARM: lower-case keys"),
    ({"AlarmName": "api-cpu", "MetricName": "CPUUtilization", "StateValue": "ALARM"},
     "alarm api-cpu is in ALARM"),
    ({"MetricName": "CPUUtilization", "StateValue": "ALARM", "StateReason": "no name"},
     "alarm ? is in ALARM: no name"),
    ({"AlarmName": "api-cpu", "MetricName": "CPUUtilization", "StateValue": "ALARM", "StateReason": "x" * 250},
     "alarm api-cpu is in ALARM: " + "x" * 199 + "…"),
])
def test_an_alarm_line_names_the_alarm_and_its_reason_cut_to_200_characters(alarm, line):
    signals, others = alarm_signals(view_of(steady(), alarms=[alarm]))
    assert [s.line for s in signals] == [line] and others == []
    assert signals[0].rule.id == "A01"


def test_an_alarm_in_state_ok_under_either_key_spelling_is_not_firing():
    alarms = [{"AlarmName": "a", "MetricName": "CPUUtilization", "state": "ok", "StateReason": "fine"},
              {"AlarmName": "b", "MetricName": "Latency", "StateValue": "OK"}]
    assert alarm_signals(view_of(steady(), alarms=alarms)) == ([], [])


def test_an_alarm_in_alarm_that_no_rule_knows_is_reported_as_another_alarm():
    alarms = [{"AlarmName": "api-latency", "MetricName": "TargetResponseTime", "state": "ALARM", "reason": "slow"}]
    assert alarm_signals(view_of(steady(), alarms=alarms)) == ([], ["alarm api-latency is in ALARM: slow"])


def test_a_saturated_metric_signal_quotes_its_last_three_datapoints_and_the_threshold():
    view = view_of(steady().metric("CPUUtilization", 10, 86.5, 90, 99).metric("MemoryUtilization", 95, 96, 97))
    signals = metric_signals(view)
    assert [(s.rule.id, s.line) for s in signals] == [
        ("M01", "metric CPUUtilization: recent datapoints 86.5, 90, 99 (>= 85%)"),
        ("M02", "metric MemoryUtilization: recent datapoints 95, 96, 97 (>= 90%)")]
    assert signals[0].at == view.metrics["CPUUtilization"][-1][0]


# ---- one stopped task: the line it is quoted by ----------------------------------------------------------------

def _task(stop_code=None, reason=None, containers=()):
    t = {"taskArn": TASK_ARN, "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:3",
         "containers": list(containers)}
    if stop_code:
        t["stopCode"] = stop_code
    if reason:
        t["stoppedReason"] = reason
    return t


@pytest.mark.parametrize("task, rule, text, exit_code", [
    # a bare stop code is quoted beside the reason, or alone
    (_task("SpotInterruption", "Your Spot capacity was reclaimed"), "F35",
     "Your Spot capacity was reclaimed (stopCode SpotInterruption)", None),
    (_task("SpotInterruption"), "F35", "stopCode SpotInterruption", None),
    # an exit code is quoted by the reason, or by the stop code when there is no reason
    (_task("EssentialContainerExited", "Essential container exited", [{"name": "api", "exitCode": 139}]), "F04",
     "Essential container exited", 139),
    (_task("EssentialContainerExited", None, [{"name": "api", "exitCode": 139}]), "F04",
     "container exited (stopCode EssentialContainerExited)", 139),
    (_task(None, None, [{"name": "api", "exitCode": 139}]), "F04", "container exited (stopCode ?)", 139),
    # a failed sidecar is quoted with its name and image, beside the reason or "stopped"
    (_task("TaskFailedToStart", "Essential container in task exited",
           [{"name": "api", "exitCode": 0}, {"name": "envoy", "image": "envoy:v1", "exitCode": 1}]), "F44",
     "Essential container in task exited (sidecar envoy envoy:v1)", 0),
    (_task(None, None, [{"name": "envoy", "healthStatus": "UNHEALTHY"}]), "F44", "stopped (sidecar envoy)", None),
    # a reason is quoted as it is
    (_task("TaskFailedToStart", "CannotPullContainerError: pull access denied"), "F08b",
     "CannotPullContainerError: pull access denied", None),
])
def test_a_stopped_task_is_quoted_by_the_field_that_matched(task, rule, text, exit_code):
    verdict = classify_task(task)
    assert (verdict.rule.id, verdict.text, verdict.exit_code) == (rule, text, exit_code)
    assert verdict.task is task


@pytest.mark.parametrize("task, text, exit_code", [
    (_task("SomethingNew"), "stopCode SomethingNew", None),
    (_task("SomethingNew", "A reason nobody wrote a rule for"), "A reason nobody wrote a rule for", None),
    (_task(None, "A reason nobody wrote a rule for", [{"name": "api", "exitCode": None}]),
     "A reason nobody wrote a rule for", None),
])
def test_a_task_stopped_for_a_reason_no_rule_knows_gets_a_verdict_without_a_rule(task, text, exit_code):
    verdict = classify_task(task)
    assert verdict.rule is None and verdict.text == text and verdict.exit_code == exit_code and verdict.task is task
    assert verdict.failure and verdict.cause is None and verdict.confidence == 0.0


def test_a_task_with_no_stop_code_and_no_reason_gets_no_verdict():
    assert classify_task(_task()) is None


@pytest.mark.parametrize("exit_code, line", [
    (1, "task/01234567: Essential container in task exited (exit 1)"),
    (None, "task/01234567: Essential container in task exited (stopCode EssentialContainerExited)"),
])
def test_a_task_verdict_line_shows_the_exit_code_only_when_there_is_one(exit_code, line):
    containers = [{"name": "api"} | ({"exitCode": exit_code} if exit_code is not None else {})]
    verdict = classify_task(_task("EssentialContainerExited", "Essential container in task exited", containers))
    assert verdict.line() == line


def test_the_log_evidence_of_a_task_is_its_own_line_never_a_peers():
    b = failing_deploy()
    own = b.stopped(12, exit_code=1, age=20)
    b.stopped(12, exit_code=1, age=15)  # no logs: takes its peer's answer
    b.log(own, "KeyError: 'DATABASE_URL'")
    verdicts = Analysis(read_view(b.build())).verdicts
    by_id = {v.task_id: v for v in verdicts}
    mine = by_id.pop(own)
    (peer,) = by_id.values()
    assert mine.log_evidence() == f"log task/{own[:8]}: KeyError: 'DATABASE_URL'"
    assert peer.log_rule is mine.log_rule and peer.inherited_logs and peer.log_evidence() is None
    assert classify_task(_task("EssentialContainerExited", None, [{"name": "api", "exitCode": 1}])).log_evidence() \
        is None


# ---- which tasks belong to a failing deployment ------------------------------------------------------------------

def test_a_task_belongs_to_a_failing_deployment_by_who_started_it_or_by_its_revision():
    b = failing_deploy(new=12, old=11)
    evidence = b.build()
    analysis = Analysis(read_view(evidence))
    failing_id = analysis.deployments.failing[0]["id"]
    assert analysis.deployments.revisions == {b.td_arn(12)}

    def task(started_by, revision):
        t = {"taskArn": TASK_ARN}
        if started_by:
            t["startedBy"] = started_by
        if revision:
            t["taskDefinitionArn"] = b.td_arn(revision)
        return t

    assert belongs_to_failing_deployment(task(failing_id, 11), analysis)
    assert belongs_to_failing_deployment(task(failing_id, None), analysis)
    assert belongs_to_failing_deployment(task(None, 12), analysis)
    assert belongs_to_failing_deployment(task("ecs-svc/other", 12), analysis)
    assert not belongs_to_failing_deployment(task("ecs-svc/1000011", 11), analysis)
    assert not belongs_to_failing_deployment(task(None, 11), analysis)
    assert not belongs_to_failing_deployment(task(None, None), analysis)


# ---- healthy: what it says and how sure it is -------------------------------------------------------------------

@pytest.mark.parametrize("routine, short, alarm, confidence, tail", [
    (False, False, False, 0.9, ""),
    (True, False, False, 0.85, "; 1 stopped tasks in the window were routine (scale-in, replacements, user stops)"),
    (False, True, False, 0.65, "; fewer tasks run than desired, without a failure signal"),
    (False, False, True, 0.6, "; an alarm is in ALARM without an ECS failure signal"),
    (True, True, True, 0.3, "; 1 stopped tasks in the window were routine (scale-in, replacements, user stops)"
                            "; fewer tasks run than desired, without a failure signal"
                            "; an alarm is in ALARM without an ECS failure signal"),
])
def test_healthy_loses_confidence_for_routine_stops_missing_tasks_and_unexplained_alarms(routine, short, alarm,
                                                                                       confidence, tail):
    b = steady(desired=3, running=2 if short else 3)
    if routine:
        b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143)
    if alarm:
        b.alarm("api-latency", "TargetResponseTime", reason="slow")
    r = classify(b.build())
    assert r.root_cause.category == "healthy" and r.root_cause.confidence == confidence
    running = 2 if short else 3
    assert r.root_cause.summary == f"No fault found: api runs {running} of 3 tasks{tail}."


def test_healthy_evidence_is_the_count_the_primary_deployment_the_newest_steady_state_and_three_alarms():
    b = EvidenceBuilder(desired=2)
    b.deployment(30, status="ACTIVE", age=60 * 24 * 5)
    b.deployment(31, age=60 * 24 * 3)
    b.deployment(32, age=60 * 24 * 4)  # a second PRIMARY: only the newest is quoted
    b.event("(service api) has reached a steady state.", age=50)
    b.event("(service api) has reached a steady state.", age=20)
    b.event("(service api) registered 1 targets in target-group api-tg", age=10)
    for name in ("a-latency", "b-latency", "c-latency", "d-latency"):
        b.alarm(name, "TargetResponseTime", reason="slow")
    evidence = b.build()
    r = classify(evidence)
    assert r.root_cause.category == "healthy"
    assert r.root_cause.evidence == [
        "service api: running 2 of desired 2",
        "deployment ecs-svc/1000031 (api:31): status PRIMARY, rolloutState COMPLETED, failedTasks 0, running 2 of 2, "
        f"created {ago(60 * 24 * 3)}",
        f"event {ago(20)}: (service api) has reached a steady state.",
        "alarm a-latency is in ALARM: slow", "alarm b-latency is in ALARM: slow", "alarm c-latency is in ALARM: slow"]


# ---- one stopped task: which container's exit code counts ---------------------------------------------------------

@pytest.mark.parametrize("exits, rule, exit_code", [
    ((0,), "F01", 0),          # the essential app exited 0: still its exit, not "no exit code"
    ((0, 1), "F01", 1),        # the first non-zero exit wins over a clean one
    ((1, 0), "F01", 1),
    ((1, 139), "F01", 1),
    ((139, 1), "F04", 139),
])
def test_the_exit_code_of_a_task_is_its_first_non_zero_app_exit_else_the_first_exit(exits, rule, exit_code):
    containers = [{"name": f"app{i}", "exitCode": code} for i, code in enumerate(exits)]
    verdict = classify_task(_task("EssentialContainerExited", None, containers))
    assert (verdict.rule.id, verdict.exit_code) == (rule, exit_code)


@pytest.mark.parametrize("sidecar, failed", [
    ({"exitCode": 0}, False), ({"exitCode": 137}, False), ({"exitCode": 143}, False), ({"exitCode": None}, False),
    ({"exitCode": 1}, True), ({"exitCode": 138}, True), ({"exitCode": 142}, True), ({"exitCode": 136}, True),
    ({"healthStatus": "unhealthy"}, True), ({"healthStatus": "HEALTHY"}, False),
])
def test_a_sidecar_failed_only_when_unhealthy_or_exiting_with_a_code_ecs_did_not_send(sidecar, failed):
    """0 is success and 137/143 are ECS stopping the container: not the sidecar's own failure."""
    containers = [{"name": "api", "exitCode": 0}, {"name": "ecs-service-connect-agent", **sidecar}]
    verdict = classify_task(_task("EssentialContainerExited", "Essential container in task exited", containers))
    assert verdict.rule.id == ("F44" if failed else "F01")


# ---- when a task stopped ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("keys, expected", [
    (("stoppedAt", "executionStoppedAt", "stoppingAt", "createdAt"), "stoppedAt"),
    (("executionStoppedAt", "stoppingAt", "createdAt"), "executionStoppedAt"),
    (("stoppingAt", "createdAt"), "stoppingAt"),
    (("createdAt",), "createdAt"),
    ((), None),
])
def test_a_task_stopped_at_the_first_time_it_has_of_stopped_execution_stopped_stopping_and_created(keys, expected):
    times = {"stoppedAt": ago(1), "executionStoppedAt": ago(2), "stoppingAt": ago(3), "createdAt": ago(4)}
    task = {key: times[key] for key in keys}
    assert stopped_at(task) == (dt.datetime.fromisoformat(times[expected]) if expected else None)


def test_a_stopped_task_is_in_the_window_by_when_it_stopped_not_when_it_was_created():
    b = steady()
    inside = b.stopped(31, age=10)
    outside = b.stopped(31, age=60 * 3)
    evidence = b.build()
    for t in evidence["tasks"]["stopped"]:
        t["createdAt"] = ago(30) if outside in t["taskArn"] else ago(60 * 5)
    assert [t["taskArn"].rsplit("/", 1)[1] for t in read_view(evidence).stopped] == [inside]


# ---- the decision: independent sources that agree raise the root's confidence ------------------------------------

ELB_REASON = ("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:"
              "targetgroup/api/abc)")
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def _elb_failures(own_logs: bool = False, events: int = 0) -> EvidenceBuilder:
    b = steady()
    ids = [b.stopped(31, "ServiceSchedulerInitiated", ELB_REASON, exit_code=None, age=age) for age in (20, 15, 10)]
    if own_logs:
        for tid in ids:
            b.log(tid, "ERROR connect ECONNREFUSED 10.0.0.5:5432")
    for n in range(events):
        b.event(f"(service api) (task {ids[n]}) failed ELB health checks in (target-group "
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/abc).", age=9 - n)
    return b


def decided(b: EvidenceBuilder):
    return decide(Analysis(read_view(b.build())))


def test_a_root_cause_named_by_one_source_keeps_the_confidence_of_its_tasks():
    d = decided(_elb_failures())
    assert d.root.cause == "elb-health-check-failed" and d.root.source == "stopped tasks"
    assert d.root.confidence == pytest.approx(0.9 + 0.03)  # the rule's confidence, three tasks or more
    assert len(d.root.evidence) == 3 and not d.recovered


def test_service_events_that_agree_add_two_of_their_lines_and_raise_the_confidence_by_005():
    d = decided(_elb_failures(events=3))
    assert d.root.cause == "elb-health-check-failed" and d.root.confidence == pytest.approx(0.93 + 0.05)
    events = [line for line in d.root.evidence if line.startswith("event ")]
    assert len(d.root.evidence) == 5 and events == [
        f"event {ago(7)}: (service api) (task {d.root.verdicts[2].task['taskArn'].rsplit('/', 1)[1]}) failed ELB "
        "health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/abc).",
        f"event {ago(8)}: (service api) (task {d.root.verdicts[1].task['taskArn'].rsplit('/', 1)[1]}) failed ELB "
        "health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/abc)."]


def test_a_failing_tasks_own_log_line_raises_the_confidence_by_004():
    d = decided(_elb_failures(own_logs=True))
    assert d.root.cause == "dependency-unreachable"
    assert d.root.confidence == pytest.approx(0.9 + 0.03 + 0.04)


def _oom(memory_signals: int = 0, deploy: bool = False) -> EvidenceBuilder:
    b = failing_deploy(new=12, old=11) if deploy else EvidenceBuilder(desired=2)
    if not deploy:
        b.deployment(12)
    for age in (20, 15, 10):
        b.stopped(12, exit_code=137, container_reason=OOM_REASON, age=age)
    if memory_signals:
        b.metric("MemoryUtilization", 95, 96, 97)
    for name in ("api-memory-high", "api-memory-critical")[:max(memory_signals - 1, 0)]:
        b.alarm(name, "MemoryUtilization", reason="memory high")
    return b


@pytest.mark.parametrize("memory_signals, confidence, memory_lines", [
    (0, 0.95 + 0.03, []),
    (1, 0.95 + 0.03 + 0.04, ["metric MemoryUtilization: recent datapoints 95, 96, 97 (>= 90%)"]),
    (3, 0.95 + 0.03 + 0.04, ["metric MemoryUtilization: recent datapoints 95, 96, 97 (>= 90%)",
                             "alarm api-memory-critical is in ALARM: memory high"]),
])
def test_memory_at_its_limit_confirms_an_oom_kill_with_two_of_its_lines_and_004(memory_signals, confidence,
                                                                                memory_lines):
    d = decided(_oom(memory_signals))
    assert d.root.cause == "container-oom" and d.root.confidence == pytest.approx(confidence)
    assert d.root.evidence[3:] == memory_lines


def test_memory_at_its_limit_does_not_join_the_evidence_of_a_cause_other_than_an_oom_kill():
    b = steady()
    for age in (20, 15, 10):
        b.stopped(31, exit_code=1, age=age)
    b.metric("MemoryUtilization", 95, 96, 97)
    d = decided(b)
    assert d.root.cause == "app-crash" and not any("MemoryUtilization" in line for line in d.root.evidence)


def test_tasks_of_the_failing_deployment_raise_the_confidence_by_003():
    d = decided(_oom(deploy=True))
    assert d.root.cause == "container-oom" and d.root.confidence == pytest.approx(0.95 + 0.03 + 0.03)
    assert d.failing_revision == failing_deploy(new=12, old=11).td_arn(12)


def test_crashes_of_a_revision_the_failing_deployment_does_not_run_get_no_deployment_bonus():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15, 10):
        b.stopped(11, exit_code=1, age=age)
    d = decided(b)
    assert d.root.cause == "app-crash" and d.failing_revision == b.td_arn(11)
    # the rule's 0.75 for three tasks (+0.03), and the deployment analyzer's guess agreeing (+0.05); no +0.03
    assert d.root.confidence == pytest.approx(0.75 + 0.03 + 0.05)


# ---- the decision: the root, and what is said beside it ------------------------------------------------------------

def _with_missing_image(b: EvidenceBuilder, revision: int) -> dict:
    evidence = b.build()
    evidence["images"] = [{"image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1.{revision}",
                           "registryId": "123456789012", "repository": "api",
                           "imageId": {"imageTag": f"v1.{revision}"}, "revisions": [b.td_arn(revision)],
                           "status": "ImageNotFound"}]
    return evidence


def test_a_warning_about_a_revision_that_runs_fine_is_said_beside_healthy_never_as_the_root():
    d = decide(Analysis(read_view(_with_missing_image(steady(), 31))))
    assert d.root.cause == "healthy" and d.root.source == ""
    assert [(h.cause, h.source) for h in d.others] == [("image-not-found", "container images")]
    assert not d.recovered and d.failing_revision is None


def test_beside_a_root_that_only_warns_only_warnings_are_said_not_the_weaker_causes():
    b = steady()
    b.metric("CPUUtilization", 90, 91, 92)
    for age in (20, 15, 10):  # user stops: a benign hypothesis, weaker than the metrics
        b.stopped(31, "UserInitiated", "Task stopped by user", exit_code=143, age=age)
    d = decide(Analysis(read_view(_with_missing_image(b, 31))))
    assert d.root.cause == "cpu-saturation" and d.root.source == "metrics and alarms"
    assert [h.cause for h in d.others] == ["image-not-found"]


def test_beside_a_transient_root_the_other_transient_causes_are_said():
    b = steady()
    for age in (20, 15):
        b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=age)
    b.event("(service api) was unable to place a task. Reason: Capacity is unavailable at this time. Please try "
            "again later or in a different availability zone.", age=12)
    d = decided(b)
    assert d.root.cause == "spot-interruption"
    assert [(h.cause, h.source) for h in d.others] == [("capacity-unavailable", "service events")]


def test_a_steady_state_after_a_cause_without_stopped_tasks_or_signals_is_not_a_recovery():
    """Running tasks' logs name the cause but carry no time: a steady-state event cannot be said to follow them."""
    b = steady()
    b.log(b.running_task(31), "ERROR connect ECONNREFUSED 10.0.0.5:5432", "ERROR connect ECONNREFUSED 10.0.0.5:5432")
    b.alarm("api-5xx", "HTTPCode_Target_5XX_Count")
    b.event("(service api) has reached a steady state.", age=1)
    d = decided(b)
    assert d.root.cause == "dependency-unreachable" and d.root.source == "application logs" and not d.recovered


# ---- the window's edges belong to it ---------------------------------------------------------------------------------

@pytest.mark.parametrize("minutes_before_end, inside", [(0, True), (120, True), (-0.01, False), (120.01, False)])
def test_an_event_exactly_at_either_edge_of_the_window_is_inside_it(minutes_before_end, inside):
    b = steady()  # a 2 h window ending at NOW
    b.event("(service api) has reached a steady state.", age=minutes_before_end)
    assert len(read_view(b.build()).events) == (1 if inside else 0)


# ---- the suggested action ----------------------------------------------------------------------------------------

def action_of(evidence: dict):
    r = classify(evidence)
    (action,) = r.suggested_actions
    return r, action, RULES_BY_ID[r.findings[0].rule].remediation


def test_healthy_suggests_nothing_and_needs_no_approval():
    r, action, _ = action_of(steady().build())
    assert r.root_cause.category == "healthy"
    assert (action.action, action.params, action.requires_approval, action.rationale) == (
        "none", {}, False, "No fault found; nothing to change.")


def test_saturation_suggests_one_more_task_and_says_from_how_many_to_how_many():
    r, action, remediation = action_of(steady(desired=4).metric("CPUUtilization", 90, 91, 92).build())
    assert r.root_cause.category == "cpu-saturation"
    assert (action.action, action.params, action.requires_approval) == ("scale", {"desiredCount": 5}, True)
    assert action.rationale == f"{remediation} One more task spreads the load (4 -> 5)."


def test_a_service_scaled_to_zero_gets_one_task_back():
    b = EvidenceBuilder(desired=0, running=0)
    b.deployment(31)
    r, action, _ = action_of(b.build())
    assert r.root_cause.category == "scaled-to-zero"
    assert (action.action, action.params, action.requires_approval) == ("scale", {"desiredCount": 1}, True)
    assert action.rationale == ("The service runs no tasks because desiredCount is 0; if that was not intended, bring "
                                "it back one task at a time (0 -> 1).")


@pytest.mark.parametrize("stop_code, reason, cause", [
    ("SpotInterruption", "Your Spot Task was interrupted.", "spot-interruption"),        # transient
    ("UserInitiated", "Task stopped by user", "task-stopped-by-user"),                   # benign
])
def test_a_transient_or_benign_cause_suggests_nothing_ecs_replaces_the_tasks(stop_code, reason, cause):
    b = steady(desired=3, running=2)
    for age in (20, 15, 10):
        b.stopped(31, stop_code, reason, exit_code=None, age=age)
    r, action, remediation = action_of(b.build())
    assert r.root_cause.category == cause
    assert (action.action, action.params, action.requires_approval) == ("none", {}, False)
    assert action.rationale == (f"Transient or platform-driven ({cause}): ECS replaces the tasks by itself. "
                                f"{remediation}")


def test_a_crash_the_newest_deployment_brought_suggests_a_rollback_to_the_revision_that_ran_healthy():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15, 10):
        b.stopped(12, exit_code=1, age=age)
    r, action, remediation = action_of(b.build())
    assert (action.action, action.params, action.requires_approval) == ("rollback", {"taskDefinition": "api:11"}, True)
    assert action.rationale == ("app-crash began with revision api:12; rolling back to api:11, the last revision that "
                                f"ran healthy, restores the service. Then: {remediation}")


def test_a_cause_seen_only_in_events_after_a_deployment_names_the_newest_deployments_revision():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15, 10):
        b.event("(service api) (task abc) failed ELB health checks in (target-group "
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/abc).", age=age)
    r, action, remediation = action_of(b.build())
    assert r.root_cause.category == "elb-health-check-failed"
    assert (action.action, action.params) == ("rollback", {"taskDefinition": "api:11"})
    assert action.rationale.startswith("elb-health-check-failed began with revision api:12; rolling back to api:11,")


def test_after_ecs_rolled_back_by_itself_a_person_fixes_the_failing_revision():
    b = EvidenceBuilder(desired=2)
    b.taskdef(11).taskdef(12)
    b.deployment(11, status="PRIMARY", rollout="COMPLETED", age=5)
    b.deployment(12, status="ACTIVE", rollout="FAILED", failed=3, age=40, running=0,
                 reason="ECS deployment circuit breaker: tasks failed to start.")
    for age in (30, 25, 20):
        b.stopped(12, exit_code=1, age=age)
    r, action, remediation = action_of(b.build())
    assert r.root_cause.category == "app-crash"
    assert (action.action, action.requires_approval) == ("none", False)
    assert action.rationale == ("ECS already runs api:11 again, not the failing revision. A person must fix it: "
                                f"{remediation}")


def test_a_cause_no_revision_brings_is_for_a_person_and_a_rollback_does_not_change_it():
    b = EvidenceBuilder(desired=4, running=2, launch_type="EC2")
    b.deployment(3)
    b.event("(service api) was unable to place a task because no container instance met all of its requirements. "
            "Reason: No Container Instances were found in your cluster.", age=5)
    r, action, remediation = action_of(b.build())
    assert r.root_cause.category == "placement-no-instances"
    assert (action.action, action.requires_approval) == ("none", False)
    assert action.rationale == f"A rollback does not change this. A person must fix it: {remediation}"


def test_a_crash_no_deployment_introduced_is_not_rolled_back():
    b = steady()
    for age in (20, 15, 10):
        b.stopped(31, exit_code=1, age=age)
    r, action, remediation = action_of(b.build())
    assert r.root_cause.category == "app-crash" and (action.action, action.requires_approval) == ("none", False)
    assert action.rationale == ("No deployment introduced this, so a rollback would not help. A person must fix it: "
                                f"{remediation}")


# ---- recovery: a steady state after the last failure, with every desired task running ---------------------------------

def _crash_then(desired: int, running: int, event: str, event_age: float, crash_age: float = 10) -> EvidenceBuilder:
    b = steady(desired=desired, running=running)
    for age in (crash_age + 10, crash_age + 5, crash_age):
        b.stopped(31, exit_code=1, age=age)
    b.event(event, age=event_age)
    return b


STEADY = "(service api) has reached a steady state."


@pytest.mark.parametrize("desired, running, event, event_age, recovered", [
    (2, 2, STEADY, 5, True),
    (1, 1, STEADY, 5, True),
    (2, 2, STEADY, 10, False),                                         # at the same time as the last crash
    (2, 2, STEADY, 11, False),                                         # before it
    (2, 2, "(service api) registered 1 targets in target-group api-tg", 5, False),  # not a steady state
    (2, 1, STEADY, 5, False),
    (0, 0, STEADY, 5, False),                                          # nothing desired: nothing recovered
])
def test_a_service_recovered_only_after_a_steady_state_later_than_its_last_failure(desired, running, event,
                                                                                 event_age, recovered):
    d = decided(_crash_then(desired, running, event, event_age))
    assert d.root.cause == "app-crash" and d.recovered is recovered


# ---- view: the evidence document read once --------------------------------------------------------------------------

def _td(revision: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task-definition/api:{revision}"


def _raw_evidence() -> dict:
    def task(tid: str, group: str = "service:api", **times) -> dict:
        return {"taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/prod/{tid}", "group": group, **times}

    return {
        "target": {"region": "us-east-1", "cluster": "prod", "service": "api"},
        "window": {"start": ago(120), "end": NOW.isoformat()},
        "service": {
            "serviceName": "api", "desiredCount": 3, "runningCount": 2, "taskDefinition": _td(8),
            "deployments": [{"id": "d-old", "createdAt": ago(600)}, {"id": "d-new", "createdAt": ago(30)},
                            {"id": "d-mid", "createdAt": ago(300)}],
            "events": [{"createdAt": ago(50), "message": "(service api) has  stopped 1 running tasks"},
                       {"createdAt": ago(5), "message": "(service api) has reached a steady state."},
                       {"createdAt": ago(500), "message": "(service api) too old"},
                       {"createdAt": ago(20), "message": "service api was unable to place a task."}],
        },
        "current_task_definition": _td(9),
        "previous_task_definition": _td(7),
        "task_definitions": {_td(9): {"family": "api", "revision": 9}},
        "service_deployments": [{"serviceDeploymentArn": "sd-1"}],
        "tasks": {
            "running": [task("r1"), task("r2", group="service:other"), task("r3", group="family:api")],
            "stopped": [task("s-late", stoppedAt=ago(5)), task("s-b", stoppedAt=ago(40)),
                        task("s-a", stoppedAt=ago(40)), task("s-early", stoppedAt=ago(90)),
                        task("s-old", stoppedAt=ago(300)), task("s-other", group="service:other", stoppedAt=ago(9))],
        },
        "alarms": [{"AlarmName": "a"}],
        "container_instances": [{"containerInstanceArn": "ci-1"}],
        "errors": [],
    }


def test_the_view_reads_the_service_its_revisions_and_its_own_tasks_inside_the_window():
    view = read_view(_raw_evidence())
    assert (view.service_name, view.desired, view.running) == ("api", 3, 2)
    assert (view.start, view.end) == (dt.datetime.fromisoformat(ago(120)), NOW)
    assert (view.current_td, view.previous_td) == (_td(9), _td(7))
    assert view.task_definitions == {_td(9): {"family": "api", "revision": 9}}
    assert [d["id"] for d in view.deployments] == ["d-new", "d-mid", "d-old"]
    assert view.service_deployments == [{"serviceDeploymentArn": "sd-1"}]
    assert [t["taskArn"].rsplit("/", 1)[1] for t in view.running_tasks] == ["r1"]
    assert [t["taskArn"].rsplit("/", 1)[1] for t in view.stopped] == ["s-early", "s-a", "s-b", "s-late"]
    assert view.alarms == [{"AlarmName": "a"}] and view.container_instances == [{"containerInstanceArn": "ci-1"}]
    assert [(e.at, e.message, e.body) for e in view.events] == [
        (dt.datetime.fromisoformat(ago(5)), "(service api) has reached a steady state.", "has reached a steady state."),
        (dt.datetime.fromisoformat(ago(20)), "service api was unable to place a task.", "was unable to place a task."),
        (dt.datetime.fromisoformat(ago(50)), "(service api) has stopped 1 running tasks", "has stopped 1 running tasks")]


def test_the_view_falls_back_to_the_targets_service_name_and_the_services_task_definition():
    evidence = _raw_evidence()
    del evidence["service"]["serviceName"], evidence["current_task_definition"]
    evidence["service"]["desiredCount"] = evidence["service"]["runningCount"] = None
    view = read_view(evidence)
    assert (view.service_name, view.current_td, view.desired, view.running) == ("api", _td(8), 0, 0)
    assert [t["taskArn"].rsplit("/", 1)[1] for t in view.running_tasks] == ["r1"]  # the group still names it


def test_an_evidence_document_with_nothing_in_it_reads_as_an_empty_view():
    view = read_view({})
    assert (view.service_name, view.start, view.end, view.service, view.desired, view.running) == \
        ("", None, None, {}, 0, 0)
    assert (view.current_td, view.previous_td, view.task_definitions, view.deployments) == (None, None, {}, [])
    assert (view.service_deployments, view.events, view.stopped, view.running_tasks) == ([], [], [], [])
    assert (view.alarms, view.metrics, view.container_instances) == ([], {}, [])


def test_container_instances_that_could_not_be_read_are_unknown_not_none_registered():
    evidence = _raw_evidence()
    evidence["errors"] = [{"call": "ecs:ListTasks", "code": "AccessDenied"}]
    assert read_view(evidence).container_instances == [{"containerInstanceArn": "ci-1"}]
    evidence["errors"].append({"call": "ecs:DescribeContainerInstances", "code": "AccessDenied"})
    assert read_view(evidence).container_instances is None


def test_a_task_definition_is_found_by_its_arn_or_by_family_and_revision():
    evidence = _raw_evidence()
    by_arn = {"taskDefinitionArn": _td(9), "containerDefinitions": []}
    by_fields = {"family": "api", "revision": 5}
    evidence["task_definitions"] = {_td(9): by_arn, "some-other-key": by_fields}
    view = read_view(evidence)
    assert view.taskdef(_td(9)) is by_arn
    assert view.taskdef("api:9") is by_arn                       # the key's short name
    assert view.taskdef(_td(5)) is by_fields and view.taskdef("api:5") is by_fields  # the definition's own name
    assert view.taskdef("api:6") is None and view.taskdef(None) is None and view.taskdef("") is None


@pytest.mark.parametrize("value, seconds", [
    (NOW, NOW.timestamp()), (NOW.isoformat(), NOW.timestamp()), (1_700_000_000, 1_700_000_000.0),
    (None, 0.0), ("not a time", 0.0),
])
def test_a_time_reads_as_epoch_seconds_and_an_unreadable_one_as_zero(value, seconds):
    assert ts(value) == seconds


# ---- stopped tasks: one hypothesis per cause -----------------------------------------------------------------------

def _hypotheses(b: EvidenceBuilder, total: int | None = None):
    analysis = Analysis(read_view(b.build()))
    verdicts = analysis.verdicts
    return task_hypotheses(verdicts, len(verdicts) if total is None else total, analysis.view)


def test_task_hypotheses_count_share_quote_and_rank_each_cause():
    b = steady(desired=3)
    crashes = [b.stopped(31, exit_code=code, age=age) for code, age in ((1, 30), (2, 25), (1, 20), (1, 15))]
    ooms = [b.stopped(31, exit_code=137, container_reason=OOM_REASON, age=age) for age in (12, 8)]
    spot = b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=5)
    crash, oom, transient = _hypotheses(b, total=7)
    assert [(h.cause, h.rule.id, h.severity, h.tier) for h in (crash, oom, transient)] == [
        ("app-crash", "F01", "critical", Tier.FAILURE), ("container-oom", "F02", "critical", Tier.FAILURE),
        ("spot-interruption", "F35", "medium", Tier.TRANSIENT)]
    # the rule's confidence, weighted by the cause's share of the stops, and +0.03 from three tasks on
    assert crash.confidence == pytest.approx(0.75 * (0.7 + 0.3 * 4 / 7) + 0.03)
    assert oom.confidence == pytest.approx(0.95 * (0.7 + 0.3 * 2 / 7))
    assert transient.confidence == pytest.approx(0.9 * (0.7 + 0.3 * 1 / 7))
    assert crash.summary == "4 of 7 stopped tasks exited on their own (essential container exit code 1/2)."
    assert oom.summary == ("2 of 7 stopped tasks had a container killed for exceeding its memory limit "
                           "(OutOfMemoryError).")
    # the newest three tasks first
    assert crash.evidence == [f"task/{tid[:8]}: Essential container in task exited (exit {code})"
                              for tid, code in ((crashes[3], 1), (crashes[2], 1), (crashes[1], 2))]
    assert oom.evidence == [f"task/{tid[:8]}: {OOM_REASON} (exit 137)" for tid in reversed(ooms)]
    assert transient.evidence == [f"task/{spot[:8]}: Your Spot Task was interrupted. (stopCode SpotInterruption)"]
    assert [len(h.verdicts) for h in (crash, oom, transient)] == [4, 2, 1]


@pytest.mark.parametrize("spot_ages, oom_ages, first", [
    ((20, 10), (15, 5), "container-oom"),      # as many tasks: the cause that stopped one last leads
    ((20, 5), (15, 10), "spot-interruption"),
    ((20, 5), (15, 5), "spot-interruption"),   # and at the same time: the rule's priority
    ((20,), (15, 30), "container-oom"),        # more tasks lead whatever the time
])
def test_task_hypotheses_rank_by_tasks_then_the_latest_stop_then_the_rules_priority(spot_ages, oom_ages, first):
    b = steady()
    for age in spot_ages:
        b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=age)
    for age in oom_ages:
        b.stopped(31, exit_code=137, container_reason=OOM_REASON, age=age)
    assert _hypotheses(b)[0].cause == first


def test_a_cause_its_logs_named_is_said_after_the_stop_its_newest_task_shows():
    b = failing_deploy(new=12, old=11)
    tids = [b.stopped(12, exit_code=1, age=age) for age in (20, 15)]
    for tid in tids:
        b.log(tid, "KeyError: 'DATABASE_URL'")
    (h,) = _hypotheses(b)
    assert (h.cause, h.rule.id, h.severity) == ("missing-config", "L02", "critical")
    assert h.summary == ("2 of 2 stopped tasks exited on their own (essential container exit code 1). "
                         "The application exits because a setting is missing or invalid (logs name it).")
    assert h.evidence[2:] == [f"log task/{tids[0][:8]}: KeyError: 'DATABASE_URL'",
                              f"log task/{tids[1][:8]}: KeyError: 'DATABASE_URL'"]
    assert h.confidence == pytest.approx(0.9)  # the log rule's, above the exit code's


def test_the_lead_task_of_a_cause_is_its_newest_so_its_own_story_is_told():
    b = steady()
    older = b.stopped(31, exit_code=1, age=20)
    newer = b.stopped(31, exit_code=1, age=10)
    b.log(older, "Traceback (most recent call last):", "RuntimeError: boom")
    b.log(newer, "INFO nothing to see")  # has logs, so it does not take its peer's answer
    (h,) = _hypotheses(b)
    assert h.cause == "app-crash" and h.summary == \
        "2 of 2 stopped tasks exited on their own (essential container exit code 1)."
    b.log(b.stopped(31, exit_code=1, age=5), "Traceback (most recent call last):", "RuntimeError: boom")
    (h,) = _hypotheses(b)
    assert h.summary.startswith("3 of 3 stopped tasks exited on their own (essential container exit code 1). ")
    assert len(h.summary) > len("3 of 3 stopped tasks exited on their own (essential container exit code 1). ")


# ---- stopped tasks: scope, and the benign stops that may be the whole story ------------------------------------------

def test_failures_outside_the_failing_deployment_are_said_beside_its_cause_not_instead_of_it():
    b = failing_deploy(new=12, old=11)
    for age in (20, 15):
        b.stopped(12, exit_code=137, container_reason=OOM_REASON, age=age)
    for age in (30, 25, 10):
        b.stopped(11, exit_code=1, age=age)
    analysis = Analysis(read_view(b.build()))
    found = TaskAnalyzer().propose(analysis)
    assert [(h.cause, h.tier, len(h.verdicts)) for h in found] == [
        ("container-oom", Tier.FAILURE, 2), ("app-crash", Tier.ALSO, 3)]
    # shares: within the deployment's own tasks, and of all failures for the others
    assert found[0].summary.startswith("2 of 2 stopped tasks") and found[1].summary.startswith("3 of 5 stopped tasks")
    d = decide(analysis)
    assert d.root.cause == "container-oom" and [h.cause for h in d.others] == ["app-crash"]


MAINTENANCE = "ECS is performing maintenance on the underlying infrastructure hosting the task"


@pytest.mark.parametrize("age, cause", [(59, "platform-maintenance"), (60, "platform-maintenance"), (61, "healthy")])
def test_maintenance_is_the_cause_only_within_an_hour_of_the_end_of_the_window(age, cause):
    b = steady()
    b.stopped(31, "TerminationNotice", MAINTENANCE, exit_code=None, age=age)
    b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143, age=5)
    d = decided(b)
    assert d.root.cause == cause
    if cause != "healthy":
        assert d.root.tier == Tier.BENIGN and d.root.confidence == pytest.approx(0.85 * (0.7 + 0.3 / 2))


def test_without_a_window_end_maintenance_is_judged_against_the_last_stop():
    def cause(*routine_ages: float) -> str:
        b = steady()
        b.stopped(31, "TerminationNotice", MAINTENANCE, exit_code=None, age=100)
        for age in routine_ages:
            b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143,
                      age=age)
        evidence = b.build()
        evidence["window"] = {"start": ago(120)}
        return decide(Analysis(read_view(evidence))).root.cause

    assert cause(60) == "platform-maintenance"   # 40 min before the last stop
    assert cause(60, 20) == "healthy"            # 80 min before it


# ---- did the newest deployment bring the cause? ------------------------------------------------------------------

def _crash_after_deploying(rollout: str, deployed_minutes_ago: float) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=2)
    b.taskdef(31).taskdef(32)
    b.deployment(32, rollout=rollout, age=deployed_minutes_ago)
    b.deployment(31, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 5)
    for age in (20, 15, 10):
        b.stopped(32, exit_code=1, age=age)
    return b


@pytest.mark.parametrize("rollout, deployed_minutes_ago, rollback", [
    ("COMPLETED", 60, True),
    ("COMPLETED", 120, True),        # exactly at the window's start
    ("COMPLETED", 121, False),       # a revision that ran for longer than the window did not just bring the fault
    ("COMPLETED", 60 * 24, False),
    ("IN_PROGRESS", 60 * 5, True),   # still rolling out: however long ago it began
    ("FAILED", 60 * 5, True),
])
def test_a_crash_of_the_newest_revision_is_rolled_back_only_if_that_deployment_is_recent_or_unfinished(
        rollout, deployed_minutes_ago, rollback):
    r, action, _ = action_of(_crash_after_deploying(rollout, deployed_minutes_ago).build())
    assert r.root_cause.category == "app-crash"
    assert (action.action, action.params) == (("rollback", {"taskDefinition": "api:31"}) if rollback else ("none", {}))


ELB_EVENT = ("(service api) (task {}) failed ELB health checks in (target-group "
             "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/abc).")


@pytest.mark.parametrize("events_minutes_ago, deployments, rollback", [
    (10, 2, True),
    (40, 2, True),      # as the deployment began
    (41, 2, False),     # before it: the deployment did not bring it
    (10, 1, False),     # nothing to go back to
])
def test_a_cause_only_events_show_was_brought_by_the_newest_deployment_if_it_began_after_it(events_minutes_ago,
                                                                                          deployments, rollback):
    b = EvidenceBuilder(desired=2)
    b.taskdef(11).taskdef(12)
    b.deployment(12, rollout="COMPLETED", age=40)
    if deployments > 1:
        b.deployment(11, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 5)
    for task in ("abc", "abd"):
        b.event(ELB_EVENT.format(task), age=events_minutes_ago)
    r, action, _ = action_of(b.build())
    assert r.root_cause.category == "elb-health-check-failed"
    assert (action.action, action.params) == (("rollback", {"taskDefinition": "api:11"}) if rollback else ("none", {}))
    if rollback:
        assert action.rationale.startswith("elb-health-check-failed began with revision api:12; rolling back to api:11")
        # what the revision changed joins the root's evidence
        assert any("v1.11" in line and "v1.12" in line for line in r.root_cause.evidence)


def test_a_crash_with_no_deployment_known_is_not_rolled_back_even_with_a_revision_to_go_back_to():
    b = EvidenceBuilder(desired=2)
    b.taskdef(31).taskdef(32)
    b.current = 32
    for age in (20, 15, 10):
        b.stopped(32, exit_code=1, age=age)
    evidence = b.build()
    evidence["service"]["deployments"] = []
    assert evidence["previous_task_definition"] == b.td_arn(31)
    r, action, _ = action_of(evidence)
    assert r.root_cause.category == "app-crash" and action.action == "none"
    assert action.rationale.startswith("No deployment introduced this")
    assert not any(line.startswith("api:32 vs api:31") for line in r.root_cause.evidence)


def test_a_routine_stop_of_the_old_revision_does_not_disqualify_it_as_the_rollback_target():
    b = failing_deploy(new=12, old=11)
    b.stopped(11, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143, age=30)
    for age in (20, 15, 10):
        b.stopped(12, exit_code=1, age=age)
    r, action, _ = action_of(b.build())
    assert (action.action, action.params) == ("rollback", {"taskDefinition": "api:11"})


def test_the_failing_deployment_finding_shows_what_its_revision_changed_even_after_ecs_moved_on():
    """ECS already deployed the old revision again; the failing one is not the newest, its changes are still said."""
    b = EvidenceBuilder(desired=2)
    b.taskdef(10).taskdef(11).taskdef(12)
    b.deployment(11, status="PRIMARY", rollout="COMPLETED", age=5)
    b.deployment(12, status="ACTIVE", rollout="FAILED", failed=3, age=40, running=0,
                 reason="ECS deployment circuit breaker: tasks failed to start.")
    b.deployment(10, status="INACTIVE", rollout="COMPLETED", age=60 * 24 * 9)
    for task in ("abc", "abd"):
        b.event(ELB_EVENT.format(task), age=30)
    r = classify(b.build())
    failing = next(f for f in r.findings if f.category == "deployment-failing")
    assert any("v1.12" in line for line in failing.evidence)


# ---- metrics and alarms: which utilisation cause they propose --------------------------------------------------------

@pytest.mark.parametrize("cpu_signals, memory_signals, cause, rule, confidence", [
    (2, 1, "cpu-saturation", "M01", 0.8 + 0.1),     # more signals win; two or more add 0.1
    (1, 2, "memory-pressure", "M02", 0.75 + 0.1),
    (1, 1, "cpu-saturation", "M01", 0.8),           # as many: the rule's priority
    (0, 1, "memory-pressure", "M02", 0.75),
])
def test_metrics_and_alarms_propose_the_most_signalled_utilisation_cause(cpu_signals, memory_signals, cause, rule,
                                                                        confidence):
    b = steady()
    b.metric("CPUUtilization", 90, 91, 92)
    if cpu_signals == 2:
        b.alarm("api-cpu-high", "CPUUtilization", reason="cpu")
    if cpu_signals == 0:
        b.metrics.clear()
    b.metric("MemoryUtilization", 95, 96, 97)
    if memory_signals == 2:
        b.alarm("api-memory-high", "MemoryUtilization", reason="memory")
    (h,) = MetricAnalyzer().propose(Analysis(read_view(b.build())))
    assert (h.cause, h.rule.id, h.tier, h.severity) == (cause, rule, Tier.METRICS, "high")
    assert h.confidence == pytest.approx(confidence) and len(h.signals) == len(h.evidence) == max(cpu_signals,
                                                                                                  memory_signals)
    assert h.summary == RULES_BY_ID[rule].summary


def test_metrics_and_alarms_propose_nothing_without_a_signal():
    assert MetricAnalyzer().propose(Analysis(read_view(steady().metric("CPUUtilization", 10, 20, 30).build()))) == []


def test_a_metric_no_rule_knows_or_without_datapoints_gives_no_signal():
    view = view_of(steady(), metrics={"CPUUtilization": [], "NetworkRxBytes": [[ago(3), 99], [ago(2), 99],
                                                                                [ago(1), 99]]})
    assert metric_signals(view) == []


def test_alarms_are_read_in_name_order_and_dated_by_their_last_state_change():
    alarms = [{"AlarmName": "b-memory", "MetricName": "MemoryUtilization", "StateValue": "ALARM",
               "StateUpdatedTimestamp": ago(7)},
              {"AlarmName": "a-cpu", "MetricName": "CPUUtilization", "StateValue": "ALARM"},
              {"AlarmName": "c-cpu-by-name", "StateValue": "ALARM"},
              {"AlarmName": "d-5xx", "MetricName": "HTTPCode_Target_5XX_Count", "StateValue": "ALARM"}]
    signals, others = alarm_signals(view_of(steady(), alarms=alarms))
    assert [(s.rule.id, s.line, s.at) for s in signals] == [
        ("A01", "alarm a-cpu is in ALARM", None),
        ("A02", "alarm b-memory is in ALARM", dt.datetime.fromisoformat(ago(7))),
        ("A01", "alarm c-cpu-by-name is in ALARM", None)]
    assert others == ["alarm d-5xx is in ALARM"]


# ---- stopped tasks: refined by their logs and by the memory metrics ------------------------------------------------------

def verdicts_of(b: EvidenceBuilder):
    return {v.task_id: v for v in Analysis(read_view(b.build())).verdicts}


def test_a_log_quotes_the_last_matching_line_of_the_highest_priority_log_rule_ignoring_lower_levels():
    b = steady()
    tid = b.stopped(31, exit_code=1, age=10)
    b.log(tid, "KeyError: 'FIRST'", "connect ECONNREFUSED 10.0.0.1:5432", "KeyError: 'SECOND'",
          "WARN KeyError: 'ONLY A WARNING'")
    v = verdicts_of(b)[tid]
    assert (v.log_rule.id, v.log_line, v.cause) == ("L02", "KeyError: 'SECOND'", "missing-config")


def test_a_health_check_failure_reads_only_the_causes_its_rule_lists_in_the_logs():
    b = steady()
    tid = b.stopped(31, "ServiceSchedulerInitiated", ELB_REASON, exit_code=None, age=10)
    b.log(tid, "KeyError: 'DATABASE_URL'")  # missing-config is not a health check's refinement
    assert verdicts_of(b)[tid].log_rule is None
    b.log(tid, "connect ECONNREFUSED 10.0.0.1:5432")
    assert verdicts_of(b)[tid].log_rule.id == "L04"


def test_a_spot_interruption_is_not_refined_by_its_logs():
    b = steady()
    tid = b.stopped(31, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=None, age=10)
    b.log(tid, "connect ECONNREFUSED 10.0.0.1:5432")
    assert verdicts_of(b)[tid].log_rule is None


def test_tasks_without_logs_take_the_answer_most_of_their_peers_logs_give():
    b = steady()
    config = [b.stopped(31, exit_code=1, age=age) for age in (40, 35)]
    network = b.stopped(31, exit_code=1, age=30)
    silent = b.stopped(31, exit_code=1, age=25)
    quiet = b.stopped(31, exit_code=1, age=20)          # has logs, none matching: keeps its own (no) answer
    other_revision = b.stopped(32, exit_code=1, age=15)  # another revision: not a peer
    other_rule = b.stopped(31, exit_code=139, age=12)    # another rule: not a peer
    for tid in config:
        b.log(tid, "KeyError: 'DATABASE_URL'")
    b.log(network, "connect ECONNREFUSED 10.0.0.1:5432")
    b.log(quiet, "INFO all good")
    found = verdicts_of(b)
    assert (found[silent].log_rule.id, found[silent].inherited_logs) == ("L02", True)
    assert found[silent].log_line == "KeyError: 'DATABASE_URL'"
    assert found[quiet].log_rule is None and found[other_revision].log_rule is None
    assert found[other_rule].log_rule is None
    assert not found[config[0]].inherited_logs and found[network].log_rule.id == "L04"


def test_peers_split_evenly_between_two_log_answers_take_the_higher_priority_one():
    b = steady()
    network = b.stopped(31, exit_code=1, age=30)
    config = b.stopped(31, exit_code=1, age=25)
    silent = b.stopped(31, exit_code=1, age=20)
    b.log(network, "connect ECONNREFUSED 10.0.0.1:5432")
    b.log(config, "KeyError: 'DATABASE_URL'")
    assert verdicts_of(b)[silent].log_rule.id == "L02"  # missing-config (1105) before dependency-unreachable (1115)


@pytest.mark.parametrize("exit_code, log, memory, cause", [
    (137, None, True, "container-oom"),
    (137, None, False, "app-crash"),
    (137, "KeyError: 'DATABASE_URL'", True, "missing-config"),   # its logs said why
    (1, None, True, "app-crash"),
])
def test_a_sigkill_with_memory_at_its_limit_is_an_oom_kill_unless_its_logs_say_otherwise(exit_code, log, memory,
                                                                                       cause):
    b = steady()
    tid = b.stopped(31, exit_code=exit_code, age=10)
    if log:
        b.log(tid, log)
    if memory:
        b.metric("MemoryUtilization", 95, 96, 97)
    v = verdicts_of(b)[tid]
    assert v.cause == cause
    assert (v.evidence_rule.id if v.evidence_rule else None) == ("F02" if cause == "container-oom" else None)


def test_a_sigkill_after_a_failed_health_check_stays_a_health_check_failure_even_with_memory_at_its_limit():
    b = steady()
    tid = b.stopped(31, "ServiceSchedulerInitiated", "Task failed container health checks", exit_code=137, age=10)
    b.metric("MemoryUtilization", 95, 96, 97)
    assert verdicts_of(b)[tid].cause == "container-health-check-failed"


def test_the_exit_code_of_a_container_its_task_definition_marks_non_essential_does_not_count():
    b = steady()
    b.taskdef(31)
    b.taskdefs[31]["containerDefinitions"].append({"name": "worker", "essential": False})
    tid = b.stopped(31, "EssentialContainerExited", "Essential container in task exited",
                    containers=[{"name": "api", "exitCode": 0}, {"name": "worker", "exitCode": 139}])
    assert (verdicts_of(b)[tid].rule.id, verdicts_of(b)[tid].exit_code) == ("F01", 0)
    # without the task definition every app container's exit counts
    assert classify_task(read_view(b.build()).stopped[0]).rule.id == "F04"


def test_a_naive_time_reads_as_utc_whether_a_datetime_or_a_string():
    naive = NOW.replace(tzinfo=None)
    assert ts(naive) == ts(naive.isoformat()) == NOW.timestamp()


def test_a_metric_without_datapoints_does_not_hide_the_next_one():
    view = view_of(steady(), metrics={"CPUUtilization": [], "MemoryUtilization": [[ago(3), 95], [ago(2), 96],
                                                                                   [ago(1), 97]]})
    assert [s.rule.id for s in metric_signals(view)] == ["M02"]


def test_what_a_revision_changed_is_said_against_the_rollback_target_not_merely_the_previous_revision():
    b = failing_deploy(new=12, old=11)
    b.taskdef(10)
    b.previous = 10
    for age in (20, 15, 10):
        b.stopped(12, exit_code=1, age=age)
    r = classify(b.build())
    assert r.suggested_actions[0].params == {"taskDefinition": "api:11"}
    assert "api:12 vs api:11: container api: image api:v1.11 -> api:v1.12" in r.root_cause.evidence


def test_without_a_rollback_target_what_a_revision_changed_is_said_against_the_previous_revision():
    b = EvidenceBuilder(desired=2, running=0)
    b.taskdef(11).taskdef(12)
    b.deployment(12, rollout="IN_PROGRESS", failed=3, age=40, running=0)
    for age in (20, 15, 10):
        b.stopped(12, exit_code=1, age=age)
    for age in (60, 50):
        b.stopped(11, exit_code=1, age=age)  # the previous revision fails too: no target
    r = classify(b.build())
    assert r.suggested_actions[0].action == "none"
    failing = next(f for f in r.findings if f.category == "deployment-failing")
    assert "api:12 vs api:11: container api: image api:v1.11 -> api:v1.12" in failing.evidence


def test_a_datapoint_without_a_time_is_kept_and_read_first():
    view = view_of(steady(), metrics={"CPUUtilization": [{"Timestamp": ago(5), "Value": 91}, {"Value": 50}]})
    assert view.metrics["CPUUtilization"] == [(None, 50.0), (dt.datetime.fromisoformat(ago(5)), 91.0)]


# ---- long texts: the evidence line keeps the token the rule decided on ------------------------------------------------

FILLER = "retrying after backoff; " * 14


def test_a_long_stop_reason_is_cut_around_the_token_its_rule_matched():
    reason = f"CannotPullContainerError: {FILLER}unexpected status from HEAD request: 403 Forbidden"
    verdict = classify_task(_task("TaskFailedToStart", reason))
    assert len(reason) > 300 and verdict.rule.id == "F08b"
    assert verdict.line().endswith("403 Forbidden") and verdict.line().startswith("task/01234567: …")


def test_a_long_log_line_is_cut_around_the_token_its_log_rule_matched():
    b = steady()
    tid = b.stopped(31, exit_code=1, age=10)
    b.log(tid, f"ERROR {FILLER}connect ECONNREFUSED 10.0.3.7:5432")
    (v,) = verdicts_of(b).values()
    assert v.log_rule.id == "L04" and "ECONNREFUSED" in v.log_evidence() and "…" in v.log_evidence()


def test_a_long_steady_state_event_quoted_by_healthy_keeps_the_words_that_say_so():
    b = steady()
    b.event(f"(service api) {FILLER}{FILLER}has reached a steady state.", age=5)
    r = classify(b.build())
    assert r.root_cause.category == "healthy"
    assert r.root_cause.evidence[2].startswith(f"event {ago(5)}: …")
    assert r.root_cause.evidence[2].endswith("has reached a steady state.")


# ---- more edges of the stopped tasks' refinement ------------------------------------------------------------------------

def test_a_task_no_rule_knows_beside_ones_that_read_their_logs_is_kept_without_a_cause():
    b = steady()
    unknown = b.stopped(31, "SomethingNew", "A reason nobody wrote a rule for", exit_code=None, age=20)
    crash = b.stopped(31, exit_code=1, age=10)
    b.log(crash, "KeyError: 'DATABASE_URL'")
    found = verdicts_of(b)
    assert found[unknown].rule is None and found[unknown].cause is None and found[crash].cause == "missing-config"


def test_a_group_of_peers_without_any_log_answer_does_not_stop_the_next_group_from_sharing_its_own():
    b = steady()
    b.stopped(31, exit_code=139, age=40)             # its own group (F04), no logs at all
    talker = b.stopped(31, exit_code=1, age=30)
    silent = b.stopped(31, exit_code=1, age=20)
    b.log(talker, "KeyError: 'DATABASE_URL'")
    assert verdicts_of(b)[silent].log_rule.id == "L02"


def test_peers_take_the_log_answer_most_of_them_gave_even_of_a_lower_priority():
    b = steady()
    network = [b.stopped(31, exit_code=1, age=age) for age in (40, 35)]
    config = b.stopped(31, exit_code=1, age=30)
    silent = b.stopped(31, exit_code=1, age=20)
    for tid in network:
        b.log(tid, "connect ECONNREFUSED 10.0.0.1:5432")
    b.log(config, "KeyError: 'DATABASE_URL'")
    assert verdicts_of(b)[silent].log_rule.id == "L04"


def test_a_single_stopped_task_is_the_whole_share_of_the_stops():
    b = steady()
    b.stopped(31, exit_code=1, age=10)
    (h,) = _hypotheses(b)
    assert h.confidence == pytest.approx(0.75)


def test_an_oom_kill_read_from_memory_says_both_what_the_task_showed_and_what_it_means():
    b = steady()
    for age in (20, 10):
        b.stopped(31, exit_code=137, age=age)
    b.metric("MemoryUtilization", 95, 96, 97)
    (h,) = _hypotheses(b)
    assert h.cause == "container-oom" and h.summary == (
        "2 of 2 stopped tasks were killed with SIGKILL (exit 137) without an OutOfMemoryError reason. "
        "2 of 2 stopped tasks had a container killed for exceeding its memory limit (OutOfMemoryError).")


def test_a_cause_quotes_at_most_three_of_its_tasks_log_lines():
    b = steady()
    for n, age in enumerate((40, 35, 30, 25)):
        b.log(b.stopped(31, exit_code=1, age=age), f"KeyError: 'SETTING_{n}'")
    (h,) = _hypotheses(b)
    assert [line.rsplit(" ", 1)[1] for line in h.evidence[3:]] == ["'SETTING_0'", "'SETTING_1'", "'SETTING_2'"]


def test_a_cause_quotes_at_most_two_notes_of_what_settled_it():
    b = steady(desired=3)
    images = []
    for revision, age in ((29, 30), (30, 20), (31, 10)):
        b.stopped(revision, "TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 "
                  f"time(s): failed to resolve ref api:v1.{revision}: not found", exit_code=None, age=age)
        images.append({"image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1.{revision}",
                       "registryId": "123456789012", "repository": "api", "revisions": [b.td_arn(revision)],
                       "status": "ImageNotFound"})
    evidence = b.build()
    evidence["images"] = images
    analysis = Analysis(read_view(evidence))
    (h,) = task_hypotheses(analysis.verdicts, 3, analysis.view)
    notes = [line for line in h.evidence if line.startswith("ecr: ")]
    assert h.cause == "image-not-found" and len(notes) == 2


def test_a_task_definition_stored_under_its_arn_without_its_own_name_is_found_by_the_keys_short_name():
    evidence = _raw_evidence()
    bare = {"containerDefinitions": []}
    evidence["task_definitions"] = {_td(9): bare}
    assert read_view(evidence).taskdef("api:9") is bare


def test_an_alarm_not_in_alarm_does_not_hide_the_next_one():
    alarms = [{"AlarmName": "a-ok", "MetricName": "CPUUtilization", "StateValue": "OK"},
              {"AlarmName": "b-cpu", "MetricName": "CPUUtilization", "StateValue": "ALARM"}]
    signals, _ = alarm_signals(view_of(steady(), alarms=alarms))
    assert [s.line for s in signals] == ["alarm b-cpu is in ALARM"]


def test_the_services_own_name_comes_before_the_one_the_target_was_asked_by():
    evidence = _raw_evidence()
    evidence["target"]["service"] = "api-as-asked"
    assert read_view(evidence).service_name == "api"
    del evidence["service"]["serviceName"]
    assert read_view(evidence).service_name == "api-as-asked"
