"""Utilisation metrics and CloudWatch alarms of the service."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..evidence import parse_time
from ..rules import first_match, rules_for
from ..signals import clip
from ..view import View
from .base import Hypothesis, Signal, Tier, summarise

if TYPE_CHECKING:
    from .analysis import Analysis


def metric_signals(view: View) -> list[Signal]:
    out = []
    for metric, points in sorted(view.metrics.items()):
        recent = [v for _, v in points[-3:]]
        if not recent:
            continue
        for rule in rules_for("metric"):
            # like an alarm's "3 out of the last 3 datapoints": a single spike is not saturation
            if rule.search(metric) and rule.threshold is not None and min(recent) >= rule.threshold:
                shown = ", ".join(f"{v:g}" for v in recent)
                out.append(Signal(rule, f"metric {metric}: recent datapoints {shown} (>= {rule.threshold:g}%)",
                                  points[-1][0]))
    return out


def _alarm_state(alarm: dict[str, Any]) -> str:
    return str(alarm.get("StateValue") or alarm.get("state") or "").upper()


def _alarm_line(alarm: dict[str, Any]) -> str:
    reason = alarm.get("StateReason") or alarm.get("reason") or ""
    return f"alarm {alarm.get('AlarmName', '?')} is in ALARM" + (f": {clip(reason, 200)}" if reason else "")


def alarm_signals(view: View) -> tuple[list[Signal], list[str]]:
    """(signals of CPU/memory alarms in ALARM, lines of other alarms in ALARM)."""
    signals, others = [], []
    for alarm in sorted(view.alarms, key=lambda a: str(a.get("AlarmName"))):
        if _alarm_state(alarm) != "ALARM":
            continue
        hit = first_match("alarm", f"{alarm.get('MetricName') or ''} {alarm.get('AlarmName') or ''}")
        if hit:
            signals.append(Signal(hit[0], _alarm_line(alarm), parse_time(alarm.get("StateUpdatedTimestamp"))))
        else:
            others.append(_alarm_line(alarm))
    return signals, others


class MetricAnalyzer:
    source = "metrics and alarms"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        by_cause: dict[str, list[Signal]] = defaultdict(list)
        for s in analysis.metric_signals + analysis.alarm_signals:
            by_cause[s.rule.cause].append(s)
        if not by_cause:
            return []
        cause, group = min(by_cause.items(), key=lambda kv: (-len(kv[1]), min(s.rule.priority for s in kv[1])))
        rule = min((s.rule for s in group), key=lambda r: r.priority)
        confidence = rule.confidence + (0.1 if len(group) >= 2 else 0.0)
        return [Hypothesis(cause, rule, confidence, summarise(rule, analysis.view, count=len(group)),
                           [s.line for s in group], rule.severity, Tier.METRICS, signals=group)]
