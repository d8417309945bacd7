"""The approval request email: what is wrong, what would change, two signed links."""
from __future__ import annotations

import datetime as dt

from ..operations.plan_model import Incident, Plan

SUBJECT_LIMIT = 100  # SNS email subjects


def approval_subject(incident: Incident, plan: Plan) -> str:
    t = incident.target
    text = f"Approve? {plan.title} on {t.get('cluster')}/{t.get('service')}"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def approval_email(incident: Incident, plan: Plan, approve_url: str, reject_url: str, expires_at: dt.datetime) -> str:
    t = incident.target
    rc = (incident.triage or {}).get("root_cause") or {}
    lines = [
        f"The ECS incident agent asks for approval of a repair plan for {t.get('cluster')}/{t.get('service')} "
        f"({t.get('region')}).",
        "",
        f"Incident: {incident.incident_id}",
        f"Trigger: {incident.trigger}",
        f"Root cause: {rc.get('category', '?')} (confidence {rc.get('confidence', 0):.2f}): {rc.get('summary', '')}",
        "",
        f"Plan: {plan.title} (risk {plan.risk}, hash {plan.plan_hash})",
        plan.summary,
        "",
        "Changes it would make:",
        *[f"  {s.number}. {s.api_call}" for s in plan.steps],
        "",
        "Success criteria:",
        *[f"  - {c}" for c in plan.success_criteria],
        "",
        f"Approve: {approve_url}",
        f"Reject:  {reject_url}",
        "",
        f"The links open a page where you confirm; opening them changes nothing. They work once and expire at "
        f"{expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC. Without a decision by then the plan is not applied.",
    ]
    return "\n".join(lines)
