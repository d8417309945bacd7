"""The ordered rule table, compiled from the cause records of taxonomy.json (ids follow the F-numbers of
../shared/reference/ecs-failures.md §3; L = application logs, M = metrics, A = alarms, S = service state).

A rule says where to look (`where`), which stable tokens to look for (`pattern`, searched in
the normalised text, so curly quotes and 1,024-char truncation do not matter), and what it
means (`cause`, the record it belongs to). `priority` orders the rules: within one task the first
matching rule wins, which encodes the reference's signal order (stop code -> stopped reason
-> container reason -> exit code), with the specific signal before the generic one.

Flags: `benign` stops are expected (scale-in, user stops, maintenance) and never become a
root cause of a different kind; `transient` causes clear by themselves; `wrapper` rules
(circuit breaker, alarm rollback) only say a deployment failed: the cause is one level down.
`ambiguous` texts fit more than one cause (an ECR image check decides).
`refine_with_logs` lists the causes the failing task's own logs may turn the verdict into.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import taxonomy
from .signals import normalise
from .taxonomy import Severity, Where

TASK_FIELDS: tuple[Where, ...] = ("stop_code", "stopped_reason", "container_reason", "exit_code", "failed_sidecar")


@dataclass(frozen=True)
class Rule:
    id: str
    cause: str
    where: tuple[Where, ...]
    pattern: re.Pattern[str]
    priority: int
    severity: Severity
    summary: str  # "{count}", "{total}" and "{service}" are filled in by the classifier
    remediation: str
    benign: bool = False
    transient: bool = False
    wrapper: bool = False
    ambiguous: bool = False
    confidence: float = 0.85  # how much this signal alone says about the cause
    threshold: float | None = None  # metric rules: fire when the last 3 datapoints are all at or above it
    refine_with_logs: tuple[str, ...] = ()

    def search(self, text: object) -> re.Match[str] | None:
        return self.pattern.search(normalise(text))


def compile_rules(found: taxonomy.Taxonomy) -> tuple[Rule, ...]:
    """The rules of the taxonomy's cause records, in priority order."""
    rules = []
    for cause in found.categories:
        for r in cause.rules:
            rules.append(Rule(
                id=r.id, cause=cause.id, where=r.where,
                pattern=re.compile(r.pattern, 0 if r.case_sensitive else re.IGNORECASE),
                priority=r.priority, severity=r.severity, summary=r.summary,
                remediation=r.remediation or cause.remediation, benign=r.benign, transient=r.transient,
                wrapper=r.wrapper, ambiguous=r.ambiguous, confidence=r.confidence, threshold=r.threshold,
                refine_with_logs=tuple(found.log_refinements[r.refine_with_logs]) if r.refine_with_logs else (),
            ))
    return tuple(sorted(rules, key=lambda r: r.priority))


RULES: tuple[Rule, ...] = compile_rules(taxonomy.load())
RULES_BY_ID = {r.id: r for r in RULES}
_BY_WHERE: dict[str, tuple[Rule, ...]] = {
    where: tuple(r for r in RULES if where in r.where) for where in {w for r in RULES for w in r.where}
}


def primary_rule(cause: str) -> Rule:
    """The cause's first rule: what it says when a source only confirms the cause."""
    return min((r for r in RULES if r.cause == cause), key=lambda r: r.priority)


def rules_for(where: Where) -> tuple[Rule, ...]:
    return _BY_WHERE.get(where, ())


def first_match(where: Where, text: object) -> tuple[Rule, re.Match[str]] | None:
    """The first rule (in priority order) of this field that matches the text."""
    flat = normalise(text)
    if not flat:
        return None
    for rule in rules_for(where):
        m = rule.pattern.search(flat)
        if m:
            return rule, m
    return None
