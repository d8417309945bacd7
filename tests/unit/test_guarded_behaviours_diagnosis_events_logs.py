"""The service-event and application-log analyzers at their boundaries: which events are signals and which
deployment they name, how a placement failure is read against the cluster's instances and the task definition,
and which logs (of which tasks, how many lines) make a cause.

Through the modules' public functions (`event_signals`, `EventAnalyzer`, `TaskAnalyzer` for placement read from
stopped tasks, `LogAnalyzer`) over views read from evidence documents built with tests/unit/evidence_builder.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier, signal_hypotheses
from agents.aws_ecs_service.diagnosis.analyzers.events import EventAnalyzer, event_signals, placement_refined
from agents.aws_ecs_service.diagnosis.analyzers.logs import LogAnalyzer
from agents.aws_ecs_service.diagnosis.analyzers.tasks import TaskAnalyzer
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import NOW, EvidenceBuilder, failing_deploy, placement_world

UNPLACEABLE = ("(service reports) was unable to place a task because no container instance met all of its "
               "requirements. Reason: No Container Instances were found in your cluster.")
NO_ROOM = ("(service reports) was unable to place a task because no container instance met all of its "
           "requirements. The closest matching container-instance abc has insufficient CPU units available.")
PORT_TAKEN = ("(service reports) was unable to place a task because no container instance met all of its "
              "requirements. The closest matching container-instance abc is already using a port required by your "
              "task.")


def at(minutes: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes)).isoformat()


def event_line(minutes: float, message: str) -> str:
    return f"event {at(minutes)}: {message}"


def analysis_of(doc: dict[str, Any]) -> Analysis:
    return Analysis(read_view(doc))


def summary(h) -> tuple:
    return h.cause, h.rule.id, round(h.confidence, 4), h.summary, h.evidence, h.severity, h.tier


# ---- event_signals -------------------------------------------------------------------------------------------

def test_every_recognised_event_is_a_signal_newest_first_naming_the_deployment_it_failed():
    b = EvidenceBuilder()
    b.deployment(31)
    b.event("(service api) (deployment ecs-svc/77) deployment failed: tasks failed to start.", age=30)
    b.event("(service api) has started 2 tasks: (task a) (task b).", age=20)         # no rule knows it
    b.event("(service api) (deployment ecs-svc/78) Deployment Failed: alarm detected.", age=15)
    b.event("(service api) deployment failed: tasks failed to start.", age=12)     # names no deployment
    b.event("(service api) has reached a steady state.", age=10)
    b.event("(service api) (deployment ecs-svc/79) deployment completed.", age=5)
    signals = event_signals(read_view(b.build()))
    assert [(s.rule.id, s.line, s.at.isoformat(), s.deployment_id) for s in signals] == [
        ("F42", event_line(5, "(service api) (deployment ecs-svc/79) deployment completed."), at(5), None),
        ("F42", event_line(10, "(service api) has reached a steady state."), at(10), None),
        ("F30", event_line(12, "(service api) deployment failed: tasks failed to start."), at(12), None),
        ("F32", event_line(15, "(service api) (deployment ecs-svc/78) Deployment Failed: alarm detected."), at(15),
         "ecs-svc/78"),
        ("F30", event_line(30, "(service api) (deployment ecs-svc/77) deployment failed: tasks failed to start."),
         at(30), "ecs-svc/77"),
    ]


def test_a_service_without_events_has_no_event_signals():
    b = EvidenceBuilder()
    b.deployment(31)
    assert event_signals(read_view(b.build())) == []


# ---- EventAnalyzer ------------------------------------------------------------------------------------------

def test_events_propose_one_hypothesis_per_cause_leaving_out_wrappers_and_steady_states():
    b = placement_world()
    for age in (30, 20, 10):
        b.event(NO_ROOM, age=age)
    b.event("(service reports) has reached a steady state.", age=8)
    b.event("(service reports) (deployment ecs-svc/3) deployment failed: tasks failed to start.", age=7)
    b.event("(service reports) operations are being throttled. Will try again later.", age=6)
    found = EventAnalyzer().propose(analysis_of(b.build()))
    assert [summary(h) for h in found] == [
        ("placement-insufficient-resources", "F24", 0.855,
         "Tasks cannot be placed: no container instance has enough free CPU/memory (3 signals).",
         [event_line(10, NO_ROOM), event_line(20, NO_ROOM), event_line(30, NO_ROOM)], "high", Tier.FAILURE),
        ("ecs-api-throttled", "F34b", 0.7225, "ECS throttles the service's operations (1 service events).",
         [event_line(6, "(service reports) operations are being throttled. Will try again later.")], "medium",
         Tier.TRANSIENT),
    ]


def test_only_wrapper_and_steady_state_events_propose_nothing():
    b = placement_world()
    b.event("(service reports) has reached a steady state.", age=8)
    b.event("(service reports) deployment failed: alarm detected.", age=7)
    assert EventAnalyzer().propose(analysis_of(b.build())) == []


# ---- placement read against the container instances ----------------------------------------------------------

def unplaceable(instances: list[dict[str, Any]] | None, events: tuple[str, ...] = (UNPLACEABLE,)) -> dict[str, Any]:
    """A placement world whose only placement events are these; instances None: they could not be read."""
    b = placement_world()
    for i, message in enumerate(events):
        b.event(message, age=10 + i)
    doc = b.build()
    if instances is None:
        doc["errors"] = [{"call": "ecs:DescribeContainerInstances", "code": "AccessDenied", "message": "denied"}]
    else:
        doc["container_instances"] = instances
    return doc


GENERIC = "(service reports) was unable to place a task because no container instance met all of its requirements."


@pytest.mark.parametrize("instances, rule, line", [
    ([], "F25", "container instances: none ACTIVE in the cluster"),
    ([{"status": "DRAINING"}, {"status": "INACTIVE", "agentConnected": False}], "F25",
     "container instances: none ACTIVE in the cluster"),
    ([{"status": "ACTIVE", "agentConnected": False}, {"status": "active", "agentConnected": False},
      {"status": "DRAINING", "agentConnected": True}], "F38",
     "container instances: 2 ACTIVE, none with its agent connected"),
    ([{"agentConnected": False}], "F38", "container instances: 1 ACTIVE, none with its agent connected"),
    ([{"status": "ACTIVE", "agentConnected": False}, {"status": "ACTIVE", "agentConnected": True}], None, None),
    ([{"status": "ACTIVE", "agentConnected": False}, {"status": "ACTIVE"}], None, None),  # not known disconnected
    ([{"status": "ACTIVE", "agentConnected": True}], None, None),
    (None, None, None),                                                  # instances unknown: nothing to read
])
def test_a_generic_placement_failure_is_read_against_the_clusters_instances(instances, rule, line):
    [h] = EventAnalyzer().propose(analysis_of(unplaceable(instances, (GENERIC, GENERIC))))
    events = [event_line(10, GENERIC), event_line(11, GENERIC)]
    if rule is None:
        assert (h.rule.id, h.evidence) == ("F24c", events)
        return
    expected = {"F25": ("placement-no-instances", 0.855, "Tasks cannot be placed: the cluster has no usable container "
                        "instances (2 signals).", "critical"),
                "F38": ("agent-disconnected", 0.855, "Tasks cannot be placed: the ECS agent on the container instances "
                        "is disconnected (2 signals).", "critical")}[rule]
    assert summary(h) == (expected[0], rule, expected[1], expected[2], events + [line], expected[3], Tier.FAILURE)
    assert [s.rule.id for s in h.signals] == ["F24c", "F24c"] and h.verdicts == []


@pytest.mark.parametrize("tier", [Tier.FAILURE, Tier.ALSO])
def test_a_reread_placement_hypothesis_keeps_its_tier(tier):
    analysis = analysis_of(unplaceable([], (GENERIC,)))
    [h] = signal_hypotheses(analysis.event_signals, analysis.view)  # as the event analyzer has it, before rereading
    h.tier = tier
    refined = placement_refined(h, analysis.view)
    assert (refined.rule.id, refined.tier) == ("F25", tier)


def test_a_placement_failure_that_names_its_reason_is_not_reread_against_the_instances():
    [h] = EventAnalyzer().propose(analysis_of(unplaceable([], (GENERIC, NO_ROOM))))
    assert h.rule.id == "F24" and h.evidence == [event_line(10, GENERIC), event_line(11, NO_ROOM)]


def test_stopped_tasks_that_could_not_be_placed_are_not_reread_against_the_instances():
    b = placement_world()
    for age in (12, 11):
        b.stopped(3, "TaskFailedToStart", "unable to place a task because no container instance met all of its "
                                          "requirements", exit_code=None, age=age)
    doc = b.build()
    doc["container_instances"] = []
    found = TaskAnalyzer().propose(analysis_of(doc))
    assert [h.rule.id for h in found] == ["F24c"]


# ---- a taken port when the task asks for dynamic host ports --------------------------------------------------

def port_world(mappings: list[list[dict[str, Any]]] | None, network_mode: str | None = None) -> EvidenceBuilder:
    """A placement world whose current revision's containers have these port mappings (None: no containers)."""
    b = placement_world()
    td = b.taskdefs[3]
    if network_mode:
        td["networkMode"] = network_mode
    base = td["containerDefinitions"][0]
    td["containerDefinitions"] = None if mappings is None else [
        {**base, "name": f"c{i}", "portMappings": m} for i, m in enumerate(mappings)]
    return b


DYNAMIC_LINE = "task definition: dynamic host ports only (hostPort 0), so no static port can conflict"


@pytest.mark.parametrize("mappings, network_mode, dynamic", [
    ([[{"containerPort": 8080, "hostPort": 0}]], None, True),
    ([[{"containerPort": 8080}], [{"containerPort": 9090, "hostPort": 0}]], "bridge", True),
    ([[{"containerPort": 8080, "hostPort": 0}], [{"containerPort": 9090, "hostPort": 9090}]], "bridge", False),
    ([[{"containerPort": 8080, "hostPort": 8080}]], None, False),
    ([[{"containerPort": 8080, "hostPort": 0}]], "awsvpc", False),
    ([[{"containerPort": 8080, "hostPort": 0}]], "host", False),
    ([[], None], None, False),                                     # no port mappings at all
    (None, None, False),
])
def test_a_taken_port_with_only_dynamic_host_ports_means_the_instances_ran_out_of_ports(mappings, network_mode,
                                                                                      dynamic):
    b = port_world(mappings, network_mode)
    b.event(PORT_TAKEN, age=10)
    [h] = EventAnalyzer().propose(analysis_of(b.build()))
    if dynamic:
        assert summary(h) == ("host-port-exhaustion", "F24e", 0.8075,
                              "Tasks cannot be placed: the container instances have no host ports left (1 signals).",
                              [event_line(10, PORT_TAKEN), DYNAMIC_LINE], "high", Tier.FAILURE)
        assert [s.rule.id for s in h.signals] == ["F24b"]
    else:
        assert (h.rule.id, h.evidence) == ("F24b", [event_line(10, PORT_TAKEN)])


def test_stopped_tasks_refused_a_port_with_only_dynamic_host_ports_count_their_tasks():
    b = port_world([[{"containerPort": 8080, "hostPort": 0}]])
    for age in (12, 11, 10):
        b.stopped(3, "TaskFailedToStart", "RESOURCE:PORTS", exit_code=None, age=age)
    [h] = TaskAnalyzer().propose(analysis_of(b.build()))
    assert (h.rule.id, h.summary, h.evidence[-1], len(h.verdicts)) == (
        "F24e", "Tasks cannot be placed: the container instances have no host ports left (3 signals).", DYNAMIC_LINE,
        3)


def test_a_placement_failure_of_another_kind_is_not_reread_for_ports():
    b = port_world([[{"containerPort": 8080, "hostPort": 0}]])
    b.event(NO_ROOM, age=10)
    [h] = EventAnalyzer().propose(analysis_of(b.build()))
    assert h.rule.id == "F24" and h.evidence == [event_line(10, NO_ROOM)]


# ---- LogAnalyzer ----------------------------------------------------------------------------------------------

DENIED = ("ERROR upload failed: An error occurred (AccessDenied) when calling the PutObject operation: User: "
          "arn:aws:sts::123456789012:assumed-role/api-task/abc is not authorized to perform: s3:PutObject")
UNSET = "ERROR payment client disabled: environment variable PAYMENT_URL is not set"
REFUSED = "ERROR db: connection refused (10.0.3.4:5432)"
CRASH = "Traceback (most recent call last): ValueError: bad input"


def running_with_logs(*per_task: tuple[str, ...], desired: int = 2, running: int = 2) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running)
    b.deployment(31)
    for lines in per_task:
        b.log(b.running_task(31), *lines)
    return b


def tids(b: EvidenceBuilder) -> list[str]:
    return [t["taskArn"].rsplit("/", 1)[-1][:8] for t in b.running_tasks + b.stopped_tasks]


def logs_proposed(b: EvidenceBuilder):
    return [summary(h) for h in LogAnalyzer().propose(analysis_of(b.build()))]


def test_a_steady_service_whose_tasks_are_denied_aws_calls_twice_is_a_logs_cause():
    b = running_with_logs((DENIED, "INFO ok"), (DENIED,))
    first, second = tids(b)
    assert logs_proposed(b) == [(
        "task-role-access-denied", "L03", 0.595, "The application is denied AWS API calls by its task role (logs).",
        [f"log task/{second}: {DENIED}", f"log task/{first}: {DENIED}"], "critical", Tier.LOGS)]


@pytest.mark.parametrize("per_task", [
    ((DENIED,),),                                  # one line is not enough on a running service
    ((f"INFO retrying: {DENIED}",), (f"WARN {DENIED}",)),  # below ERROR
    ((UNSET,), (UNSET,)),                          # a steady service shows only denied calls
    ((REFUSED,), (REFUSED,)),
    ((CRASH,), (CRASH,)),
])
def test_a_steady_service_shows_only_denied_calls_logged_at_least_twice(per_task):
    assert logs_proposed(running_with_logs(*per_task)) == []


@pytest.mark.parametrize("per_task, rule", [
    (((UNSET,), (UNSET,)), "L02"),
    (((REFUSED,), (REFUSED,)), "L04"),
    (((DENIED, REFUSED), (DENIED, REFUSED)), "L03"),   # the rule first in priority order
    (((UNSET, DENIED), (DENIED, UNSET)), "L02"),
    (((CRASH,), (CRASH,)), None),                      # not a cause a running service shows
    (((UNSET,),), None),                               # one line
])
def test_a_service_missing_tasks_shows_config_denied_calls_and_unreachable_dependencies(per_task, rule):
    found = logs_proposed(running_with_logs(*per_task, running=1))
    assert [f[1] for f in found] == ([rule] if rule else [])


def test_an_alarm_in_alarm_makes_a_full_service_show_running_causes_and_is_quoted_beside_the_logs():
    b = running_with_logs((UNSET,), (UNSET,))
    for name in ("api-5xx-high", "api-latency-p99", "api-queue-depth"):
        b.alarm(name, "TargetResponseTime", reason="")
    first, second = tids(b)
    assert logs_proposed(b) == [(
        "missing-config", "L02", 0.63, "The application exits because a setting is missing or invalid (logs name it).",
        [f"log task/{second}: {UNSET}", f"log task/{first}: {UNSET}", "alarm api-5xx-high is in ALARM",
         "alarm api-latency-p99 is in ALARM"], "critical", Tier.LOGS)]


def test_a_cpu_alarm_in_alarm_makes_a_full_service_show_running_causes():
    b = running_with_logs((REFUSED,), (REFUSED,)).alarm("api-cpu-high", "CPUUtilization")
    assert [f[1] for f in logs_proposed(b)] == ["L04"]


def test_the_logs_evidence_quotes_four_distinct_lines_newest_first_each_clipped():
    long = "ERROR db: connection refused " + "q" * 400
    b = running_with_logs((REFUSED, REFUSED, "ERROR db: connection refused (2)"),
                          ("ERROR db: connection refused (3)", long, "ERROR db: connection refused (4)"), running=1)
    first, second = tids(b)
    [found] = logs_proposed(b)
    assert found[3] == "The application cannot reach a dependency (database, cache or API) according to its logs."
    assert found[4] == [f"log task/{second}: ERROR db: connection refused (4)", f"log task/{second}: {long[:299]}…",
                        f"log task/{second}: ERROR db: connection refused (3)",
                        f"log task/{first}: ERROR db: connection refused (2)"]


def test_a_failing_deployment_reads_any_log_rule_once_in_its_own_tasks():
    b = failing_deploy(rollout="FAILED")
    old = [t["taskArn"].rsplit("/", 1)[-1] for t in b.running_tasks]
    new = b.stopped(12, age=12)
    started = b.stopped(11, age=11, started_by="ecs-svc/1000012")  # the failing deployment started it
    other = b.stopped(11, age=10, started_by="ecs-svc/1000011")
    b.log(new, "INFO booting", CRASH).log(started, UNSET).log(other, DENIED)
    for tid in old:
        b.log(tid, DENIED)
    assert logs_proposed(b) == [(
        "missing-config", "L02", 0.63, "The application exits because a setting is missing or invalid (logs name it).",
        [f"log task/{started[:8]}: {UNSET}"], "critical", Tier.LOGS)]


def test_a_failing_deployments_running_tasks_logs_count_too():
    b = failing_deploy(rollout="FAILED")
    b.log(b.running_task(12), CRASH)
    assert [f[1] for f in logs_proposed(b)] == ["L06"]


def test_a_failing_deployment_whose_tasks_logged_nothing_known_has_no_logs_cause():
    b = failing_deploy(rollout="FAILED")
    b.log(b.stopped(12, age=12), "INFO booting", "WARN slow start")
    assert logs_proposed(b) == []
