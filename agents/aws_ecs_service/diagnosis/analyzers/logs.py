"""Application logs beyond the stopped tasks' own verdicts (those are refined in tasks.py).

A failing deployment: its revision's tasks' logs, any log rule (this is how an alarm rollback that
stopped its tasks in an orderly way still gets a cause). Otherwise the running tasks' logs: with a
symptom (an alarm, fewer tasks than desired) the causes a running service shows; on a steady
service only an application denied its AWS calls, since nothing else fails there. A sidecar's
lines are never the application's story (View.app_logs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..rules import rules_for
from ..signals import clip, is_low_level_log, resource_id, short_id
from .base import Hypothesis, Tier, dedupe, summarise

if TYPE_CHECKING:
    from .analysis import Analysis

_RUNNING_LOG_CAUSES = ("missing-config", "task-role-access-denied", "dependency-unreachable")
_STEADY_LOG_CAUSES = ("task-role-access-denied",)


class LogAnalyzer:
    source = "application logs"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        view, deployments = analysis.view, analysis.deployments
        if deployments.active:
            tasks = [t for t in view.stopped + view.running_tasks if t.get("taskDefinitionArn") in deployments.revisions
                     or t.get("startedBy") in deployments.failing_ids]
            causes, minimum = {r.cause for r in rules_for("log")}, 1
        elif analysis.other_alarms or analysis.alarm_signals or view.running < view.desired:
            tasks, causes, minimum = view.running_tasks, set(_RUNNING_LOG_CAUSES), 2
        else:
            tasks, causes, minimum = view.running_tasks, set(_STEADY_LOG_CAUSES), 2
        lines = [(resource_id(t.get("taskArn")), line) for t in tasks
                 for _, line in view.app_logs(resource_id(t.get("taskArn")))]
        for rule in (r for r in rules_for("log") if r.cause in causes):
            hits = [(tid, line) for tid, line in lines if not is_low_level_log(line) and rule.search(line)]
            if len(hits) >= minimum:
                evidence = dedupe(f"log task/{short_id(tid)}: {clip(line, keep=rule.pattern)}" for tid, line in reversed(hits))[:4]
                evidence += analysis.other_alarms[:2]
                return [Hypothesis(rule.cause, rule, rule.confidence * 0.7, summarise(rule, view, count=len(hits)),
                                   evidence, rule.severity, Tier.LOGS)]
        return []
