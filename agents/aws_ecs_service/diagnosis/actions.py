"""The suggested action for the root cause, by its record's plan kind (taxonomy.json).

A rollback is suggested only for a cause a revision can bring, when the newest deployment brought
it, to the last revision that ran healthy (diagnosis/revisions.py); load causes get one more task,
a service scaled to 0 gets one task back; everything else is for a person (manual steps).
"""
from __future__ import annotations

from .analyzers.analysis import Analysis
from .decision import Decision
from .result import SuggestedAction
from .revisions import last_healthy_revision
from .taskdef_diff import diff_task_definitions, evidence_lines, short_name
from .taxonomy import plan_kind
from .view import ts


def suggested_actions(analysis: Analysis, decision: Decision) -> list[SuggestedAction]:
    view, root = analysis.view, decision.root
    cause, plan = root.cause, plan_kind(root.cause)
    if cause == "healthy":
        return [SuggestedAction(action="none", requires_approval=False, rationale="No fault found; nothing to change.")]
    if plan == "scale-out":
        return [SuggestedAction(action="scale", params={"desiredCount": view.desired + 1},
                                rationale=f"{root.rule.remediation} One more task spreads the load "
                                          f"({view.desired} -> {view.desired + 1}).")]
    if plan == "restore-capacity":
        return [SuggestedAction(action="scale", params={"desiredCount": 1},
                                rationale="The service runs no tasks because desiredCount is 0; if that was not "
                                          "intended, bring it back one task at a time (0 -> 1).")]
    if root.rule.transient or root.rule.benign:
        return [SuggestedAction(action="none", requires_approval=False,
                                rationale=f"Transient or platform-driven ({cause}): ECS replaces the tasks by itself. "
                                          f"{root.rule.remediation}")]
    target = rollback_target(analysis, decision)
    if plan == "rollback" and target and introduced_by_deployment(analysis, decision):  # so there is a deployment
        failing = short_name(decision.failing_revision or view.deployments[0].get("taskDefinition"))
        return [SuggestedAction(action="rollback", params={"taskDefinition": target},
                                rationale=f"{cause} began with revision {failing}; rolling back to {target}, the last "
                                          f"revision that ran healthy, restores the service. Then: "
                                          f"{root.rule.remediation}")]
    already = (decision.failing_revision and view.current_td
               and short_name(decision.failing_revision) != short_name(view.current_td))
    prefix = (f"ECS already runs {short_name(view.current_td)} again, not the failing revision. " if already
              else "A rollback does not change this. " if plan != "rollback"
              else "No deployment introduced this, so a rollback would not help. ")
    return [SuggestedAction(action="none", requires_approval=False,
                            rationale=f"{prefix}A person must fix it: {root.rule.remediation}")]


def failing_revisions(analysis: Analysis) -> set[str]:
    revisions = {v.revision for v in analysis.verdicts if v.failure and v.revision}
    return revisions | analysis.deployments.revisions


def rollback_target(analysis: Analysis, decision: Decision) -> str | None:
    """The last revision that ran healthy, never one that fails here."""
    healthy = last_healthy_revision(analysis.view.evidence, failing_revisions(analysis) | {decision.failing_revision})
    return short_name(healthy.arn) if healthy else None


def introduced_by_deployment(analysis: Analysis, decision: Decision) -> bool:
    """The newest deployment brought the cause: its revision is the failing one, or the cause began after it."""
    view, root = analysis.view, decision.root
    newest = view.deployments[0] if view.deployments else None
    if not newest:  # a root without dated evidence (healthy, running tasks' logs) never began after it either
        return False
    new_rev = short_name(newest.get("taskDefinition"))
    started = ts(newest.get("createdAt"))
    # a revision that has run for longer than the window did not just bring the fault
    recent = newest.get("rolloutState") not in (None, "COMPLETED") or (view.start is not None
                                                                      and started >= view.start.timestamp())
    if decision.failing_revision:
        return recent and short_name(decision.failing_revision) == new_rev
    return bool(started) and root.earliest >= started and len(view.deployments) > 1 and bool(
        diff_lines(analysis, decision))


def diff_lines(analysis: Analysis, decision: Decision) -> list[str]:
    """What the failing (or newest) revision changed against the one to go back to."""
    view, deployments = analysis.view, analysis.deployments
    newest = view.deployments[0] if view.deployments else {}
    new_ref = decision.failing_revision or (deployments.failing[0].get("taskDefinition") if deployments.failing
                                            else newest.get("taskDefinition"))
    old_ref = rollback_target(analysis, decision) or view.previous_td
    new, old = view.taskdef(new_ref), view.taskdef(old_ref)
    if not new or not old:
        return []
    return evidence_lines(diff_task_definitions(old, new), old, new)
