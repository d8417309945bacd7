"""The findings of a triage: the root cause first, then the failing deployment, the other causes seen,
the metrics and alarms not used by the root, and the routine stops; and the service's status."""
from __future__ import annotations

from .actions import diff_lines, introduced_by_deployment
from .analyzers.analysis import Analysis
from .analyzers.base import bounded, lower, summarise
from .analyzers.deployments import deployment_line
from .analyzers.tasks import task_hypotheses
from .decision import Decision
from .result import Finding, Status
from .view import View

MAX_EVIDENCE = 12


def findings(analysis: Analysis, decision: Decision) -> list[Finding]:
    view, root, deployments = analysis.view, decision.root, analysis.deployments
    severity, summary = root.severity, root.summary
    if decision.recovered:
        severity = lower(severity)
        summary += " The service has since reached a steady state."
    elif view.desired > 0 and view.running == 0 and root.cause != "healthy":
        severity = "critical"
    evidence = list(root.evidence)
    changes = diff_lines(analysis, decision)
    if introduced_by_deployment(analysis, decision):
        evidence += changes[:4]
    found = [Finding(category=root.cause, severity=severity, confidence=bounded(root.confidence),
                     summary=summary, evidence=evidence[:MAX_EVIDENCE], rule=root.rule.id)]
    if deployments.active:
        rule = min((s.rule for s in deployments.wrapper_signals), key=lambda r: r.priority)
        lines = [deployment_line(d) for d in deployments.failing][:2]
        lines += [s.line for s in deployments.wrapper_signals if not s.line.startswith("deployment ")][:3]
        found.append(Finding(category="deployment-failing",
                             severity=lower(rule.severity) if decision.recovered else rule.severity,
                             confidence=bounded(rule.confidence),
                             # never healthy beside a failing deployment: its analyzer then guesses a cause
                             summary=f"{summarise(rule, view, count=len(deployments.wrapper_signals))} The cause one "
                                     f"level down: {root.cause}.",
                             evidence=list(dict.fromkeys(lines + changes))[:MAX_EVIDENCE], rule=rule.id))
    for h in decision.others:
        found.append(Finding(category=h.cause, severity=lower(h.severity), confidence=bounded(h.confidence * 0.8),
                             summary=h.summary, evidence=h.evidence[:5], rule=h.rule.id))
    used = {id(s) for s in root.signals}
    for s in analysis.metric_signals + analysis.alarm_signals:
        if id(s) not in used and not (root.cause == "container-oom" and s.rule.cause == "memory-pressure"):
            found.append(Finding(category=s.rule.cause, severity="medium", confidence=bounded(s.rule.confidence * 0.7),
                                 summary=s.rule.summary, evidence=[s.line], rule=s.rule.id))
    benign = [v for v in analysis.verdicts if not v.failure and v not in root.verdicts]
    for h in task_hypotheses(benign, len(analysis.verdicts), view):
        found.append(Finding(category=h.cause, severity="info", confidence=bounded(h.confidence),
                             summary=h.summary, evidence=h.evidence[:3], rule=h.rule.id))
    seen: set[tuple[str, str]] = set()
    unique = []
    for f in found:
        if (f.category, f.summary) not in seen:
            seen.add((f.category, f.summary))
            unique.append(f)
    return unique


def status(view: View, cause: str) -> Status:
    if view.desired == 0 and view.service:
        return "down"
    if view.desired > 0 and view.running == 0:
        return "down"
    return "healthy" if cause == "healthy" else "degraded"
