"""Stopped tasks: why each one stopped, and which causes they point at.

Every stopped task of the service inside the window gets a verdict from the rule table (stop code
-> stopped reason -> container reason -> exit code; first matching rule). An essential container
that exited on its own is refined with that task's application logs; an exit 137 with memory at
its limit is an OOM kill. When deployments fail, the verdicts of their own tasks name the cause.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..rules import RULES_BY_ID, TASK_FIELDS, Rule, rules_for
from ..signals import clip, is_low_level_log, is_sidecar, normalise, resource_id, short_id
from ..view import View, stopped_at, ts
from .base import Hypothesis, Tier, dedupe, most_severe, summarise
from .events import placement_refined
from .images import refine_pull_verdicts
from .network import refine_network_verdicts

if TYPE_CHECKING:
    from .analysis import Analysis

_TASK_RULES = tuple(sorted((r for r in RULES_BY_ID.values() if any(w in TASK_FIELDS for w in r.where)),
                           key=lambda r: r.priority))
_MAINTENANCE_RECENT_S = 60 * 60


@dataclass
class TaskVerdict:
    task: dict[str, Any]
    rule: Rule | None
    text: str
    exit_code: int | None
    log_rule: Rule | None = None
    log_line: str | None = None
    inherited_logs: bool = False
    evidence_rule: Rule | None = None  # another source settled it (memory at its limit, ECR, the VPC)
    evidence_note: str | None = None   # what that source said

    @property
    def task_id(self) -> str:
        return resource_id(self.task.get("taskArn"))

    @property
    def revision(self) -> str:
        return self.task.get("taskDefinitionArn") or ""

    @property
    def effective_rule(self) -> Rule | None:
        return self.evidence_rule or self.log_rule or self.rule

    @property
    def cause(self) -> str | None:
        rule = self.effective_rule
        return rule.cause if rule else None

    @property
    def failure(self) -> bool:
        return self.rule is None or not self.rule.benign

    @property
    def confidence(self) -> float:
        if self.log_rule:
            return max(self.log_rule.confidence, self.rule.confidence if self.rule else 0.0)
        return self.rule.confidence if self.rule else 0.0

    def refine(self, rule: Rule, note: str | None = None) -> None:
        """Another evidence source settles why this task stopped."""
        self.evidence_rule, self.evidence_note = rule, note

    def line(self) -> str:
        exit_part = f" (exit {self.exit_code})" if self.exit_code is not None else ""
        keep = self.rule.pattern if self.rule else None
        return f"task/{short_id(self.task_id)}: {clip(self.text, keep=keep)}{exit_part}"

    def log_evidence(self) -> str | None:
        if not self.log_line or self.inherited_logs:
            return None
        keep = self.log_rule.pattern if self.log_rule else None
        return f"log task/{short_id(self.task_id)}: {clip(self.log_line, keep=keep)}"


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
                    return TaskVerdict(task, rule, _quoted(where, text, reason, task), exit_code)
    if task.get("stopCode") or reason:  # stopped for a reason no rule knows
        return TaskVerdict(task, None, reason or f"stopCode {task.get('stopCode')}", exit_code)
    return None


def _quoted(where: str, text: str, reason: str, task: dict[str, Any]) -> str:
    """What the evidence line quotes: the reason beside a bare code, the text otherwise."""
    if where == "stop_code":
        return f"{reason} (stopCode {text})" if reason else f"stopCode {text}"
    if where == "exit_code":
        return reason or f"container exited (stopCode {task.get('stopCode') or '?'})"
    if where == "failed_sidecar":
        return f"{reason or 'stopped'} (sidecar {text})"
    return text


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


def task_verdicts(analysis: Analysis) -> list[TaskVerdict]:
    """The verdict of every stopped task, refined by its logs and by what the metrics say."""
    view = analysis.view
    verdicts = [v for t in view.stopped if (v := classify_task(t, view.taskdef(t.get("taskDefinitionArn"))))]
    _refine_with_logs(verdicts, view)
    memory = [s for s in analysis.metric_signals + analysis.alarm_signals if s.rule.cause == "memory-pressure"]
    for v in verdicts:  # SIGKILL of an app container with memory at its limit is an OOM kill (taxonomy)
        if v.exit_code == 137 and v.cause == "app-crash" and not v.log_rule and memory:
            v.refine(RULES_BY_ID["F02"])
    refine_pull_verdicts(analysis, verdicts)
    refine_network_verdicts(analysis, verdicts)
    return verdicts


def _refine_with_logs(verdicts: list[TaskVerdict], view: View) -> None:
    """An app exit (or failed health check) reads its task's logs; tasks without logs take their peers' answer."""
    peers: dict[tuple[str, str], list[TaskVerdict]] = defaultdict(list)
    for v in verdicts:
        if v.rule and v.rule.refine_with_logs:
            peers[(v.rule.id, v.revision)].append(v)
            hit = best_log_match(view.app_logs(v.task_id), v.rule.refine_with_logs)
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


def best_log_match(lines: list[tuple[str, str]], causes: Iterable[str]) -> tuple[Rule, str] | None:
    """The highest-priority log rule among `causes` that matches; the last matching line is quoted."""
    wanted = [r for r in rules_for("log") if r.cause in set(causes)]
    candidates = [line for _, line in lines if not is_low_level_log(line)]
    for rule in wanted:
        hits = [line for line in candidates if rule.search(line)]
        if hits:
            return rule, hits[-1]
    return None


def belongs_to_failing_deployment(task: dict[str, Any], analysis: Analysis) -> bool:
    deployments = analysis.deployments
    if task.get("startedBy") and task.get("startedBy") in deployments.failing_ids:
        return True
    return bool(task.get("taskDefinitionArn")) and task.get("taskDefinitionArn") in deployments.revisions


def task_hypotheses(verdicts: list[TaskVerdict], total: int, view: View) -> list[Hypothesis]:
    """One hypothesis per cause among these task verdicts, strongest first."""
    by_cause: dict[str, list[TaskVerdict]] = defaultdict(list)
    for v in verdicts:
        if v.cause:
            by_cause[v.cause].append(v)
    out = []
    for cause, group in by_cause.items():
        rule = min((v.effective_rule for v in group), key=lambda r: r.priority)
        lead = min(group, key=lambda v: (v.rule.priority, -ts(stopped_at(v.task))))
        share = len(group) / max(total, 1)
        base = statistics.fmean(v.confidence for v in group)
        codes = "/".join(str(c) for c in sorted({v.exit_code for v in group if v.exit_code is not None})) or "?"
        summary = summarise(lead.rule, view, count=len(group), total=total, exit_codes=codes)
        if lead.effective_rule is not lead.rule:
            summary = f"{summary} {summarise(lead.effective_rule, view, count=len(group), total=total)}"
        lines = dedupe(v.line() for v in sorted(group, key=lambda v: -ts(stopped_at(v.task))))[:3]
        lines += dedupe(x for x in (v.log_evidence() for v in group) if x)[:3]
        lines += dedupe(v.evidence_note for v in group if v.evidence_note)[:2]
        out.append(Hypothesis(cause, rule, base * (0.7 + 0.3 * share) + (0.03 if len(group) >= 3 else 0.0),
                              summary, lines, most_severe(v.effective_rule.severity for v in group),
                              Tier.TRANSIENT if rule.transient else Tier.FAILURE, verdicts=group))
    out.sort(key=lambda h: (-len(h.verdicts), -h.latest, h.rule.priority))
    return out


class TaskAnalyzer:
    source = "stopped tasks"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        view, failures = analysis.view, analysis.failures
        below = [v for v in failures if belongs_to_failing_deployment(v.task, analysis)]
        scope = below or failures
        found = [placement_refined(h, view) for h in task_hypotheses(scope, len(scope), view)]
        # failures outside a failing deployment are reported beside its cause, never instead of it
        for h in task_hypotheses([v for v in failures if v not in scope], len(failures), view):
            h.tier = Tier.ALSO
            found.append(h)
        found += self._benign_only(analysis)
        return found

    @staticmethod
    def _benign_only(analysis: Analysis) -> list[Hypothesis]:
        """Maintenance or user stops are the cause only when they are all there is, and recent / dominant."""
        view, verdicts = analysis.view, analysis.verdicts
        now = view.end or max((stopped_at(v.task) for v in verdicts if stopped_at(v.task)), default=None)
        maintenance = [v for v in verdicts if v.cause == "platform-maintenance"]
        if maintenance and now and any(ts(stopped_at(v.task) or now) >= ts(now) - _MAINTENANCE_RECENT_S
                                       for v in maintenance):
            return [_benign(task_hypotheses(maintenance, len(verdicts), view)[0])]
        user = [v for v in verdicts if v.cause == "task-stopped-by-user"]
        dominant = 2 * len(user) > len(verdicts)
        if user and dominant and (len(user) >= 3 or view.running < view.desired):
            return [_benign(task_hypotheses(user, len(verdicts), view)[0])]
        return []


def _benign(h: Hypothesis) -> Hypothesis:
    h.tier = Tier.BENIGN
    return h
