"""Deployments and the service's own state.

Failing deployments (circuit breaker, alarm, failed tasks, rollbacks, also the ones only
DescribeServiceDeployments still shows) are wrappers: the verdicts of their own tasks name the
cause, and `deployment-failing` becomes a finding. This analyzer proposes what the service state
says by itself (desired count 0) and, when a deployment fails with nothing below it, a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..evidence import parse_time
from ..revisions import revision_task_definition
from ..rules import RULES_BY_ID, first_match
from ..signals import clip, normalise, resource_id, short_id
from ..taskdef_diff import short_name
from ..view import View, ts
from .base import Hypothesis, Signal, Tier, dedupe

if TYPE_CHECKING:
    from .analysis import Analysis


@dataclass
class Deployments:
    failing: list[dict[str, Any]]          # DescribeServices deployments that fail, newest first
    failing_ids: set[str]
    wrapper_signals: list[Signal]          # what says a deployment failed
    triggered_alarms: list[str]
    revisions: set[str] = field(default_factory=set)  # task definitions the failing deployments ran

    @property
    def active(self) -> bool:
        return bool(self.failing or self.wrapper_signals)


def deployment_line(d: dict[str, Any]) -> str:
    parts = [f"deployment {d.get('id', '?')} ({short_name(d.get('taskDefinition'))}): status {d.get('status', '?')}",
             f"rolloutState {d.get('rolloutState') or 'n/a'}", f"failedTasks {int(d.get('failedTasks') or 0)}",
             f"running {int(d.get('runningCount') or 0)} of {int(d.get('desiredCount') or 0)}",
             f"created {d.get('createdAt', '?')}"]
    reason = d.get("rolloutStateReason")
    return ", ".join(parts) + (f": {clip(reason, 200)}" if reason else "")


def _deployment_text(d: dict[str, Any]) -> str:
    return (f"rolloutState={d.get('rolloutState') or 'NONE'} failedTasks={int(d.get('failedTasks') or 0)} "
            f"{d.get('rolloutStateReason') or ''}")


def _service_deployment_text(sd: dict[str, Any]) -> str:
    alarms = (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
    return f"status={sd.get('status', '')} {sd.get('statusReason') or ''} triggeredAlarms={','.join(alarms)}"


def failing_deployments(view: View, events: list[Signal]) -> Deployments:
    failing, signals, alarms, revisions = [], [], [], set()
    for d in view.deployments:
        hit = first_match("deployment", _deployment_text(d))
        if hit and hit[0].wrapper:
            failing.append(d)
            signals.append(Signal(hit[0], deployment_line(d), parse_time(d.get("updatedAt")), d.get("id")))
    for sd in view.service_deployments:
        if not view.in_window(parse_time(sd.get("finishedAt") or sd.get("updatedAt") or sd.get("createdAt"))):
            continue
        hit = first_match("deployment", _service_deployment_text(sd))
        if hit and hit[0].wrapper:
            alarms += (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
            # a rollback may have left no trace in DescribeServices: the service revision names what failed
            revision = revision_task_definition(view.evidence, sd.get("targetServiceRevision"))
            if revision:
                revisions.add(revision)
            reason = sd.get("statusReason") or ""
            signals.append(Signal(hit[0], f"service deployment {resource_id(sd.get('serviceDeploymentArn'))}"
                                          f"{f' ({short_name(revision)})' if revision else ''}: status {sd.get('status')}"
                                          + (f": {clip(reason, 200)}" if reason else "")))
    stack = (view.evidence.get("cloudformation") or {}).get("stack") or {}
    hit = first_match("stack", f"{stack.get('StackStatus') or ''} {stack.get('StackStatusReason') or ''}")
    # a stack that failed long ago says nothing about this window
    if hit and hit[0].wrapper and view.in_window(parse_time(stack.get("LastUpdatedTime") or stack.get("CreationTime"))):
        signals.append(Signal(hit[0], f"stack {stack.get('StackName')}: {stack.get('StackStatus')}"
                                      + (f": {clip(stack['StackStatusReason'], 200)}" if stack.get("StackStatusReason")
                                         else "")))
    ids = {d.get("id") for d in failing if d.get("id")}
    for s in events:
        if s.rule.wrapper:
            signals.append(s)
            if s.deployment_id:
                ids.add(s.deployment_id)
    known = {d.get("id") for d in failing}
    failing += [d for d in view.deployments if d.get("id") in ids and d.get("id") not in known]
    failing.sort(key=lambda d: ts(d.get("createdAt")), reverse=True)
    revisions |= {d["taskDefinition"] for d in failing if d.get("taskDefinition")}
    return Deployments(failing, ids, signals, sorted(set(alarms)), revisions)


class DeploymentAnalyzer:
    source = "deployments and service state"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        return [h for h in (self._scaled_to_zero(analysis.view), self._unexplained(analysis)) if h]

    @staticmethod
    def _scaled_to_zero(view: View) -> Hypothesis | None:
        state = (f"desiredCount={view.desired} runningCount={view.running} "
                 f"pendingCount={view.service.get('pendingCount', 0)}")
        hit = first_match("service_state", state)
        if not hit or not view.service:
            return None
        rule = hit[0]
        lines = [f"service {view.service_name}: desiredCount {view.desired}, runningCount {view.running}"]
        lines += [e.line() for e in view.events if re.search(r"has stopped \d+ running tasks?", e.body)][:2]
        lines += [f"task/{short_id(t.get('taskArn'))}: {clip(t.get('stoppedReason'))}" for t in view.stopped
                  if re.search(r"Scaling activity initiated by", normalise(t.get("stoppedReason")), re.I)][:2]
        return Hypothesis(rule.cause, rule, rule.confidence, rule.summary, lines, rule.severity, Tier.SERVICE_STATE)

    @staticmethod
    def _unexplained(analysis: Analysis) -> Hypothesis | None:
        """A deployment fails (or tasks stop for unknown reasons) and nothing names the cause."""
        deployments, failures = analysis.deployments, analysis.failures
        if not deployments.active and not failures:
            return None
        triggered = [s for s in analysis.alarm_signals if any(name in s.line for name in deployments.triggered_alarms)]
        if triggered:
            rule = triggered[0].rule
            return Hypothesis(rule.cause, rule, 0.35, rule.summary, [s.line for s in triggered] +
                              [s.line for s in deployments.wrapper_signals][:2], rule.severity, Tier.GUESS,
                              signals=triggered)
        rule = RULES_BY_ID["F01b"]
        lines = [v.line() for v in failures][:3] + [s.line for s in deployments.wrapper_signals][:3]
        lines += [deployment_line(d) for d in deployments.failing][:1]
        summary = ("A deployment is failing and no stopped task, event or log names the cause; the new revision's "
                   "application is the most likely suspect.") if deployments.active else (
                   f"{len(failures)} tasks stopped for reasons no rule recognises.")
        return Hypothesis(rule.cause, rule, 0.2, summary, dedupe(lines), "high", Tier.GUESS, verdicts=failures)
