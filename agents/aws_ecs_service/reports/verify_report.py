"""`verify_post_check.md`: what was checked after the change, before/after numbers, pass/fail
with evidence, and the next step when it failed."""
from __future__ import annotations

import json
from typing import Any

from ..diagnosis.evidence import seconds_between
from ..domain.incident import Incident
from .markdown import bullets, code, table

_NOT_RUN = {
    "rejected": "the plan was rejected, so nothing was changed and there was nothing to verify",
    "expired": "the approval request expired before anyone decided, so nothing was changed",
    "awaiting-approval": "the plan is still waiting for approval; nothing has been changed yet",
    "no-action": "the plan made no AWS change, so there was nothing to verify",
    "failed": "the change did not go through (see the audit trail in report_summary.md)",
    "open": "no change has been made yet",
}


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    text = str(value)
    # Task definition ARNs read better as family:revision, as everywhere else in the reports.
    return text.rsplit("/", 1)[-1] if text.startswith("arn:aws") and ":task-definition/" in text else text


def _elapsed(start: str, end: str) -> str:
    seconds = seconds_between(start, end)
    return f"{seconds:.1f} s" if seconds is not None else "—"


def _why_not_run(incident: Incident) -> str:
    return _NOT_RUN.get(incident.status, "verification did not run")


def render_verify_report(incident: Incident) -> str:
    t = incident.target
    v = incident.verification
    lines = [f"# Post-change check: {t.label}", "",
             f"**Incident:** `{incident.incident_id}`" + (f" · **Plan hash:** `{incident.chosen_plan_hash}`"
                                                          if incident.chosen_plan_hash else ""), ""]
    if v is None:
        return "\n".join([*lines, f"**Result:** not run — {_why_not_run(incident)}.", ""])
    passed = sum(1 for c in v.checks if c.ok)
    lines += [
        f"**Result:** {'PASSED' if v.ok else 'FAILED'} — {passed}/{len(v.checks)} checks passed · "
        f"checked {v.started_at} → {v.finished_at} ({_elapsed(v.started_at, v.finished_at)}, {v.polls} polls)",
        "",
        "## Checks",
        "",
        *table(["check", "result", "before", "after", "evidence"],
               [(c.name, "pass" if c.ok else "FAIL", value_text(c.before), value_text(c.after), c.detail)
                for c in v.checks]),
        "",
    ]
    failed = [c for c in v.checks if not c.ok]
    if failed:
        lines += ["## What failed", "", *bullets(f"**{c.name}**: {code(c.detail)}" for c in failed), ""]
    if not v.ok:
        lines += ["## Next step", "", v.next_step or "Look at the failed checks above before changing anything else.",
                  ""]
    return "\n".join(lines)
