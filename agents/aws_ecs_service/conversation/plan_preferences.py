"""Preferences that change the options: "keep it low risk" leaves out riskier changes, a deadline ("demo at 2 PM",
"within 10 minutes") leaves out changes that take longer; the planner already orders them (fastest first under a
deadline, lowest risk first for low risk). The reply says what was left out and why, so a person can still ask for
it by name (an explicit request is answered as asked).
"""
from __future__ import annotations

from typing import Any

from ..diagnosis.result import TriageResult
from ..domain.plan import Plan
from ..operations.planner import build_plans, parse_duration


def options(result: TriageResult, evidence: dict[str, Any], incident_id: str,
            preferences: dict[str, Any]) -> tuple[list[Plan], list[str]]:
    """The diagnosis' repair options as the person's preferences order and filter them, with the notes saying how."""
    plans = build_plans(result, evidence, incident_id,
                        {k: preferences[k] for k in ("risk", "deadline", "tone") if preferences.get(k)})
    return filtered(plans, preferences)


def filtered(plans: list[Plan], preferences: dict[str, Any]) -> tuple[list[Plan], list[str]]:
    """(the options that fit the preferences, in order; one line per preference that shaped them)."""
    kept, notes = list(plans), []
    if str(preferences.get("risk") or "").lower() == "low":
        kept, out = _split(kept, lambda p: p.risk != "low")
        notes.append(f"Because you asked for low risk, I left out: {_names(out, lambda p: f'risk {p.risk}')}. Ask for "
                     "it by name if you want it anyway." if out else
                     "You asked for low risk: every change I offer here is low risk." if _writes(kept) else "")
    elif str(preferences.get("risk") or "").lower() == "high" and len(_writes(kept)) > 1:
        notes.append("You asked for speed: the quickest change is first.")
    deadline = parse_duration(preferences.get("deadline"))
    if deadline is not None:
        when = preferences.get("deadline_text") or f"in {deadline // 60} min"
        kept, out = _split(kept, lambda p: p.expected_duration_s > deadline)
        notes.append(f"Because of your deadline ({when}), I left out: "
                     f"{_names(out, lambda p: f'~{max(1, p.expected_duration_s // 60)} min')}. Ask for it by name "
                     "if you want it anyway." if out else
                     f"With your deadline ({when}), the quickest change is first." if len(_writes(kept)) > 1 else "")
    return kept, [n for n in notes if n]


def _writes(plans: list[Plan]) -> list[Plan]:
    return [p for p in plans if p.requires_write]


def _split(plans: list[Plan], leave_out: Any) -> tuple[list[Plan], list[Plan]]:
    """Only changes are left out: the manual option (the agent changes nothing) always stays."""
    out = [p for p in plans if p.requires_write and leave_out(p)]
    return [p for p in plans if p not in out], out


def _names(plans: list[Plan], why: Any) -> str:
    return "; ".join(f"{p.title} ({why(p)})" for p in plans)
