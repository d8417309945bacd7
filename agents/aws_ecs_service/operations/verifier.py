"""Did the change work? A bounded wait that polls the service until every check passes.

Checks (DESIGN.md / issue 4): the service is steady after the change (PRIMARY deployment on
the planned revision COMPLETED, or a steady-state event after the change); runningCount ==
desiredCount (the planned count, when the plan scaled); no task stopped since the change for
the incident's root-cause category; the triggering alarm back to OK when there was one.

Polls DescribeServices with backoff (botocore's `services_stable` waiter waits up to 10 min
with a fixed 15 s delay and knows none of the other checks). It stops as soon as all checks
pass, as soon as the outcome is decided (the new deployment FAILED, or tasks of the new
revision stop for the same cause), or at `timeout_s`. Never loops forever.

A flapping service (a check that passed fails again on a later poll) is not fixed by one good
poll: once a check has flapped, success needs CONFIRM_POLLS all-pass polls in a row, and a
verification that runs out of time says the service is flapping, and which check did.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ..aws import ecs_reads
from ..aws.session import AwsContext
from ..diagnosis.classifier import classify_task
from ..diagnosis.evidence import parse_time
from ..diagnosis.redaction import redact_text
from ..diagnosis.result import TriageResult
from ..diagnosis.rules import RULES_BY_ID
from ..diagnosis.taskdef_diff import short_name
from ..domain.incident import CheckResult, VerificationResult
from ..domain.plan import Plan

DEFAULT_TIMEOUT_S = 600
DEFAULT_POLL_S = 10.0
MAX_POLL_S = 60.0
BACKOFF = 1.5
CLOCK_SKEW = dt.timedelta(seconds=5)  # AWS timestamps vs the local clock that took started_at
STOPPED_TASKS_CAP = 100
CONFIRM_POLLS = 2  # all-pass polls in a row that a service which flapped needs before it counts as fixed
STABLE_CHECK = "stable across polls"
_STEADY = RULES_BY_ID["F42"]  # "has reached a steady state"


def same_cause(task: dict[str, Any], cause: str) -> bool:
    """A failure stop of the incident's cause (an app exit counts when logs could make it that cause)."""
    verdict = classify_task(task)
    rule = verdict.rule if verdict else None
    return bool(rule) and not rule.benign and (rule.cause == cause or cause in rule.refine_with_logs)


class _Expectations:
    """What the plan should leave behind: a revision, a desired count, or neither (then: the observed one)."""

    def __init__(self, plan: Plan):
        self.task_definition: str | None = None
        self.desired: int | None = None
        for step in plan.steps:
            if step.action == "update_service_task_definition":
                self.task_definition = str(step.params["taskDefinition"])
            elif step.action == "update_service_desired_count":
                self.desired = int(step.params["desiredCount"])


@dataclass
class Stability:
    """What earlier polls saw: which checks passed last time, how often a check went from passing to failing,
    and how many all-pass polls in a row came last. The workflow keeps it between its one-poll invocations."""

    last_ok: list[str] = field(default_factory=list)
    flaps: dict[str, int] = field(default_factory=dict)
    streak: int = 0
    polls: int = 0

    def observe(self, checks: list[CheckResult]) -> None:
        ok = [c.name for c in checks if c.ok]
        for name in set(self.last_ok) - set(ok):
            self.flaps[name] = self.flaps.get(name, 0) + 1
        self.last_ok, self.polls = ok, self.polls + 1
        self.streak = self.streak + 1 if len(ok) == len(checks) else 0

    def settled(self) -> bool:
        return self.streak >= (CONFIRM_POLLS if self.flaps else 1)

    def check(self) -> CheckResult:
        flapped = ", ".join(f"{name} ({n}x)" for name, n in sorted(self.flaps.items()))
        return CheckResult(name=STABLE_CHECK, ok=self.settled(), after=sum(self.flaps.values()),
                           detail=f"flapping: passed, then failed again on a later poll: {flapped}; "
                                  f"{self.streak} all-pass poll(s) in a row at the end, {CONFIRM_POLLS} needed")

    def next_step(self) -> str:
        return (f"escalate: human needed (the service is flapping: {', '.join(sorted(self.flaps))} kept passing and "
                f"failing over {self.polls} polls; look at the newest service events and stopped tasks)")

    def to_state(self) -> dict[str, Any]:
        return {"last_ok": self.last_ok, "flaps": self.flaps, "streak": self.streak, "polls": self.polls}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Stability:
        return cls(**(state or {}))


def verify(ctx: AwsContext, plan: Plan, triage: TriageResult, started_at: dt.datetime | str,
           timeout_s: float = DEFAULT_TIMEOUT_S, poll_s: float = DEFAULT_POLL_S,
           progress: Callable[[str], None] | None = None, trigger_alarm: str | None = None,
           evidence: dict[str, Any] | None = None, stability: Stability | None = None,
           stop: StopWaiting | None = None) -> VerificationResult:
    """Poll until all checks pass (and hold, after flapping), the outcome is decided, `timeout_s`, or `stop`;
    `evidence` adds "before" values; `stability` carries what earlier polls saw (updated in place)."""
    say = progress or (lambda _line: None)
    since = parse_time(started_at) or dt.datetime.now(dt.UTC)
    begun = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + timeout_s
    probe = _Probe(ctx, plan, triage, since - CLOCK_SKEW, trigger_alarm, (evidence or {}).get("service") or {})
    polls, wait, interrupted = 0, max(poll_s, 0.05), False
    seen = stability if stability is not None else Stability()
    with stop.scope() if stop is not None else nullcontext():
        while True:
            polls += 1
            checks = probe.checks()
            seen.observe(checks)
            if seen.flaps:
                checks.append(seen.check())
            failing = [c.name for c in checks if not c.ok]
            say(f"verify poll {polls}: {probe.progress(failing)}")
            remaining = deadline - time.monotonic()
            if not failing or probe.decided or remaining <= 0:
                break
            if interrupted := _pause(stop, min(wait, remaining)):
                break
            wait = min(wait * BACKOFF, MAX_POLL_S)
    ok = not failing
    if interrupted:
        next_step = probe.check_later(polls)
        say(f"verification interrupted: {next_step}")
    elif not ok:
        next_step = (seen.next_step() if seen.flaps and not probe.decided else probe.next_step(checks, timeout_s))
        say(f"verification failed: {', '.join(failing)}; next: {next_step}")
    else:
        next_step = ""
    return VerificationResult(ok=ok, checks=checks, started_at=begun.isoformat(),
                              finished_at=dt.datetime.now(dt.UTC).isoformat(), polls=polls, next_step=next_step,
                              interrupted=interrupted)


class StopWaiting:
    """Lets a person end a verification's wait from another thread (the terminal chat's Ctrl-C handler) without
    ending the conversation: the verification reports that it was interrupted and how to check later."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._waiting = False

    def stop(self) -> bool:
        """End the wait in progress; False when no verification is waiting."""
        with self._lock:
            if self._waiting:
                self._stopped.set()
            return self._waiting

    @contextmanager
    def scope(self) -> Iterator[None]:
        """One verification: stop() ends it from its start (a stop during a poll ends the next pause)."""
        with self._lock:
            self._stopped.clear()
            self._waiting = True
        try:
            yield
        finally:
            with self._lock:
                self._waiting = False

    def pause(self, seconds: float) -> bool:
        """Wait `seconds`; True when stopped first."""
        return self._stopped.wait(seconds)


def _pause(stop: StopWaiting | None, seconds: float) -> bool:
    """Wait between polls; True when a person stopped the wait."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.pause(seconds)


class _Probe:
    """One verification's reads and checks."""

    def __init__(self, ctx: AwsContext, plan: Plan, triage: TriageResult, since: dt.datetime,
                 trigger_alarm: str | None, before: dict[str, Any]):
        self.ctx, self.plan, self.since, self.alarm = ctx, plan, since, trigger_alarm
        self.cause = triage.root_cause.category
        # the cluster by ARN; ListTasks filters by service name, within the target's own account and region
        self.cluster, self.service = plan.target.cluster_arn, plan.target.service
        self.expect = _Expectations(plan)
        self.before = before
        self.decided = False  # True once waiting longer cannot change the answer
        self.svc: dict[str, Any] = {}
        self.alarm_state: str | None = None

    def checks(self) -> list[CheckResult]:
        ecs = self.ctx.client("ecs")
        services = ecs_reads.describe_service(ecs, self.cluster, self.plan.target.service_arn).get("services") or []
        self.svc = services[0] if services else {}
        checks = [self._steady(), self._counts(), self._no_new_failures(ecs)]
        if self.alarm:
            checks.append(self._alarm_ok())
        return checks

    def _primary(self) -> dict[str, Any]:
        return next((d for d in self.svc.get("deployments") or [] if d.get("status") == "PRIMARY"), {})

    def _steady(self) -> CheckResult:
        primary = self._primary()
        revision = short_name(primary.get("taskDefinition"))
        events = [e for e in self.svc.get("events") or []
                  if (at := parse_time(e.get("createdAt"))) and at >= self.since and _STEADY.search(e.get("message"))]
        rollout = primary.get("rolloutState") or "?"
        if self.expect.task_definition:
            on_target = revision == short_name(self.expect.task_definition)
            ok = on_target and (rollout == "COMPLETED" or bool(events))
            self.decided |= on_target and rollout == "FAILED"
        else:
            ok = bool(events) or (rollout == "COMPLETED" and len(self.svc.get("deployments") or []) == 1)
        detail = (f"PRIMARY deployment {revision or '?'} rolloutState={rollout}; "
                  f"steady-state event after the change: {'yes' if events else 'no'}")
        before = short_name(self.before.get("taskDefinition")) if self.before else None
        return CheckResult(name="service steady", ok=ok, detail=detail, before=before,
                           after=f"{revision} {rollout}")

    def _counts(self) -> CheckResult:
        running, desired = self.svc.get("runningCount"), self.svc.get("desiredCount")
        wanted = self.expect.desired if self.expect.desired is not None else desired
        ok = bool(desired) and running == desired == wanted and not self.svc.get("pendingCount")
        detail = f"running {running} of desired {desired}" + (f" (plan: {wanted})" if wanted != desired else "")
        before = (f"{self.before.get('runningCount')}/{self.before.get('desiredCount')}" if self.before else None)
        return CheckResult(name="running == desired", ok=ok, detail=detail, before=before, after=f"{running}/{desired}")

    def _no_new_failures(self, ecs) -> CheckResult:
        stopped: list[dict[str, Any]] = []
        for arns in ecs_reads.task_arn_pages(ecs, self.cluster, self.service, "STOPPED", STOPPED_TASKS_CAP):
            stopped += ecs_reads.describe_tasks(ecs, self.cluster, arns)
        new = [t for t in stopped if (parse_time(t.get("stoppedAt") or t.get("stoppingAt")) or self.since) >= self.since]
        if self.expect.task_definition:  # tasks of the old revision may still fail while they drain
            target = short_name(self.expect.task_definition)
            new = [t for t in new if short_name(t.get("taskDefinitionArn")) == target]
        same = [t for t in new if same_cause(t, self.cause)]
        self.decided |= bool(same)
        lines = [f"task/{ecs_reads.short_name(t['taskArn'])[:8]}: " + redact_text("; ".join(
            filter(None, [t.get("stoppedReason") or t.get("stopCode"), *[c.get("reason") for c in t.get("containers")
                                                                         or []]]))) for t in same[:5]]
        detail = (f"{len(new)} task(s) stopped since the change, {len(same)} for {self.cause}"
                  + (": " + "; ".join(lines) if lines else ""))
        return CheckResult(name=f"no new {self.cause} stops", ok=not same, detail=detail, after=len(same))

    def _alarm_ok(self) -> CheckResult:
        answer = self.ctx.client("cloudwatch").describe_alarms(AlarmNames=[self.alarm])
        alarms = answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
        self.alarm_state = alarms[0].get("StateValue") if alarms else None
        return CheckResult(name=f"alarm {self.alarm} OK", ok=self.alarm_state == "OK",
                           detail=f"alarm {self.alarm} is {self.alarm_state or 'not found'}", before="ALARM",
                           after=self.alarm_state)

    def progress(self, failing: list[str]) -> str:
        """What this poll saw, in a person's terms: "2/3 tasks running on api:47; waiting for: ..."."""
        revision = short_name(self._primary().get("taskDefinition")) or "?"
        seen = f"{self.svc.get('runningCount', '?')}/{self.svc.get('desiredCount', '?')} tasks running on {revision}"
        # a rollout behind a load balancer completes when the new tasks pass its target group's health checks
        waits = [f"{name} (load balancer health checks)" if name == "service steady" and self.svc.get("loadBalancers")
                 else name for name in failing]
        return f"{seen}; " + ("all checks pass" if not failing else "waiting for: " + ", ".join(waits))

    def check_later(self, polls: int) -> str:
        target = self.plan.target
        return (f"stopped waiting after {polls} poll(s); the change stays applied. Check later: ask \"is it healthy "
                f"now?\" in this conversation, or `aws ecs describe-services --cluster {target.cluster_arn} --services "
                f"{target.service_arn} --region {target.region}`")

    def next_step(self, checks: list[CheckResult], timeout_s: float) -> str:
        failing = {c.name for c in checks if not c.ok}
        rollout_failed = self._primary().get("rolloutState") == "FAILED"
        if self.expect.task_definition and (rollout_failed or f"no new {self.cause} stops" in failing):
            older = ecs_reads.previous_active_revision(self.ctx.client("ecs"), self.expect.task_definition)
            if older:
                return (f"roll back further to {short_name(older)} (a new plan and approval): "
                        f"{short_name(self.expect.task_definition)} fails too")
            return "escalate: human needed (no older ACTIVE revision to roll back to)"
        if f"no new {self.cause} stops" in failing:
            return f"escalate: human needed (tasks still stop for {self.cause} after the change)"
        if failing == {f"alarm {self.alarm} OK"}:
            more = " or scale out by one more task (a new plan)" if self.expect.desired is not None else ""
            return (f"the service is steady but alarm {self.alarm} is {self.alarm_state}: re-check it in a few "
                    f"minutes{more}; if it stays, escalate: human needed")
        return (f"escalate: human needed (the service did not reach a steady state within {int(timeout_s)} s: "
                f"running {self.svc.get('runningCount')} of {self.svc.get('desiredCount')}; read the newest service "
                "events and stopped tasks)")
