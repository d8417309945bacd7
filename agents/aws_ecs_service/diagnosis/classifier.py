"""Root-cause classification of an evidence document (diagnosis/evidence.py), no AWS, no model.

    result = classify(evidence)   # TriageResult; stats are left at zero for the engine to fill

How a cause is chosen (ecs-failures.md §3 and §5):

1. Every stopped task of the service inside the window gets a verdict from the rule table
   (stop code -> stopped reason -> container reason -> exit code; first matching rule). An
   essential container that exited on its own is refined with that task's logs.
2. Deployments that fail (circuit breaker, alarm, failed tasks) are wrappers: the verdicts of
   their own tasks (startedBy == deployment id, or the deployment's task definition) name the
   cause, and `deployment-failing` becomes a finding.
3. Tiers, first one that explains wins: task failures, service events (placement...), the
   transient ones of both, desired count 0, logs, metrics/alarms, a low-confidence guess when a
   deployment fails with nothing below it, benign-only stops (maintenance, user), healthy.
"""
from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from . import taxonomy
from .evidence import parse_time
from .result import Finding, RootCause, SuggestedAction, Target, TriageResult, Window
from .revisions import last_healthy_revision, revision_task_definition
from .rules import RULES_BY_ID, TASK_FIELDS, Rule, first_match, rules_for
from .signals import clip, is_low_level_log, is_sidecar, normalise, resource_id, short_id, strip_service_prefix
from .taskdef_diff import diff_task_definitions, evidence_lines, short_name

_SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
_TASK_RULES = tuple(r for r in sorted(RULES_BY_ID.values(), key=lambda r: r.priority)
                    if any(w in TASK_FIELDS for w in r.where))
_FAILED_DEPLOYMENT_IN_EVENT = re.compile(r"\(deployment ([^)\s]+)\) deployment failed", re.IGNORECASE)
_RUNNING_LOG_CAUSES = ("missing-config", "task-role-access-denied", "dependency-unreachable")
_STEADY_LOG_CAUSES = ("task-role-access-denied",)
_RECENT_BENIGN = dt.timedelta(minutes=60)
_MAX_EVIDENCE = 12


# ---------------------------------------------------------------------------------------------
# the evidence, read once


@dataclass(frozen=True)
class _Event:
    at: dt.datetime | None
    message: str   # as ECS wrote it (normalised)
    body: str      # service prefix removed

    def line(self) -> str:
        stamp = self.at.isoformat() if self.at else "?"
        return f"event {stamp}: {clip(self.message)}"


@dataclass
class _View:
    service_name: str
    start: dt.datetime | None
    end: dt.datetime | None
    service: dict[str, Any]
    desired: int
    running: int
    current_td: str | None
    previous_td: str | None
    task_definitions: dict[str, dict[str, Any]]
    deployments: list[dict[str, Any]]
    service_deployments: list[dict[str, Any]]
    events: list[_Event]               # newest first, inside the window
    stopped: list[dict[str, Any]]      # this service's tasks stopped inside the window
    running_tasks: list[dict[str, Any]]
    logs: dict[str, list[tuple[str, str]]]   # task id -> [(container, message)]
    metrics: dict[str, list[tuple[dt.datetime | None, float]]]
    alarms: list[dict[str, Any]]
    container_instances: list[dict[str, Any]] | None   # None when they could not be read
    evidence: dict[str, Any]
    sidecar_streams: dict[str, set[str]] = field(default_factory=dict)  # task id -> containers labelled non-app

    def in_window(self, at: dt.datetime | None) -> bool:
        if at is None:
            return True
        return (self.start is None or at >= self.start) and (self.end is None or at <= self.end)

    def app_logs(self, task_id: str) -> list[tuple[str, str]]:
        """The task's log lines from its application containers (a sidecar's lines are not the app's story)."""
        return [(c, m) for c, m in self.logs.get(task_id, []) if c not in self.sidecar_streams.get(task_id, ())]

    def taskdef(self, ref: str | None) -> dict[str, Any] | None:
        if not ref:
            return None
        if ref in self.task_definitions:
            return self.task_definitions[ref]
        want = short_name(ref)
        return next((td for arn, td in self.task_definitions.items()
                     if short_name(td) == want or short_name(arn) == want), None)


def _read(evidence: dict[str, Any]) -> _View:
    target = evidence.get("target") or {}
    name = target.get("service") or ""
    window = evidence.get("window") or {}
    start, end = parse_time(window.get("start")), parse_time(window.get("end"))
    service = evidence.get("service") or {}
    tasks = evidence.get("tasks") or {}
    group = f"service:{service.get('serviceName') or name}"

    def mine(task: dict[str, Any]) -> bool:
        return task.get("group") == group

    view = _View(
        service_name=service.get("serviceName") or name, start=start, end=end, service=service,
        desired=int(service.get("desiredCount") or 0), running=int(service.get("runningCount") or 0),
        current_td=evidence.get("current_task_definition") or service.get("taskDefinition"),
        previous_td=evidence.get("previous_task_definition"),
        task_definitions=evidence.get("task_definitions") or {},
        deployments=sorted(service.get("deployments") or [], key=lambda d: _ts(d.get("createdAt")), reverse=True),
        service_deployments=list(evidence.get("service_deployments") or []),
        events=[], stopped=[], running_tasks=[t for t in tasks.get("running") or [] if mine(t)],
        logs=defaultdict(list), metrics={}, alarms=list(evidence.get("alarms") or []),
        container_instances=None, evidence=evidence,
    )
    for e in service.get("events") or []:
        at = parse_time(e.get("createdAt"))
        if view.in_window(at):
            msg = normalise(e.get("message"))
            view.events.append(_Event(at, msg, strip_service_prefix(msg).body))
    view.events.sort(key=lambda e: _ts(e.at), reverse=True)
    for t in tasks.get("stopped") or []:
        if mine(t) and view.in_window(_stopped_at(t)):
            view.stopped.append(t)
    view.stopped.sort(key=lambda t: (_ts(_stopped_at(t)), t.get("taskArn") or ""))
    for entry in evidence.get("logs") or []:
        tid = resource_id(entry.get("task_id") or entry.get("stream"))
        if entry.get("essential") is False or is_sidecar({"name": entry.get("container")}):
            view.sidecar_streams.setdefault(tid, set()).add(entry.get("container") or "")
        for ev in entry.get("events") or []:
            msg = ev.get("message") if isinstance(ev, dict) else ev[1] if isinstance(ev, list | tuple) else ev
            if msg:
                view.logs[tid].append((entry.get("container") or "", normalise(msg)))
    for metric, points in (evidence.get("metrics") or {}).items():
        view.metrics[metric] = _datapoints(points, view)
    if not any("ContainerInstances" in str(err.get("call", "")) for err in evidence.get("errors") or []):
        view.container_instances = list(evidence.get("container_instances") or [])
    return view


def _datapoints(points: Any, view: _View) -> list[tuple[dt.datetime | None, float]]:
    out = []
    for p in points or []:
        if isinstance(p, dict):
            at, value = parse_time(p.get("Timestamp") or p.get("timestamp")), p.get("Value", p.get("value"))
        else:
            at, value = parse_time(p[0]), p[1]
        if value is not None and view.in_window(at):
            out.append((at, float(value)))
    return sorted(out, key=lambda p: _ts(p[0]))


def _ts(value: Any) -> float:
    at = value if isinstance(value, dt.datetime) else parse_time(value)
    return at.timestamp() if at else 0.0


def _stopped_at(task: dict[str, Any]) -> dt.datetime | None:
    for key in ("stoppedAt", "executionStoppedAt", "stoppingAt", "createdAt"):
        at = parse_time(task.get(key))
        if at:
            return at
    return None


# ---------------------------------------------------------------------------------------------
# stopped tasks


@dataclass
class TaskVerdict:
    task: dict[str, Any]
    rule: Rule | None
    text: str
    exit_code: int | None
    log_rule: Rule | None = None
    log_line: str | None = None
    inherited_logs: bool = False
    memory_upgrade: bool = False

    @property
    def task_id(self) -> str:
        return resource_id(self.task.get("taskArn"))

    @property
    def revision(self) -> str:
        return self.task.get("taskDefinitionArn") or ""

    @property
    def cause(self) -> str | None:
        if self.memory_upgrade:
            return "container-oom"
        if self.log_rule:
            return self.log_rule.cause
        return self.rule.cause if self.rule else None

    @property
    def effective_rule(self) -> Rule | None:
        if self.memory_upgrade:
            return RULES_BY_ID["F02"]
        return self.log_rule or self.rule

    @property
    def failure(self) -> bool:
        return self.rule is None or not self.rule.benign

    @property
    def confidence(self) -> float:
        if self.log_rule:
            return max(self.log_rule.confidence, self.rule.confidence if self.rule else 0.0)
        return self.rule.confidence if self.rule else 0.0

    def line(self) -> str:
        exit_part = f" (exit {self.exit_code})" if self.exit_code is not None else ""
        return f"task/{short_id(self.task_id)}: {clip(self.text)}{exit_part}"

    def log_evidence(self) -> str | None:
        if not self.log_line or self.inherited_logs:
            return None
        return f"log task/{short_id(self.task_id)}: {clip(self.log_line)}"


def _task_fields(task: dict[str, Any], task_definition: dict[str, Any] | None) -> dict[str, list[str]]:
    definitions = (task_definition or {}).get("containerDefinitions") or []
    essential = {c.get("name"): c.get("essential", True) for c in definitions}
    containers = task.get("containers") or []
    app = [c for c in containers if not is_sidecar(c)]
    exits = [c.get("exitCode") for c in app if c.get("exitCode") is not None and essential.get(c.get("name"), True)]
    exit_code = next((x for x in exits if x != 0), exits[0] if exits else None)
    failed = [c for c in containers if _failed(c)]
    sidecars_only = bool(failed) and all(is_sidecar(c) for c in failed)
    return {
        "stop_code": [task.get("stopCode") or ""],
        "stopped_reason": [task.get("stoppedReason") or ""],
        "container_reason": [c.get("reason") or "" for c in containers],
        "exit_code": [str(exit_code)] if exit_code is not None else [],
        "failed_sidecar": [f"{c.get('name')} {c.get('image') or ''}".strip() for c in failed] if sidecars_only else [],
    }


def _failed(container: dict[str, Any]) -> bool:
    """Unhealthy, or exited with a code of its own (0 is success, 137/143 is ECS stopping it)."""
    return str(container.get("healthStatus") or "").upper() == "UNHEALTHY" or (
        container.get("exitCode") not in (None, 0, 137, 143))


def classify_task(task: dict[str, Any], task_definition: dict[str, Any] | None = None) -> TaskVerdict | None:
    """Why one stopped task stopped: the first rule in priority order over stop code, stopped reason,
    container reasons and exit code (of essential containers, when `task_definition` says which are).
    A verdict without a rule when it stopped for a reason no rule knows; None when it gives no reason."""
    fields = _task_fields(task, task_definition)
    exit_code = int(fields["exit_code"][0]) if fields["exit_code"] else None
    reason = normalise(task.get("stoppedReason"))
    for rule in _TASK_RULES:
        for where in rule.where:
            for text in fields.get(where, ()):
                if text and rule.search(text):
                    if where == "stop_code":
                        quoted = f"{reason} (stopCode {text})" if reason else f"stopCode {text}"
                    elif where == "exit_code":
                        quoted = reason or f"container exited (stopCode {task.get('stopCode') or '?'})"
                    elif where == "failed_sidecar":
                        quoted = f"{reason or 'stopped'} (sidecar {text})"
                    else:
                        quoted = text
                    return TaskVerdict(task, rule, quoted, exit_code)
    if task.get("stopCode") or reason:  # stopped for a reason no rule knows
        return TaskVerdict(task, None, reason or f"stopCode {task.get('stopCode')}", exit_code)
    return None


def _refine_with_logs(verdicts: list[TaskVerdict], view: _View) -> None:
    """An app exit (or failed health check) reads its task's logs; tasks without logs take their peers' answer."""
    peers: dict[tuple[str, str], list[TaskVerdict]] = defaultdict(list)
    for v in verdicts:
        if v.rule and v.rule.refine_with_logs:
            peers[(v.rule.id, v.revision)].append(v)
            hit = _best_log_match(view.app_logs(v.task_id), v.rule.refine_with_logs)
            if hit:
                v.log_rule, v.log_line = hit
    for group in peers.values():
        found = Counter(v.log_rule.id for v in group if v.log_rule)
        if not found:
            continue
        rule_id, _ = min(found.items(), key=lambda kv: (-kv[1], RULES_BY_ID[kv[0]].priority))
        donor = next(v for v in group if v.log_rule and v.log_rule.id == rule_id)
        for v in group:
            if not v.log_rule and v.task_id not in view.logs:
                v.log_rule, v.log_line, v.inherited_logs = donor.log_rule, donor.log_line, True


def _best_log_match(lines: list[tuple[str, str]], causes: tuple[str, ...]) -> tuple[Rule, str] | None:
    """The highest-priority log rule among `causes` that matches; the last matching line is quoted."""
    wanted = [r for r in rules_for("log") if r.cause in causes]
    candidates = [line for _, line in lines if not is_low_level_log(line)]
    for rule in wanted:
        hits = [line for line in candidates if rule.search(line)]
        if hits:
            return rule, hits[-1]
    return None


# ---------------------------------------------------------------------------------------------
# service-level signals


@dataclass(frozen=True)
class _Signal:
    rule: Rule
    line: str
    at: dt.datetime | None = None
    deployment_id: str | None = None


def _event_signals(view: _View) -> list[_Signal]:
    out = []
    for e in view.events:
        hit = first_match("service_event", e.body)
        if hit:
            m = _FAILED_DEPLOYMENT_IN_EVENT.search(e.message)
            out.append(_Signal(hit[0], e.line(), e.at, m.group(1) if m else None))
    return out


def _deployment_text(d: dict[str, Any]) -> str:
    return (f"rolloutState={d.get('rolloutState') or 'NONE'} failedTasks={int(d.get('failedTasks') or 0)} "
            f"{d.get('rolloutStateReason') or ''}")


def _deployment_line(d: dict[str, Any]) -> str:
    parts = [f"deployment {d.get('id', '?')} ({short_name(d.get('taskDefinition'))}): status {d.get('status', '?')}",
             f"rolloutState {d.get('rolloutState') or 'n/a'}", f"failedTasks {int(d.get('failedTasks') or 0)}",
             f"running {int(d.get('runningCount') or 0)} of {int(d.get('desiredCount') or 0)}",
             f"created {d.get('createdAt', '?')}"]
    reason = d.get("rolloutStateReason")
    return ", ".join(parts) + (f": {clip(reason, 200)}" if reason else "")


def _service_deployment_text(sd: dict[str, Any]) -> str:
    alarms = (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
    return f"status={sd.get('status', '')} {sd.get('statusReason') or ''} triggeredAlarms={','.join(alarms)}"


def _service_deployment_in_window(sd: dict[str, Any], view: _View) -> bool:
    at = parse_time(sd.get("finishedAt") or sd.get("updatedAt") or sd.get("createdAt"))
    return view.in_window(at)


@dataclass
class _Deployments:
    failing: list[dict[str, Any]]          # deployments that fail, newest first
    failing_ids: set[str]
    wrapper_signals: list[_Signal]          # what says a deployment failed
    triggered_alarms: list[str]
    revisions: set[str] = field(default_factory=set)  # task definitions the failing deployments ran

    @property
    def active(self) -> bool:
        return bool(self.failing or self.wrapper_signals)


def _deployments(view: _View, events: list[_Signal]) -> _Deployments:
    failing, signals, alarms, revisions = [], [], [], set()
    for d in view.deployments:
        hit = first_match("deployment", _deployment_text(d))
        if hit and hit[0].wrapper:
            failing.append(d)
            signals.append(_Signal(hit[0], _deployment_line(d), parse_time(d.get("updatedAt")), d.get("id")))
    for sd in view.service_deployments:
        if not _service_deployment_in_window(sd, view):
            continue
        hit = first_match("deployment", _service_deployment_text(sd))
        if hit and hit[0].wrapper:
            alarms += (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
            # a rollback may have left no trace in DescribeServices: the service revision names what failed
            revision = revision_task_definition(view.evidence, sd.get("targetServiceRevision"))
            if revision:
                revisions.add(revision)
            reason = sd.get("statusReason") or ""
            signals.append(_Signal(hit[0], f"service deployment {resource_id(sd.get('serviceDeploymentArn'))}: "
                                           f"status {sd.get('status')}" + (f": {clip(reason, 200)}" if reason else "")))
    ids = {d.get("id") for d in failing if d.get("id")}
    for s in events:
        if s.rule.wrapper:
            signals.append(s)
            if s.deployment_id:
                ids.add(s.deployment_id)
    known = {d.get("id") for d in failing}
    failing += [d for d in view.deployments if d.get("id") in ids and d.get("id") not in known]
    failing.sort(key=lambda d: _ts(d.get("createdAt")), reverse=True)
    revisions |= {d["taskDefinition"] for d in failing if d.get("taskDefinition")}
    return _Deployments(failing, ids, signals, sorted(set(alarms)), revisions)


def _metric_signals(view: _View) -> list[_Signal]:
    out = []
    for metric, points in sorted(view.metrics.items()):
        recent = [v for _, v in points[-3:]]
        if not recent:
            continue
        for rule in rules_for("metric"):
            # like an alarm's "3 out of the last 3 datapoints": a single spike is not saturation
            if rule.search(metric) and rule.threshold is not None and min(recent) >= rule.threshold:
                shown = ", ".join(f"{v:g}" for v in recent)
                out.append(_Signal(rule, f"metric {metric}: recent datapoints {shown} (>= {rule.threshold:g}%)",
                                   points[-1][0]))
    return out


def _alarm_state(alarm: dict[str, Any]) -> str:
    return str(alarm.get("StateValue") or alarm.get("state") or "").upper()


def _alarm_line(alarm: dict[str, Any]) -> str:
    reason = alarm.get("StateReason") or alarm.get("reason") or ""
    return f"alarm {alarm.get('AlarmName', '?')} is in ALARM" + (f": {clip(reason, 200)}" if reason else "")


def _alarm_signals(view: _View) -> tuple[list[_Signal], list[str]]:
    """(signals of CPU/memory alarms in ALARM, lines of other alarms in ALARM)."""
    signals, others = [], []
    for alarm in sorted(view.alarms, key=lambda a: str(a.get("AlarmName"))):
        if _alarm_state(alarm) != "ALARM":
            continue
        hit = first_match("alarm", f"{alarm.get('MetricName') or ''} {alarm.get('AlarmName') or ''}")
        if hit:
            signals.append(_Signal(hit[0], _alarm_line(alarm), parse_time(alarm.get("StateUpdatedTimestamp"))))
        else:
            others.append(_alarm_line(alarm))
    return signals, others


# ---------------------------------------------------------------------------------------------
# hypotheses


@dataclass
class _Hypothesis:
    cause: str
    rule: Rule
    confidence: float
    summary: str
    evidence: list[str]
    severity: str
    verdicts: list[TaskVerdict] = field(default_factory=list)
    signals: list[_Signal] = field(default_factory=list)

    @property
    def latest(self) -> float:
        times = [_ts(_stopped_at(v.task)) for v in self.verdicts] + [_ts(s.at) for s in self.signals]
        return max(times, default=0.0)

    @property
    def earliest(self) -> float:
        times = [_ts(_stopped_at(v.task)) for v in self.verdicts] + [_ts(s.at) for s in self.signals if s.at]
        return min(times, default=0.0)


def _summarise(rule: Rule, view: _View, *, count: int, total: int | None = None, exit_codes: str = "?") -> str:
    """The rule's summary; without a task total (service events, logs) it speaks of tasks in general."""
    template = rule.summary
    if total is None:
        template = re.sub(r"\{count\} of \{total\} stopped tasks", "Tasks", template)
    return template.format_map(defaultdict(str, count=count, total=total, service=view.service_name,
                                           exit_codes=exit_codes))


def _task_hypotheses(verdicts: list[TaskVerdict], total: int, view: _View) -> list[_Hypothesis]:
    """One hypothesis per cause among these task verdicts, strongest first."""
    by_cause: dict[str, list[TaskVerdict]] = defaultdict(list)
    for v in verdicts:
        if v.cause:
            by_cause[v.cause].append(v)
    out = []
    for cause, group in by_cause.items():
        rule = min((v.effective_rule for v in group), key=lambda r: r.priority)
        lead = min(group, key=lambda v: (v.rule.priority, -_ts(_stopped_at(v.task))))
        share = len(group) / max(total, 1)
        base = statistics.fmean(v.confidence for v in group)
        codes = "/".join(str(c) for c in sorted({v.exit_code for v in group if v.exit_code is not None})) or "?"
        summary = _summarise(lead.rule, view, count=len(group), total=total, exit_codes=codes)
        if lead.effective_rule is not lead.rule:
            summary = f"{summary} {_summarise(lead.effective_rule, view, count=len(group), total=total)}"
        lines = _dedupe([v.line() for v in sorted(group, key=lambda v: -_ts(_stopped_at(v.task)))])[:3]
        lines += _dedupe([x for x in (v.log_evidence() for v in group) if x])[:3]
        severity = min((v.effective_rule.severity for v in group), key=_SEVERITY_ORDER.index)
        out.append(_Hypothesis(cause, rule, base * (0.7 + 0.3 * share) + (0.03 if len(group) >= 3 else 0.0),
                               summary, lines, severity, verdicts=group))
    out.sort(key=lambda h: (-len(h.verdicts), -h.latest, h.rule.priority))
    return out


def _signal_hypotheses(signals: list[_Signal], view: _View) -> list[_Hypothesis]:
    by_cause: dict[str, list[_Signal]] = defaultdict(list)
    for s in signals:
        by_cause[s.rule.cause].append(s)
    out = []
    for cause, group in by_cause.items():
        rule = min((s.rule for s in group), key=lambda r: r.priority)
        conf = rule.confidence * (0.8 + min(len(group), 3) * 0.05)
        summary = _summarise(rule, view, count=len(group))
        if "{total}" in rule.summary:
            summary += f" ({len(group)} service events)"
        out.append(_Hypothesis(cause, rule, conf, summary, _dedupe([s.line for s in group])[:5], rule.severity,
                               signals=group))
    out.sort(key=lambda h: (-len(h.signals), h.rule.priority))
    return out


def _dedupe(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _placement_refined(h: _Hypothesis, view: _View) -> _Hypothesis:
    """What the cluster's instances and the task definition say about a placement failure: `unable to place a task`
    with no ACTIVE instance is nowhere to place at all, with every agent disconnected is the agent; a port taken
    although the task asks for dynamic host ports means the instances ran out of ports."""
    if h.cause == "port-conflict" and _dynamic_host_ports(view.taskdef(view.current_td)):
        return _replaced(h, "F24e", view, "task definition: dynamic host ports only (hostPort 0), so no static port "
                                          "can conflict")
    if h.cause != "placement-insufficient-resources" or view.container_instances is None or not h.signals:
        return h
    if any(s.rule.id != "F24c" for s in h.signals):
        return h
    active = [ci for ci in view.container_instances if str(ci.get("status", "ACTIVE")).upper() == "ACTIVE"]
    if not active:
        return _replaced(h, "F25", view, "container instances: none ACTIVE in the cluster")
    if all(ci.get("agentConnected") is False for ci in active):
        return _replaced(h, "F38", view, f"container instances: {len(active)} ACTIVE, none with its agent connected")
    return h


def _replaced(h: _Hypothesis, rule_id: str, view: _View, line: str) -> _Hypothesis:
    rule = RULES_BY_ID[rule_id]
    return _Hypothesis(rule.cause, rule, rule.confidence * 0.95, _summarise(rule, view, count=len(h.signals)),
                       h.evidence + [line], rule.severity, signals=h.signals)


def _dynamic_host_ports(task_definition: dict[str, Any] | None) -> bool:
    """Bridge-mode port mappings that all leave the host port to ECS (hostPort 0 or absent)."""
    if not task_definition or task_definition.get("networkMode") not in (None, "bridge"):
        return False
    mappings = [m for c in task_definition.get("containerDefinitions") or [] for m in c.get("portMappings") or []]
    return bool(mappings) and all(not m.get("hostPort") for m in mappings)


# ---------------------------------------------------------------------------------------------
# the decision


@dataclass
class _Decision:
    root: _Hypothesis
    others: list[_Hypothesis]
    failing_revision: str | None   # task definition the root cause's tasks ran


def classify(evidence: dict[str, Any]) -> TriageResult:
    """Name the root cause of the evidence document (see the module docstring)."""
    view = _read(evidence)
    verdicts = [v for t in view.stopped if (v := classify_task(t, view.taskdef(t.get("taskDefinitionArn"))))]
    _refine_with_logs(verdicts, view)
    metric_signals = _metric_signals(view)
    alarm_signals, other_alarms = _alarm_signals(view)
    memory_high = any(s.rule.cause == "memory-pressure" for s in metric_signals + alarm_signals)
    for v in verdicts:  # SIGKILL of an app container with memory at its limit is an OOM kill (taxonomy)
        if v.exit_code == 137 and v.cause == "app-crash" and not v.log_rule and memory_high:
            v.memory_upgrade = True
    events = _event_signals(view)
    deployments = _deployments(view, events)
    decision = _decide(view, verdicts, events, deployments, metric_signals, alarm_signals, other_alarms)
    recovered = _recovered(view, decision.root)
    findings = _findings(view, decision, verdicts, deployments, metric_signals, alarm_signals, recovered)
    root = findings[0]
    return TriageResult(
        target=Target(**{k: str((evidence.get("target") or {}).get(k) or "") for k in ("region", "cluster", "service")}),
        window=Window(start=str((evidence.get("window") or {}).get("start") or ""),
                      end=str((evidence.get("window") or {}).get("end") or "")),
        status=_status(view, decision.root.cause),
        root_cause=RootCause(category=root.category, confidence=root.confidence, summary=root.summary,
                             evidence=root.evidence),
        findings=findings,
        suggested_actions=_actions(view, decision, verdicts, deployments),
    )


def _decide(view: _View, verdicts: list[TaskVerdict], events: list[_Signal], deployments: _Deployments,
            metric_signals: list[_Signal], alarm_signals: list[_Signal], other_alarms: list[str]) -> _Decision:
    failures = [v for v in verdicts if v.failure]
    below = [v for v in failures if _belongs_to(v.task, deployments)]
    scope = below or failures
    task_hyps = [_placement_refined(h, view) for h in _task_hypotheses(scope, len(scope), view)]
    other_task_hyps = _task_hypotheses([v for v in failures if v not in scope], len(failures), view)
    event_hyps = [_placement_refined(h, view) for h in
                  _signal_hypotheses([s for s in events if not s.rule.wrapper and not s.rule.benign], view)]
    candidates = (
        [h for h in task_hyps if not h.rule.transient]
        + [h for h in event_hyps if not h.rule.transient]
        + [h for h in task_hyps if h.rule.transient]
        + [h for h in event_hyps if h.rule.transient]
    )
    if candidates:
        root = candidates[0]
        _corroborate(root, events, metric_signals, alarm_signals, deployments)
        others = [h for h in candidates[1:] + other_task_hyps if h.cause != root.cause]
        return _Decision(root, others, _revision_of(root))
    root = (_scaled_to_zero(view)
            or _from_logs(view, verdicts, deployments, alarm_signals, other_alarms)
            or _from_metrics(view, metric_signals, alarm_signals)
            or _last_resort(failures, deployments, alarm_signals)
            or _benign_only(view, verdicts)
            or _healthy(view, verdicts, other_alarms))
    return _Decision(root, [], _revision_of(root))


def _belongs_to(task: dict[str, Any], deployments: _Deployments) -> bool:
    if task.get("startedBy") and task.get("startedBy") in deployments.failing_ids:
        return True
    return bool(task.get("taskDefinitionArn")) and task.get("taskDefinitionArn") in deployments.revisions


def _revision_of(h: _Hypothesis) -> str | None:
    revisions = Counter(v.revision for v in h.verdicts if v.revision)
    return revisions.most_common(1)[0][0] if revisions else None


def _corroborate(root: _Hypothesis, events: list[_Signal], metric_signals: list[_Signal],
                 alarm_signals: list[_Signal], deployments: _Deployments) -> None:
    """Independent signals that agree with the root cause raise its confidence and join its evidence."""
    agreeing = [s for s in events if s.rule.cause == root.cause and not root.signals]
    if agreeing:
        root.evidence += _dedupe([s.line for s in agreeing])[:2]
        root.confidence += 0.05
    if any(v.log_rule and not v.inherited_logs for v in root.verdicts):
        root.confidence += 0.04
    if root.cause == "container-oom":
        memory = [s for s in metric_signals + alarm_signals if s.rule.cause == "memory-pressure"]
        if memory:
            root.evidence += [s.line for s in memory][:2]
            root.confidence += 0.04
    if root.verdicts and deployments.failing and any(
            _belongs_to(v.task, deployments) for v in root.verdicts):
        root.confidence += 0.03


def _scaled_to_zero(view: _View) -> _Hypothesis | None:
    state = f"desiredCount={view.desired} runningCount={view.running} pendingCount={view.service.get('pendingCount', 0)}"
    hit = first_match("service_state", state)
    if not hit or not view.service:
        return None
    rule = hit[0]
    lines = [f"service {view.service_name}: desiredCount {view.desired}, runningCount {view.running}"]
    lines += [e.line() for e in view.events if re.search(r"has stopped \d+ running tasks?", e.body)][:2]
    lines += [f"task/{short_id(t.get('taskArn'))}: {clip(t.get('stoppedReason'))}" for t in view.stopped
              if re.search(r"Scaling activity initiated by", normalise(t.get("stoppedReason")), re.I)][:2]
    return _Hypothesis(rule.cause, rule, rule.confidence, rule.summary, lines, rule.severity)


def _from_logs(view: _View, verdicts: list[TaskVerdict], deployments: _Deployments,
               alarm_signals: list[_Signal], other_alarms: list[str]) -> _Hypothesis | None:
    """A failing deployment: its tasks' logs, any rule. Otherwise running tasks' logs: with a symptom, the causes a
    running service shows; on a steady service, only an application denied its AWS calls (nothing else fails)."""
    if deployments.active:
        tasks = [t for t in view.stopped + view.running_tasks
                 if t.get("taskDefinitionArn") in deployments.revisions or t.get("startedBy") in deployments.failing_ids]
        causes, minimum = tuple(sorted({r.cause for r in rules_for("log")})), 1
    elif other_alarms or alarm_signals or view.running < view.desired:
        tasks, causes, minimum = view.running_tasks, _RUNNING_LOG_CAUSES, 2
    else:
        tasks, causes, minimum = view.running_tasks, _STEADY_LOG_CAUSES, 2
    lines = [(resource_id(t.get("taskArn")), line) for t in tasks
             for line in (m for _, m in view.app_logs(resource_id(t.get("taskArn"))))]
    for rule in (r for r in rules_for("log") if r.cause in causes):
        hits = [(tid, line) for tid, line in lines if not is_low_level_log(line) and rule.search(line)]
        if len(hits) >= minimum:
            evidence = _dedupe([f"log task/{short_id(tid)}: {clip(line)}" for tid, line in reversed(hits)])[:4]
            evidence += other_alarms[:2]
            return _Hypothesis(rule.cause, rule, rule.confidence * 0.7, _summarise(rule, view, count=len(hits)),
                               evidence, rule.severity)
    return None


def _from_metrics(view: _View, metric_signals: list[_Signal], alarm_signals: list[_Signal]) -> _Hypothesis | None:
    by_cause: dict[str, list[_Signal]] = defaultdict(list)
    for s in metric_signals + alarm_signals:
        by_cause[s.rule.cause].append(s)
    if not by_cause:
        return None
    cause, group = min(by_cause.items(), key=lambda kv: (-len(kv[1]), min(s.rule.priority for s in kv[1])))
    rule = min((s.rule for s in group), key=lambda r: r.priority)
    confidence = rule.confidence + (0.1 if len(group) >= 2 else 0.0)
    return _Hypothesis(cause, rule, confidence, _summarise(rule, view, count=len(group)), [s.line for s in group],
                       rule.severity, signals=group)


def _last_resort(failures: list[TaskVerdict], deployments: _Deployments,
                 alarm_signals: list[_Signal]) -> _Hypothesis | None:
    """A deployment fails (or tasks stop for unknown reasons) and nothing names the cause."""
    if not deployments.active and not failures:
        return None
    triggered = [s for s in alarm_signals if any(name in s.line for name in deployments.triggered_alarms)]
    if triggered:
        rule = triggered[0].rule
        return _Hypothesis(rule.cause, rule, 0.35, rule.summary, [s.line for s in triggered] +
                           [s.line for s in deployments.wrapper_signals][:2], rule.severity, signals=triggered)
    rule = RULES_BY_ID["F01b"]
    lines = [v.line() for v in failures][:3] + [s.line for s in deployments.wrapper_signals][:3]
    lines += [_deployment_line(d) for d in deployments.failing][:1]
    summary = ("A deployment is failing and no stopped task, event or log names the cause; the new revision's "
               "application is the most likely suspect.") if deployments.active else (
               f"{len(failures)} tasks stopped for reasons no rule recognises.")
    return _Hypothesis(rule.cause, rule, 0.2, summary, _dedupe(lines), "high", verdicts=failures)


def _benign_only(view: _View, verdicts: list[TaskVerdict]) -> _Hypothesis | None:
    """Maintenance or user stops are the cause only when they are all there is, and recent / dominant."""
    now = view.end or max((_stopped_at(v.task) for v in verdicts if _stopped_at(v.task)), default=None)
    maintenance = [v for v in verdicts if v.cause == "platform-maintenance"]
    if maintenance and now and any((_stopped_at(v.task) or now) >= now - _RECENT_BENIGN for v in maintenance):
        return _task_hypotheses(maintenance, len(verdicts), view)[0]
    user = [v for v in verdicts if v.cause == "task-stopped-by-user"]
    dominant = 2 * len(user) > len(verdicts)
    if user and dominant and (len(user) >= 3 or view.running < view.desired):
        return _task_hypotheses(user, len(verdicts), view)[0]
    return None


def _healthy(view: _View, verdicts: list[TaskVerdict], other_alarms: list[str]) -> _Hypothesis:
    rule = RULES_BY_ID["F42"]
    lines = [f"service {view.service_name}: running {view.running} of desired {view.desired}"]
    lines += [_deployment_line(d) for d in view.deployments if d.get("status") == "PRIMARY"][:1]
    lines += [e.line() for e in view.events if rule.search(e.body)][:1]
    confidence = 0.9
    summary = f"No fault found: {view.service_name} runs {view.running} of {view.desired} tasks"
    if verdicts:
        confidence -= 0.05
        summary += f"; {len(verdicts)} stopped tasks in the window were routine (scale-in, replacements, user stops)"
    if view.running < view.desired:
        confidence -= 0.25
        summary += "; fewer tasks run than desired, without a failure signal"
    if other_alarms:
        confidence -= 0.3
        lines += other_alarms[:3]
        summary += "; an alarm is in ALARM without an ECS failure signal"
    return _Hypothesis("healthy", rule, confidence, summary + ".", lines, "info")


def _recovered(view: _View, root: _Hypothesis) -> bool:
    """A steady state reported after the last failure signal means the service recovered."""
    if root.cause == "healthy" or not (root.verdicts or root.signals):
        return False
    steady = [e.at for e in view.events if e.at and RULES_BY_ID["F42"].search(e.body)]
    return bool(steady) and _ts(max(steady)) > root.latest and view.running >= view.desired > 0


# ---------------------------------------------------------------------------------------------
# findings, actions, status


def _findings(view: _View, decision: _Decision, verdicts: list[TaskVerdict], deployments: _Deployments,
              metric_signals: list[_Signal], alarm_signals: list[_Signal], recovered: bool) -> list[Finding]:
    root = decision.root
    severity = root.severity
    summary = root.summary
    if recovered:
        severity = _lower(severity)
        summary += " The service has since reached a steady state."
    elif view.desired > 0 and view.running == 0 and root.cause != "healthy":
        severity = "critical"
    evidence = list(root.evidence)
    diff_lines = _diff_lines(view, decision, deployments, verdicts)
    if _introduced_by_deployment(view, decision, verdicts, deployments):
        evidence += diff_lines[:4]
    findings = [Finding(category=root.cause, severity=severity, confidence=_bounded(root.confidence),
                        summary=summary, evidence=evidence[:_MAX_EVIDENCE], rule=root.rule.id)]
    if deployments.active:
        rule = min((s.rule for s in deployments.wrapper_signals), key=lambda r: r.priority)
        lines = [_deployment_line(d) for d in deployments.failing][:2]
        lines += [s.line for s in deployments.wrapper_signals if not s.line.startswith("deployment ")][:3]
        wrapped = f" The cause one level down: {root.cause}." if root.cause != "healthy" else ""
        summary = _summarise(rule, view, count=len(deployments.wrapper_signals)) + wrapped
        findings.append(Finding(category="deployment-failing", severity=_lower(rule.severity) if recovered else rule.severity,
                                confidence=_bounded(rule.confidence), summary=summary,
                                evidence=_dedupe(lines + diff_lines)[:_MAX_EVIDENCE], rule=rule.id))
    for h in decision.others:
        findings.append(Finding(category=h.cause, severity=_lower(h.severity), confidence=_bounded(h.confidence * 0.8),
                                summary=h.summary, evidence=h.evidence[:5], rule=h.rule.id))
    used = {id(s) for s in root.signals}
    for s in metric_signals + alarm_signals:
        if id(s) not in used and not (root.cause == "container-oom" and s.rule.cause == "memory-pressure"):
            findings.append(Finding(category=s.rule.cause, severity="medium", confidence=_bounded(s.rule.confidence * 0.7),
                                    summary=s.rule.summary, evidence=[s.line], rule=s.rule.id))
    benign = [v for v in verdicts if not v.failure and v not in root.verdicts]
    for h in _task_hypotheses(benign, len(verdicts), view):
        findings.append(Finding(category=h.cause, severity="info", confidence=_bounded(h.confidence),
                                summary=h.summary, evidence=h.evidence[:3], rule=h.rule.id))
    seen: set[tuple[str, str]] = set()
    unique = []
    for f in findings:
        if (f.category, f.summary) not in seen:
            seen.add((f.category, f.summary))
            unique.append(f)
    return unique


def _lower(severity: str) -> str:
    return _SEVERITY_ORDER[min(_SEVERITY_ORDER.index(severity) + 1, len(_SEVERITY_ORDER) - 1)]


def _bounded(value: float) -> float:
    return round(min(max(value, 0.05), 0.99), 2)


def _newest_deployment(view: _View) -> dict[str, Any] | None:
    return view.deployments[0] if view.deployments else None


def _failing_revisions(verdicts: list[TaskVerdict], deployments: _Deployments) -> set[str]:
    revisions = {v.revision for v in verdicts if v.failure and v.revision}
    return revisions | deployments.revisions


def _rollback_target(view: _View, decision: _Decision, verdicts: list[TaskVerdict],
                     deployments: _Deployments) -> str | None:
    """The last revision that ran healthy (diagnosis/revisions.py), never one that fails here."""
    failing = _failing_revisions(verdicts, deployments) | {decision.failing_revision}
    healthy = last_healthy_revision(view.evidence, failing)
    return short_name(healthy.arn) if healthy else None


def _introduced_by_deployment(view: _View, decision: _Decision, verdicts: list[TaskVerdict],
                              deployments: _Deployments) -> bool:
    """The newest deployment brought the cause: its revision is the failing one, or the cause began after it."""
    newest = _newest_deployment(view)
    root = decision.root
    if not newest or root.cause == "healthy" or (not root.verdicts and not root.signals):
        return False
    new_rev = short_name(newest.get("taskDefinition"))
    started = _ts(newest.get("createdAt"))
    # a revision that has run for longer than the window did not just bring the fault
    recent = newest.get("rolloutState") not in (None, "COMPLETED") or (view.start is not None
                                                                      and started >= view.start.timestamp())
    if decision.failing_revision:
        return recent and short_name(decision.failing_revision) == new_rev
    return bool(started) and root.earliest >= started and len(view.deployments) > 1 and bool(
        _diff_lines(view, decision, deployments, verdicts))


def _diff_lines(view: _View, decision: _Decision, deployments: _Deployments, verdicts: list[TaskVerdict]) -> list[str]:
    new_ref = decision.failing_revision or (deployments.failing[0].get("taskDefinition") if deployments.failing
                                            else (_newest_deployment(view) or {}).get("taskDefinition"))
    old_ref = _rollback_target(view, decision, verdicts, deployments) or view.previous_td
    new, old = view.taskdef(new_ref), view.taskdef(old_ref)
    if not new or not old or short_name(new) == short_name(old):
        return []
    return evidence_lines(diff_task_definitions(old, new), old, new)


def _actions(view: _View, decision: _Decision, verdicts: list[TaskVerdict],
             deployments: _Deployments) -> list[SuggestedAction]:
    root = decision.root
    cause = root.cause
    if cause == "healthy":
        return [SuggestedAction(action="none", requires_approval=False, rationale="No fault found; nothing to change.")]
    if cause in ("cpu-saturation", "memory-pressure"):
        return [SuggestedAction(action="scale", params={"desiredCount": view.desired + 1},
                                rationale=f"{root.rule.remediation} One more task spreads the load "
                                          f"({view.desired} -> {view.desired + 1}).")]
    if cause == "scaled-to-zero":
        return [SuggestedAction(action="scale", params={"desiredCount": 1},
                                rationale="The service runs no tasks because desiredCount is 0; if that was not "
                                          "intended, bring it back one task at a time (0 -> 1).")]
    if root.rule.transient or root.rule.benign:
        return [SuggestedAction(action="none", requires_approval=False,
                                rationale=f"Transient or platform-driven ({cause}): ECS replaces the tasks by itself. "
                                          f"{root.rule.remediation}")]
    target = _rollback_target(view, decision, verdicts, deployments)
    revision_borne = taxonomy.categories().get(cause, {}).get("plan") == "rollback"
    if target and revision_borne and _introduced_by_deployment(view, decision, verdicts, deployments):
        failing = short_name(decision.failing_revision or (_newest_deployment(view) or {}).get("taskDefinition"))
        return [SuggestedAction(action="rollback", params={"taskDefinition": target},
                                rationale=f"{cause} began with revision {failing}; rolling back to {target}, the last "
                                          f"revision that ran healthy, restores the service. Then: "
                                          f"{root.rule.remediation}")]
    already = (decision.failing_revision and view.current_td
               and short_name(decision.failing_revision) != short_name(view.current_td))
    prefix = (f"ECS already runs {short_name(view.current_td)} again, not the failing revision. " if already
              else "A rollback does not change this. " if not revision_borne
              else "No deployment introduced this, so a rollback would not help. ")
    return [SuggestedAction(action="none", requires_approval=False,
                            rationale=f"{prefix}A person must fix it: {root.rule.remediation}")]


def _status(view: _View, cause: str) -> str:
    if view.desired == 0 and view.service:
        return "down"
    if view.desired > 0 and view.running == 0:
        return "down"
    return "healthy" if cause == "healthy" else "degraded"
