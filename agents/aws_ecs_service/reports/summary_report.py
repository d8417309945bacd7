"""`report_summary.md`: the incident from trigger to outcome — timeline with times, who approved
what and when, every AWS write call (allowed or refused) with its result, before/after numbers,
and a Mermaid timeline."""
from __future__ import annotations

import json
import re
from typing import Any

from ..diagnosis.evidence import parse_time, seconds_between
from ..domain.incident import Incident, TimelineEvent
from .markdown import cell, code, table
from .verify_report import value_text

_OUTCOME = {
    "resolved": "Resolved: the approved change was applied and verified.",
    "rejected": "Rejected: the plan was not approved, so no change was made to AWS.",
    "failed": "Failed: the change or its verification did not succeed (details below).",
    "no-action": "No action: nothing the agent may change automatically; see the plan for what a human must do.",
    "expired": "Expired: nobody decided on the plan in time, so no change was made to AWS.",
    "awaiting-approval": "Waiting for approval: nothing has been changed yet.",
    "remediating": "Remediation in progress.",
    "open": "Open.",
}


def _offset(start: str, at: str) -> str:
    seconds = seconds_between(start, at)
    return f"+{seconds:.1f}s" if seconds is not None else "—"


def _outcome(incident: Incident) -> str:
    told = _OUTCOME.get(incident.status, incident.status)
    return f"{told} ({incident.outcome})" if incident.outcome else told


def _root_cause(incident: Incident) -> list[str]:
    rc = (incident.triage or {}).get("root_cause") or {}
    if not rc:
        return []
    return [f"**Root cause:** `{rc.get('category', '?')}` (confidence {float(rc.get('confidence', 0)):.2f}) — "
            f"{rc.get('summary', '')}", ""]


def _timeline(incident: Incident) -> list[str]:
    events = sorted(incident.timeline, key=lambda e: parse_time(e.at) or parse_time(incident.opened_at))
    if not events:
        return ["No events recorded.", ""]
    return [*table(["time (UTC)", "since open", "stage", "what happened"],
                   [(e.at, _offset(incident.opened_at, e.at), e.kind, e.text) for e in events]), ""]


def _approvals(incident: Incident) -> list[str]:
    if not incident.approvals:
        return ["No approval was requested or recorded.", ""]
    return [*table(["decided at", "decision", "by", "channel", "plan hash", "comment"],
                   [(a.decided_at, a.decision, a.decided_by, a.channel, a.plan_hash, a.comment or "—")
                    for a in incident.approvals]), ""]


def _writes(incident: Incident) -> list[str]:
    if not incident.audit:
        return ["No AWS write call was made.", ""]
    lines = table(["time (UTC)", "step", "call", "parameters", "allowed", "reason", "result", "by"],
                  [(a.at, a.step if a.step is not None else "—", a.operation, json.dumps(a.params, sort_keys=True),
                    "yes" if a.allowed else "REFUSED", a.reason, a.result or "—", a.actor or "—")
                   for a in incident.audit])
    if not any(a.allowed for a in incident.audit):
        lines += ["", "Every call was refused: nothing was changed in AWS."]
    return [*lines, ""]


def _before_after(incident: Incident) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    for a in incident.audit:
        for key in sorted(set(a.before) | set(a.after)):
            before, after = value_text(a.before.get(key)), value_text(a.after.get(key))
            if before != after:  # what the call changed; the verifier's rows below give the counts
                rows.append((f"{a.operation} {key}", before, after))
    if incident.verification:
        rows += [(c.name, value_text(c.before), value_text(c.after)) for c in incident.verification.checks
                 if c.before is not None or c.after is not None]
    if not rows:
        return []
    return ["## Before and after", "", *table(["what", "before", "after"], rows), ""]


def mermaid_text(text: Any, limit: int = 80) -> str:
    """Event text Mermaid's timeline grammar keeps whole: a colon before a space separates events,
    `#...;` is an entity, `%%` a comment."""
    s = re.sub(r":(?=\s|$)", " -", " ".join(str(text).split()))
    s = " ".join(s.replace("#", "").replace(";", ",").replace("%", "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _mermaid(incident: Incident, events: list[TimelineEvent]) -> list[str]:
    t = incident.target
    title = f"Incident {incident.incident_id} on {t.label}"
    lines = ["```mermaid", "timeline", f"    title {mermaid_text(title)}"]
    for e in events:
        lines.append(f"    {_offset(incident.opened_at, e.at)} : {mermaid_text(e.kind)} : {mermaid_text(e.text)}")
    return [*lines, "```", ""]


def render_summary_report(incident: Incident, report_locations: dict[str, str] | None = None) -> str:
    t = incident.target
    plan = incident.chosen_plan()
    events = sorted(incident.timeline, key=lambda e: parse_time(e.at) or parse_time(incident.opened_at))
    lines = [
        f"# Incident summary: {t.label}",
        "",
        f"**Incident:** `{incident.incident_id}` · **Trigger:** {cell(incident.trigger)} · "
        f"**Opened:** {incident.opened_at} · **Status:** {incident.status}",
        "",
        f"**Outcome:** {_outcome(incident)}",
        "",
        *_root_cause(incident),
    ]
    if plan:
        lines += [f"**Plan:** {plan.title} (hash `{plan.plan_hash}`, risk {plan.risk}): "
                  + ("; ".join(code(s.api_call, 200) for s in plan.steps) or "no AWS change"), ""]
    if incident.verification:
        v = incident.verification
        lines += [f"**Verification:** {'passed' if v.ok else 'FAILED'} "
                  f"({sum(c.ok for c in v.checks)}/{len(v.checks)} checks)"
                  + ("" if v.ok else f" — next step: {v.next_step}"), ""]
    lines += ["## Timeline", "", *_timeline(incident)]
    lines += ["## Approvals", "", *_approvals(incident)]
    lines += ["## AWS write calls (audit log)", "", *_writes(incident)]
    lines += _before_after(incident)
    if events:
        lines += ["## Timeline diagram", "", *_mermaid(incident, events)]
    if report_locations:
        lines += ["## Reports", "", *[f"- {name}: {code(where, 300)}" for name, where in report_locations.items()], ""]
    return "\n".join(lines)
