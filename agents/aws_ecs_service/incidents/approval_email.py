"""The approval request email: what is wrong, what would change, two signed links."""
from __future__ import annotations

import datetime as dt

from ..domain.incident import Incident
from ..domain.plan import Plan
from ..reports.approval_brief import brief_lines

SUBJECT_LIMIT = 100  # SNS email subjects


def approval_subject(incident: Incident, plan: Plan) -> str:
    t = plan.target
    text = f"Approve? {plan.title} on {t.cluster}/{t.service} ({t.region}, {t.account})"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def approval_email(incident: Incident, plan: Plan, approve_url: str, reject_url: str, expires_at: dt.datetime) -> str:
    lines = [
        f"The ECS incident agent asks for approval of a repair plan for {plan.target.label}.",
        "",
        f"Incident: {incident.incident_id}",
        f"Trigger: {incident.trigger}",
        *brief_lines(plan, incident.triage),
        "",
        plan.summary,
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
