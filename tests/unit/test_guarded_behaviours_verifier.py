"""The verifier (operations/verifier.py): a change counts as working only when the service really recovered.

The world is moto's ECS and CloudWatch in-process (no server): a test sets the service's counts, rollout and events
the way the ECS scheduler would, then calls verify(). Waiting happens on a fake clock. Each test is named for the
behaviour it protects.
"""
from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.ecs.models import ecs_backends

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.result import RootCause, TriageResult, Window
from agents.aws_ecs_service.domain.plan import Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.operations import verifier
from agents.aws_ecs_service.operations.verifier import Stability, StopWaiting, same_cause, verify
from tests.fake_clock import FakeClock

ACCOUNT, REGION = "123456789012", "us-east-1"
TARGET = ServiceTarget.from_names("123456789012", REGION, "prod", "api")
STEADY = "(service api) has reached a steady state."


class World:
    """Service prod/api on revision api:1 (api:2 and api:3 registered too); `reset` puts it back between tests."""

    def __init__(self):
        self.ecs = boto3.client("ecs", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.ecs.create_cluster(clusterName="prod")
        for _ in range(3):
            self.ecs.register_task_definition(family="api", containerDefinitions=[
                {"name": "api", "image": "api:v1", "memory": 512}])
        self.ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:1", desiredCount=1)
        self.deployment = dict(self.svc.deployments[0])

    def reset(self, desired: int, running: int) -> World:
        self.svc.deployments = [dict(self.deployment)]
        self.svc.events.clear()
        ecs_backends[ACCOUNT][REGION].tasks.clear()
        self.cloudwatch.delete_alarms(AlarmNames=["api-cpu-high", "api-health"])
        self.set(running=running, desired=desired, rollout="COMPLETED", revision=1)
        return self

    @property
    def svc(self):
        return ecs_backends[ACCOUNT][REGION].services["prod:api"]

    def set(self, running: int | None = None, desired: int | None = None, pending: int = 0,
            rollout: str | None = None, revision: int | None = None) -> None:
        svc = self.svc
        svc.desired_count = svc.desired_count if desired is None else desired
        svc.running_count = svc.running_count if running is None else running
        svc.pending_count = pending
        if rollout:
            svc.deployments[0]["rolloutState"] = rollout
        if revision:
            svc.deployments[0]["taskDefinition"] = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/api:{revision}"

    def stopped(self, reason: str, revision: int = 2, at: dt.datetime | None = None) -> str:
        """A task of revision `revision` that stopped for `reason` (at `at`; moto leaves stoppedAt unset otherwise)."""
        arn = self.ecs.run_task(cluster="prod", taskDefinition=f"api:{revision}", launchType="FARGATE")["tasks"][0][
            "taskArn"]
        self.ecs.stop_task(cluster="prod", task=arn, reason=reason)
        if at:
            ecs_backends[ACCOUNT][REGION].tasks["prod"][arn].stopped_at = at
        return arn.rsplit("/", 1)[-1]

    def task(self, task_id: str):
        """moto's own record of a task, for the fields its API cannot set (stopCode, stoppingAt, container reasons)."""
        return next(t for arn, t in ecs_backends[ACCOUNT][REGION].tasks["prod"].items() if arn.endswith(task_id))

    def composite_alarm(self, state: str) -> None:
        """moto has no PutCompositeAlarm: the backend takes the rule directly."""
        cloudwatch_backends[ACCOUNT][REGION].put_metric_alarm(
            name="api-health", namespace=None, metric_name=None, comparison_operator=None, evaluation_periods=None,
            period=None, threshold=None, statistic=None, description=None, dimensions=[], alarm_actions=[],
            rule="ALARM(api-cpu-high)")
        self.cloudwatch.set_alarm_state(AlarmName="api-health", StateValue=state, StateReason="test")

    def event(self, message: str = STEADY, at: dt.datetime | None = None) -> None:
        self.svc.events.insert(0, {"id": str(len(self.svc.events)), "message": message,
                                   "createdAt": at or dt.datetime.now(dt.UTC)})

    def alarm(self, state: str) -> None:
        self.cloudwatch.put_metric_alarm(AlarmName="api-cpu-high", MetricName="CPUUtilization", Namespace="AWS/ECS",
                                         Statistic="Average", Period=60, EvaluationPeriods=3, Threshold=85,
                                         ComparisonOperator="GreaterThanOrEqualToThreshold")
        self.cloudwatch.set_alarm_state(AlarmName="api-cpu-high", StateValue=state, StateReason="test")


@pytest.fixture(scope="module")
def moto_world():
    """One moto world and one AwsContext for the module: creating clients is most of a test's time."""
    with pytest.MonkeyPatch.context() as env:
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_CLOUDWATCH"):
            env.delenv(key, raising=False)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            yield World(), AwsContext(region=REGION)


@pytest.fixture
def world(moto_world):
    """world(desired, running) -> the service as the scheduler left it: that many tasks, rollout COMPLETED."""
    return moto_world[0].reset


@pytest.fixture
def ctx(moto_world) -> AwsContext:
    return moto_world[1]


@pytest.fixture
def clock(monkeypatch):
    found = FakeClock()
    monkeypatch.setattr(verifier, "time", found)
    return found


def scale_plan(to: int) -> Plan:
    return Plan(incident_id="inc-1", target=TARGET, root_cause="cpu-saturation", title="scale out", summary="",
                steps=[PlanStep(number=1, action="update_service_desired_count", api_call="scale", description="",
                                params={"cluster": "prod", "service": "api", "desiredCount": to},
                                expected_before={"desiredCount": to - 1})])


def rollback_plan(to: str = "api:2", cause: str = "app-crash") -> Plan:
    return Plan(incident_id="inc-1", target=TARGET, root_cause=cause, title="roll back", summary="",
                steps=[PlanStep(number=1, action="update_service_task_definition", api_call="rollback", description="",
                                params={"cluster": "prod", "service": "api", "taskDefinition": to},
                                expected_before={"taskDefinition": "api:3"})])


def triage(cause: str = "cpu-saturation") -> TriageResult:
    return TriageResult(target=TARGET, window=Window(start="", end=""), status="degraded",
                        root_cause=RootCause(category=cause, confidence=0.9, summary=cause))


def check(result, name: str):
    return next(c for c in result.checks if c.name == name)


def just_changed() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)


# -- running == desired ---------------------------------------------------------------------------------------------

def test_a_service_with_fewer_tasks_running_than_desired_is_not_verified(world, ctx):
    world(desired=3, running=2)
    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0)
    counts = check(result, "running == desired")
    assert not result.ok and not counts.ok and counts.detail == "running 2 of desired 3"
    assert counts.after == "2/3" and check(result, "service steady").ok


def test_a_service_running_every_desired_task_on_a_completed_rollout_is_verified(world, ctx):
    world(desired=3, running=3)
    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0)
    assert result.ok and result.polls == 1 and result.next_step == ""
    assert [c.name for c in result.checks] == ["service steady", "running == desired", "no new cpu-saturation stops"]


def test_the_planned_desired_count_must_be_the_one_reached(world, ctx):
    world(desired=3, running=3)
    result = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0)
    counts = check(result, "running == desired")
    assert not counts.ok and counts.detail == "running 3 of desired 3 (plan: 4)"


def test_pending_tasks_mean_not_yet_verified(world, ctx):
    w = world(desired=3, running=3)
    w.set(pending=1)
    assert not check(verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0),
                     "running == desired").ok


def test_a_service_scaled_to_zero_is_never_verified_as_recovered(world, ctx):
    world(desired=0, running=0)
    assert not check(verify(ctx, scale_plan(0), triage(), just_changed(), timeout_s=0),
                     "running == desired").ok


def test_before_values_come_from_the_evidence(world, ctx):
    world(desired=3, running=3)
    evidence = {"service": {"runningCount": 2, "desiredCount": 3, "taskDefinition": "arn:aws:ecs:us-east-1:1:"
                                                                                    "task-definition/api:3"}}
    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0, evidence=evidence)
    assert check(result, "running == desired").before == "2/3" and check(result, "service steady").before == "api:3"


# -- the service is steady after the change --------------------------------------------------------------------------

def test_a_rollback_is_verified_when_the_planned_revision_completed(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="COMPLETED")
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0)
    assert result.ok and check(result, "service steady").after == "api:2 COMPLETED"


def test_a_rollback_still_in_progress_without_a_steady_event_is_not_verified(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="IN_PROGRESS")
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0)
    steady = check(result, "service steady")
    assert not steady.ok and "rolloutState=IN_PROGRESS" in steady.detail and "after the change: no" in steady.detail


def test_a_steady_state_event_after_the_change_counts_for_a_rollout_in_progress(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="IN_PROGRESS")
    w.event()
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0)
    assert result.ok and "after the change: yes" in check(result, "service steady").detail


def test_a_steady_state_event_from_before_the_change_does_not_count(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="IN_PROGRESS")
    w.event(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0)
    assert not check(result, "service steady").ok


def test_a_completed_rollout_of_another_revision_is_not_the_planned_rollback(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=3, rollout="COMPLETED")
    w.event()
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0)
    assert not check(result, "service steady").ok


def test_without_a_planned_revision_a_second_deployment_in_flight_is_not_steady(world, ctx):
    w = world(desired=3, running=3)
    w.svc.deployments.append(dict(w.svc.deployments[0], status="ACTIVE", id="ecs-svc/old"))
    assert not check(verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0),
                     "service steady").ok


# -- deciding early, and the next step -------------------------------------------------------------------------------

def test_a_failed_rollout_of_the_planned_revision_is_decided_at_once_and_rolls_back_further(world, clock, ctx):
    w = world(desired=2, running=0)
    w.set(revision=2, rollout="FAILED")
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(),
                    timeout_s=600)
    assert not result.ok and result.polls == 1 and clock.slept == []
    assert result.next_step.startswith("roll back further to api:1 (a new plan and approval): api:2 fails too")


def test_with_no_older_revision_a_failed_rollback_escalates_to_a_human(world, clock, ctx):
    w = world(desired=2, running=0)
    w.set(revision=1, rollout="FAILED")
    result = verify(ctx, rollback_plan("api:1"), triage("app-crash"), just_changed(),
                    timeout_s=600)
    assert result.next_step == "escalate: human needed (no older ACTIVE revision to roll back to)"


def test_a_service_that_never_settles_escalates_after_the_timeout_saying_what_it_saw(world, clock, ctx):
    world(desired=3, running=2)
    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=30, poll_s=10)
    assert not result.ok and sum(clock.slept) == pytest.approx(30) and clock.slept[:2] == [10, 15]
    assert result.next_step.startswith("escalate: human needed (the service did not reach a steady state within 30 s: "
                                       "running 2 of 3;")


def test_verification_waits_with_backoff_until_the_checks_pass(world, clock, ctx):
    w = world(desired=3, running=2)
    lines: list[str] = []

    def scheduler(line: str) -> None:
        lines.append(line)
        if line.startswith("verify poll 2:"):
            w.set(running=3)

    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=600, poll_s=10,
                    progress=scheduler)
    assert result.ok and result.polls == 3 and clock.slept == [10, 15]
    assert lines == ["verify poll 1: 2/3 tasks running on api:1; waiting for: running == desired",
                     "verify poll 2: 2/3 tasks running on api:1; waiting for: running == desired",
                     "verify poll 3: 3/3 tasks running on api:1; all checks pass"]


def test_progress_behind_a_load_balancer_says_the_rollout_waits_for_its_health_checks(world, clock, ctx):
    w = world(desired=3, running=2)
    w.set(rollout="IN_PROGRESS", revision=2)
    w.svc.load_balancers = [{"targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/api/1",
                             "containerName": "api", "containerPort": 8080}]
    lines: list[str] = []
    try:
        verify(ctx, rollback_plan(), triage(), just_changed(), timeout_s=0, progress=lines.append)
    finally:
        w.svc.load_balancers = []
    assert lines[0] == ("verify poll 1: 2/3 tasks running on api:2; waiting for: service steady (load balancer health "
                        "checks), running == desired")


def test_a_stop_during_the_wait_ends_it_and_says_how_to_check_later(world, clock, ctx):
    world(desired=3, running=2)
    stop = StopWaiting()
    lines: list[str] = []

    def person(line: str) -> None:  # Ctrl-C in the terminal chat, as its handler passes it on
        lines.append(line)
        if line.startswith("verify poll 2:"):
            assert stop.stop()

    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=600, poll_s=0.01, progress=person,
                    stop=stop)
    assert result.interrupted and not result.ok and result.polls == 2
    assert result.next_step == (
        "stopped waiting after 2 poll(s); the change stays applied. Check later: ask \"is it healthy now?\" in this "
        f"conversation, or `aws ecs describe-services --cluster {TARGET.cluster_arn} --services {TARGET.service_arn} "
        f"--region {REGION}`")
    assert not stop.stop()  # nothing waits any more: the chat's Ctrl-C handler then ends the turn as before
    assert lines[-1] == f"verification interrupted: {result.next_step}"


# -- no new stops of the incident's cause --------------------------------------------------------------------------

OOM = "OutOfMemoryError: Container killed due to memory usage"


def test_a_task_of_the_planned_revision_stopping_for_the_same_cause_fails_at_once_and_rolls_back_further(world, clock,
                                                                                                        ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="COMPLETED")
    task_id = w.stopped(OOM, revision=2)
    result = verify(ctx, rollback_plan("api:2", cause="container-oom"), triage("container-oom"), just_changed(),
                    timeout_s=600)
    stops = check(result, "no new container-oom stops")
    assert not result.ok and result.polls == 1 and clock.slept == []
    assert not stops.ok and stops.after == 1
    assert stops.detail == f"1 task(s) stopped since the change, 1 for container-oom: task/{task_id[:8]}: {OOM}"
    assert result.next_step.startswith("roll back further to api:1")


def test_old_revision_tasks_failing_while_they_drain_do_not_fail_a_rollback(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="COMPLETED")
    w.stopped(OOM, revision=3)
    result = verify(ctx, rollback_plan("api:2", cause="container-oom"), triage("container-oom"), just_changed(),
                    timeout_s=0)
    stops = check(result, "no new container-oom stops")
    assert result.ok and stops.after == 0 and stops.detail == "0 task(s) stopped since the change, 0 for container-oom"


def test_stops_for_another_reason_or_before_the_change_do_not_count(world, ctx):
    w = world(desired=2, running=2)
    w.stopped("Scaling activity initiated by (deployment ecs-svc/1)", revision=1)
    w.stopped(OOM, revision=1, at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    result = verify(ctx, scale_plan(2), triage("container-oom"), just_changed(), timeout_s=0)
    stops = check(result, "no new container-oom stops")
    assert stops.ok and stops.detail == "1 task(s) stopped since the change, 0 for container-oom"


def test_without_a_rollback_tasks_still_stopping_for_the_cause_escalate_and_at_most_five_are_quoted(world, clock, ctx):
    w = world(desired=2, running=2)
    for _ in range(6):
        w.stopped(OOM, revision=1)
    result = verify(ctx, scale_plan(2), triage("container-oom"), just_changed(), timeout_s=600)
    stops = check(result, "no new container-oom stops")
    assert not stops.ok and stops.after == 6 and stops.detail.count("task/") == 5 and clock.slept == []
    assert result.next_step == "escalate: human needed (tasks still stop for container-oom after the change)"


# -- the triggering alarm --------------------------------------------------------------------------------------------

def test_the_triggering_alarm_must_be_back_to_ok(world, ctx):
    w = world(desired=4, running=4)
    w.alarm("ALARM")
    stuck = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0,
                   trigger_alarm="api-cpu-high")
    alarm = check(stuck, "alarm api-cpu-high OK")
    assert not stuck.ok and (alarm.before, alarm.after, alarm.detail) == ("ALARM", "ALARM", "alarm api-cpu-high is ALARM")
    assert stuck.next_step == ("the service is steady but alarm api-cpu-high is ALARM: re-check it in a few minutes "
                               "or scale out by one more task (a new plan); if it stays, escalate: human needed")
    w.alarm("OK")
    assert verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0,
                  trigger_alarm="api-cpu-high").ok


def test_a_triggering_alarm_that_no_longer_exists_is_not_ok(world, ctx):
    world(desired=4, running=4)
    result = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0,
                    trigger_alarm="deleted-alarm")
    assert check(result, "alarm deleted-alarm OK").detail == "alarm deleted-alarm is not found" and not result.ok


# -- flapping: one good poll after a check failed again is not enough -------------------------------------------------

def test_after_flapping_two_all_pass_polls_in_a_row_are_needed_across_invocations(world, ctx):
    w = world(desired=4, running=4)
    state, outcomes = None, []
    for running, alarm in ((4, "ALARM"), (3, "ALARM"), (4, "OK"), (4, "OK")):
        w.set(running=running)
        w.alarm(alarm)
        stability = Stability.from_state(json.loads(json.dumps(state)) if state else None)
        outcomes.append(verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0,
                               trigger_alarm="api-cpu-high", stability=stability))
        state = stability.to_state()
    assert [r.ok for r in outcomes] == [False, False, False, True]
    assert state == {"last_ok": ["service steady", "running == desired", "no new cpu-saturation stops",
                                 "alarm api-cpu-high OK"], "flaps": {"running == desired": 1}, "streak": 2, "polls": 4}
    stable = check(outcomes[2], "stable across polls")
    assert not stable.ok and stable.after == 1 and "running == desired (1x)" in stable.detail
    assert "1 all-pass poll(s) in a row at the end, 2 needed" in stable.detail


def test_a_verification_that_runs_out_of_time_while_flapping_says_so(world, ctx):
    w = world(desired=4, running=4)
    stability = Stability(last_ok=["running == desired"], flaps={}, streak=0, polls=1)
    w.set(running=3)
    result = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0,
                    stability=stability)
    assert result.next_step == ("escalate: human needed (the service is flapping: running == desired kept passing and "
                                "failing over 2 polls; look at the newest service events and stopped tasks)")


def test_a_service_that_never_flapped_needs_one_all_pass_poll():
    fresh = Stability()
    assert not fresh.settled() and Stability(streak=1).settled() and not Stability(streak=1, flaps={"x": 1}).settled()


# -- which stopped tasks count as the incident's cause ----------------------------------------------------------------

def _task(stop_code="EssentialContainerExited", reason="Essential container in task exited", exit_code=1,
          container_reason=None) -> dict:
    container = {"name": "api", "exitCode": exit_code}
    if container_reason:
        container["reason"] = container_reason
    return {"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/abc", "stopCode": stop_code, "stoppedReason": reason,
            "containers": [container]}


def test_a_task_stopped_for_the_incidents_cause_is_the_same_cause():
    assert same_cause(_task(exit_code=137, container_reason="OutOfMemoryError: Container killed due to memory usage"),
                      "container-oom")
    assert not same_cause(_task(exit_code=137, container_reason="OutOfMemoryError: Container killed"), "app-crash")


def test_an_app_exit_counts_for_the_causes_its_logs_could_reveal():
    assert same_cause(_task(exit_code=1), "app-crash") and same_cause(_task(exit_code=1), "missing-config")
    assert not same_cause(_task(exit_code=1), "image-not-found")


def test_routine_and_unexplained_stops_are_never_the_same_cause():
    scale_in = _task("ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=0)
    assert not same_cause(scale_in, "healthy") and not same_cause(scale_in, "app-crash")
    assert not same_cause({"taskArn": "t", "containers": []}, "app-crash")
    assert not same_cause(_task("SomethingNew", "a reason no rule knows", exit_code=None), "app-crash")


# -- more of the same behaviours, at their edges ------------------------------------------------------------------

def test_a_steady_state_event_at_exactly_the_start_less_the_clock_skew_counts(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="IN_PROGRESS")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    w.event(at=started - verifier.CLOCK_SKEW)
    assert check(verify(ctx, rollback_plan("api:2"), triage("app-crash"), started, timeout_s=0), "service steady").ok


def test_the_change_counts_from_its_start_not_from_when_verification_began(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2, rollout="IN_PROGRESS")
    w.event(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))  # steady 5 minutes ago, after a change 10 ago
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    assert verify(ctx, rollback_plan("api:2"), triage("app-crash"), started, timeout_s=0).ok


def test_an_unreadable_start_time_counts_from_now(world, ctx):
    w = world(desired=2, running=2)
    w.stopped(OOM, revision=1, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    result = verify(ctx, scale_plan(2), triage("container-oom"), "not a time", timeout_s=0)
    assert result.ok and check(result, "no new container-oom stops").after == 0


def test_verification_times_are_utc(world, ctx):
    world(desired=2, running=2)
    result = verify(ctx, scale_plan(2), triage(), just_changed(), timeout_s=0)
    assert result.started_at.endswith("+00:00") and result.finished_at.endswith("+00:00")


def test_a_poll_interval_of_zero_still_waits_a_little_between_polls(world, clock, ctx):
    world(desired=3, running=2)
    verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=1, poll_s=0)
    assert clock.slept[0] == pytest.approx(0.05)


def test_the_last_wait_is_cut_to_the_deadline_and_one_more_poll_follows_it(world, clock, ctx):
    world(desired=3, running=2)
    result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=10.5, poll_s=10)
    assert clock.slept == [10, pytest.approx(0.5)] and result.polls == 3


def test_every_poll_and_the_failure_are_reported_with_all_failing_checks(world, clock, ctx):
    w = world(desired=4, running=3)
    w.alarm("ALARM")
    lines: list[str] = []
    result = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=10, poll_s=10, progress=lines.append,
                    trigger_alarm="api-cpu-high")
    waiting = "3/4 tasks running on api:1; waiting for: running == desired, alarm api-cpu-high OK"
    assert lines == [f"verify poll 1: {waiting}", f"verify poll 2: {waiting}",
                     f"verification failed: running == desired, alarm api-cpu-high OK; next: {result.next_step}"]
    assert result.next_step == ("escalate: human needed (the service did not reach a steady state within 10 s: "
                                "running 3 of 4; read the newest service events and stopped tasks)")


def test_a_rollback_not_yet_started_while_the_old_deployment_failed_is_waited_for(world, clock, ctx):
    w = world(desired=2, running=0)
    w.set(revision=3, rollout="FAILED")  # ECS still shows the failed deployment the rollback will replace
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=30, poll_s=10)
    assert result.polls > 1 and sum(clock.slept) == pytest.approx(30)


def test_without_a_planned_revision_a_steady_event_after_the_change_is_enough(world, ctx):
    w = world(desired=3, running=3)
    w.svc.deployments.append(dict(w.svc.deployments[0], status="ACTIVE", id="ecs-svc/old"))
    w.event()
    assert check(verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0), "service steady").ok


def test_a_service_without_a_primary_deployment_or_rollout_state_is_not_steady_and_says_so(world, ctx):
    w = world(desired=2, running=2)
    w.svc.deployments[0]["status"] = "ACTIVE"
    steady = check(verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0),
                   "service steady")
    assert not steady.ok and steady.detail.startswith("PRIMARY deployment ? rolloutState=?;")
    del w.svc.deployments[0]["rolloutState"]
    w.svc.deployments[0]["status"] = "PRIMARY"
    steady = check(verify(ctx, rollback_plan("api:1"), triage("app-crash"), just_changed(), timeout_s=0),
                   "service steady")
    assert not steady.ok and steady.after == "api:1 ?"


def test_a_service_that_is_not_there_fails_verification_without_an_error(world, ctx):
    world(desired=2, running=2)
    plan = scale_plan(2).model_copy(update={"target": ServiceTarget.from_names("123456789012", REGION, "prod", "ghost")})
    result = verify(ctx, plan, triage(), just_changed(), timeout_s=0)
    assert not result.ok and check(result, "running == desired").detail == "running None of desired None (plan: 2)"
    assert check(result, "service steady").detail.startswith("PRIMARY deployment ? rolloutState=?;")


def test_without_evidence_there_are_no_before_values(world, ctx):
    world(desired=2, running=2)
    result = verify(ctx, scale_plan(2), triage(), just_changed(), timeout_s=0)
    assert check(result, "service steady").before is None and check(result, "running == desired").before is None


def test_a_task_counts_from_when_it_began_stopping_when_it_has_no_stop_time(world, ctx):
    w = world(desired=2, running=2)
    task_id = w.stopped(OOM, revision=1)
    w.task(task_id).stopping_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert check(verify(ctx, scale_plan(2), triage("container-oom"), just_changed(), timeout_s=0),
                 "no new container-oom stops").ok


def test_the_quoted_stops_name_the_stop_code_and_every_container_reason(world, ctx):
    w = world(desired=2, running=2)
    first, second = w.stopped(OOM, revision=1), w.stopped(OOM, revision=1)
    task = w.task(first)
    task.stopped_reason, task.stop_code = None, "EssentialContainerExited"
    task.containers[0].reason = OOM
    detail = check(verify(ctx, scale_plan(2), triage("container-oom"), just_changed(), timeout_s=0),
                   "no new container-oom stops").detail
    assert detail.startswith("2 task(s) stopped since the change, 2 for container-oom: ")
    quoted = detail.split(": ", 1)[1].split("; task/")
    assert sorted(quoted) == sorted([f"task/{first[:8]}: EssentialContainerExited; {OOM}", f"{second[:8]}: {OOM}"])


def test_at_most_a_hundred_stopped_tasks_are_read(world, ctx):
    w = world(desired=2, running=2)
    for _ in range(11):
        w.ecs.run_task(cluster="prod", taskDefinition="api:1", launchType="FARGATE", count=10)
    for task in list(ecs_backends[ACCOUNT][REGION].tasks["prod"].values())[:101]:
        task.last_status = task.desired_status = "STOPPED"
        task.stopped_reason = "Scaling activity initiated by (service api)"
    detail = check(verify(ctx, scale_plan(2), triage("container-oom"), just_changed(), timeout_s=0),
                   "no new container-oom stops").detail
    assert detail == "100 task(s) stopped since the change, 0 for container-oom"


def test_a_composite_triggering_alarm_is_read_too(world, ctx):
    w = world(desired=4, running=4)
    w.composite_alarm("ALARM")
    assert check(verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0, trigger_alarm="api-health"),
                 "alarm api-health OK").after == "ALARM"
    w.composite_alarm("OK")
    assert verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0, trigger_alarm="api-health").ok


def test_after_a_rollback_a_stuck_alarm_suggests_no_scale_out(world, ctx):
    w = world(desired=2, running=2)
    w.set(revision=2)
    w.alarm("ALARM")
    result = verify(ctx, rollback_plan("api:2"), triage("app-crash"), just_changed(), timeout_s=0,
                    trigger_alarm="api-cpu-high")
    assert result.next_step == ("the service is steady but alarm api-cpu-high is ALARM: re-check it in a few minutes; "
                                "if it stays, escalate: human needed")


def test_flapping_counts_each_flap_and_names_every_check_that_flapped(world, ctx):
    w = world(desired=4, running=4)
    state, outcome = None, None
    for running, alarm in ((4, "OK"), (3, "ALARM"), (4, "OK"), (3, "OK"), (4, "OK")):
        w.set(running=running)
        w.alarm(alarm)
        stability = Stability.from_state(state)
        outcome = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0, trigger_alarm="api-cpu-high",
                         stability=stability)
        state = stability.to_state()
    assert state["flaps"] == {"running == desired": 2, "alarm api-cpu-high OK": 1}
    stable = check(outcome, "stable across polls")
    assert not outcome.ok and stable.after == 3
    assert stable.detail.startswith("flapping: passed, then failed again on a later poll: alarm api-cpu-high OK (1x), "
                                    "running == desired (2x);")
    assert outcome.next_step.startswith("escalate: human needed (the service is flapping: alarm api-cpu-high OK, "
                                        "running == desired kept passing and failing over 5 polls;")
