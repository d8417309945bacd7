"""The decision: which proposed hypothesis is the root cause.

Every analyzer proposes; the root is the first by tier (analyzers/base.py Tier), then by the
analyzer's place in the registry, then by the analyzer's own order. Nothing proposed means
healthy. Independent signals that agree with the root raise its confidence; a steady state
reported after the last failure signal means the service recovered.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .analyzers import ANALYZERS
from .analyzers.analysis import Analysis
from .analyzers.base import Hypothesis, Tier
from .analyzers.deployments import deployment_line
from .analyzers.tasks import belongs_to_failing_deployment
from .rules import RULES_BY_ID
from .view import ts


@dataclass
class Decision:
    root: Hypothesis
    others: list[Hypothesis]        # the other causes seen (failures and transients), reported beside the root
    failing_revision: str | None    # task definition the root cause's tasks ran
    recovered: bool


def decide(analysis: Analysis) -> Decision:
    proposed = []
    for analyzer in ANALYZERS:
        for h in analyzer.propose(analysis):
            h.source = analyzer.source
            proposed.append(h)
    ranked = sorted(proposed, key=lambda h: h.tier)  # stable: within a tier, registry order, then the analyzer's
    contenders = [h for h in ranked if h.tier < Tier.ALSO]
    root = contenders[0] if contenders else _healthy(analysis)
    if root.tier <= Tier.TRANSIENT:
        _corroborate(root, ranked, analysis)
        others = [h for h in ranked if h.tier in (Tier.FAILURE, Tier.TRANSIENT, Tier.ALSO) and h.cause != root.cause]
    else:  # what only warns (an image a running revision lacks, a target of a steady service) is still said
        others = [h for h in ranked if h.tier == Tier.ALSO and h.cause != root.cause]
    return Decision(root, others, _revision_of(root), _recovered(analysis, root))


def _healthy(analysis: Analysis) -> Hypothesis:
    view, verdicts = analysis.view, analysis.verdicts
    rule = RULES_BY_ID["F42"]
    lines = [f"service {view.service_name}: running {view.running} of desired {view.desired}"]
    lines += [deployment_line(d) for d in view.deployments if d.get("status") == "PRIMARY"][:1]
    lines += [e.line(rule.pattern) for e in view.events if rule.search(e.body)][:1]
    confidence = 0.9
    summary = f"No fault found: {view.service_name} runs {view.running} of {view.desired} tasks"
    if verdicts:
        confidence -= 0.05
        summary += f"; {len(verdicts)} stopped tasks in the window were routine (scale-in, replacements, user stops)"
    if view.running < view.desired:
        confidence -= 0.25
        summary += "; fewer tasks run than desired, without a failure signal"
    if analysis.other_alarms:
        confidence -= 0.3
        lines += analysis.other_alarms[:3]
        summary += "; an alarm is in ALARM without an ECS failure signal"
    return Hypothesis("healthy", rule, confidence, summary + ".", lines, "info", Tier.ALSO)


def _corroborate(root: Hypothesis, ranked: list[Hypothesis], analysis: Analysis) -> None:
    """Independent sources that agree with the root cause raise its confidence and join its evidence."""
    agreeing = [h for h in ranked if h.cause == root.cause and h.source != root.source]
    for source in dict.fromkeys(h.source for h in agreeing):
        lines = [line for h in agreeing if h.source == source for line in h.evidence]
        root.evidence += [line for line in dict.fromkeys(lines) if line not in root.evidence][:2]
        root.confidence += 0.05
    if any(v.log_rule and not v.inherited_logs for v in root.verdicts):
        root.confidence += 0.04
    if root.cause == "container-oom":
        memory = [s for s in analysis.metric_signals + analysis.alarm_signals if s.rule.cause == "memory-pressure"]
        if memory:
            root.evidence += [s.line for s in memory][:2]
            root.confidence += 0.04
    if root.verdicts and analysis.deployments.failing and any(
            belongs_to_failing_deployment(v.task, analysis) for v in root.verdicts):
        root.confidence += 0.03


def _recovered(analysis: Analysis, root: Hypothesis) -> bool:
    """A steady state reported after the last failure signal means the service recovered."""
    view = analysis.view
    if not (root.verdicts or root.signals):  # nothing dated to follow (healthy has neither)
        return False
    steady = [e.at for e in view.events if e.at and RULES_BY_ID["F42"].search(e.body)]
    return bool(steady) and ts(max(steady)) > root.latest and view.running >= view.desired > 0


def _revision_of(h: Hypothesis) -> str | None:
    revisions = Counter([v.revision for v in h.verdicts if v.revision] + [s.revision for s in h.signals if s.revision])
    return revisions.most_common(1)[0][0] if revisions else None
