"""What the analyzers share: the facts read from each evidence source, and the hypotheses they propose.

An analyzer reads one evidence source and proposes hypotheses; the decision (diagnosis/decision.py)
takes the first by tier, then by the analyzer's place in the registry, then by the order the analyzer
gave. Facts one source needs from another (the memory metrics an exit 137 is judged by, the failing
deployments the stopped tasks are scoped to) are computed once, on first use, on the Analysis.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from ..rules import Rule
from ..view import View, stopped_at, ts

if TYPE_CHECKING:
    from .analysis import Analysis
    from .tasks import TaskVerdict

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


class Tier(IntEnum):
    """How strongly a kind of hypothesis explains an incident; the lowest tier proposed wins."""

    FAILURE = 1         # a failure signal that names its cause
    TRANSIENT = 2       # a cause that clears by itself
    SERVICE_STATE = 3   # the service's own settings (desired count 0)
    LOGS = 4            # application logs without a failure signal above them
    METRICS = 5         # utilisation metrics and alarms
    GUESS = 6           # a deployment fails and nothing names why
    BENIGN = 7          # only expected stops (maintenance, user)
    ALSO = 8            # reported beside the root cause, never the root cause itself


@dataclass(frozen=True)
class Signal:
    rule: Rule
    line: str
    at: dt.datetime | None = None
    deployment_id: str | None = None
    revision: str | None = None  # the task definition the signal is about, when it is about one


@dataclass
class Hypothesis:
    cause: str
    rule: Rule
    confidence: float
    summary: str
    evidence: list[str]
    severity: str
    tier: Tier = Tier.FAILURE
    source: str = ""  # the analyzer that proposed it (set by the decision)
    verdicts: list[TaskVerdict] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)

    @property
    def latest(self) -> float:
        times = [ts(stopped_at(v.task)) for v in self.verdicts] + [ts(s.at) for s in self.signals]
        return max(times, default=0.0)

    @property
    def earliest(self) -> float:
        times = [ts(stopped_at(v.task)) for v in self.verdicts] + [ts(s.at) for s in self.signals if s.at]
        return min(times, default=0.0)


class Analyzer(Protocol):
    """One evidence source: what it proposes as the cause (any tier, strongest first)."""

    source: str

    def propose(self, analysis: Analysis) -> Iterable[Hypothesis]: ...


def summarise(rule: Rule, view: View, *, count: int, total: int | None = None, exit_codes: str = "?") -> str:
    """The rule's summary; without a task total (service events, logs) it speaks of tasks in general."""
    template = rule.summary
    if total is None:
        template = re.sub(r"\{count\} of \{total\} stopped tasks", "Tasks", template)
    return template.format_map(defaultdict(str, count=count, total=total, service=view.service_name,
                                           exit_codes=exit_codes))


def signal_hypotheses(signals: list[Signal], view: View, unit: str = "service events") -> list[Hypothesis]:
    """One hypothesis per cause among these signals, the most signalled first."""
    by_cause: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        by_cause[s.rule.cause].append(s)
    out = []
    for cause, group in by_cause.items():
        rule = min((s.rule for s in group), key=lambda r: r.priority)
        conf = rule.confidence * (0.8 + min(len(group), 3) * 0.05)
        summary = summarise(rule, view, count=len(group))
        if "{total}" in rule.summary:
            summary += f" ({len(group)} {unit})"
        out.append(Hypothesis(cause, rule, conf, summary, dedupe([s.line for s in group])[:5], rule.severity,
                              Tier.TRANSIENT if rule.transient else Tier.FAILURE, signals=group))
    out.sort(key=lambda h: (-len(h.signals), h.rule.priority))
    return out


def dedupe(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def most_severe(severities: Iterable[str]) -> str:
    return min(severities, key=SEVERITY_ORDER.index)


def lower(severity: str) -> str:
    return SEVERITY_ORDER[min(SEVERITY_ORDER.index(severity) + 1, len(SEVERITY_ORDER) - 1)]


def bounded(value: float) -> float:
    return round(min(max(value, 0.05), 0.99), 2)
