"""Outcome notifications: when an incident settles, one message to the notification topic.

People who got the approval email (or none: writes off, nothing safe to automate) hear how it
ended: the outcome, the cause, what changed in AWS, and where the four reports are.
"""
from __future__ import annotations

from typing import Any

from ..domain.incident import Incident

SUBJECT_LIMIT = 100  # SNS email subjects
_HEADLINE = {
    "resolved": "Resolved", "failed": "FAILED", "rejected": "Rejected, nothing changed",
    "expired": "Approval expired, nothing changed", "no-action": "No automated change",
}


def outcome_subject(incident: Incident) -> str:
    t = incident.target
    text = f"{_HEADLINE.get(incident.status, incident.status)}: {t.cluster}/{t.service} ({t.region})"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def outcome_message(incident: Incident, reports: dict[str, str]) -> str:
    rc = (incident.triage or {}).get("root_cause") or {}
    plan = incident.chosen_plan()
    writes = [a for a in incident.audit if a.allowed and a.result in ("ok",)]
    lines = [
        f"Incident {incident.incident_id} on {incident.target.label} has settled: {incident.status}.",
        f"Why: {incident.outcome}",
        "",
        f"Trigger: {incident.trigger}",
        f"Root cause: {rc.get('category', 'unknown')} (confidence {float(rc.get('confidence') or 0):.2f}): "
        f"{rc.get('summary', 'the triage did not complete')}",
    ]
    if plan is not None:
        lines.append(f"Plan: {plan.title} (hash {plan.plan_hash})")
        lines += [f"  a person must: {step}" for step in plan.manual_steps[:4]]
    lines += ["", "What changed in AWS:"]
    lines += [f"  {a.operation} {a.params} at {a.at}: {a.result}" for a in writes] or ["  nothing"]
    if incident.verification is not None:
        v = incident.verification
        lines.append(f"Verification: {'passed' if v.ok else 'failed'} ({sum(c.ok for c in v.checks)}/{len(v.checks)} "
                     "checks)" + ("" if v.ok else f"; next: {v.next_step}"))
    lines += ["", "Reports:", *[f"  {name}: {where}" for name, where in reports.items()]]
    return "\n".join(lines)


class TopicNotifier:
    """lifecycle.Notifier over SNS: one message per settled incident."""

    def __init__(self, sns: Any, topic_arn: str):
        self.sns, self.topic_arn = sns, topic_arn

    def settled(self, incident: Incident, reports: dict[str, str]) -> None:
        self.sns.publish(TopicArn=self.topic_arn, Subject=outcome_subject(incident),
                         Message=outcome_message(incident, reports))
