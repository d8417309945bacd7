"""The agent's deterministic replies in the conversation: findings, repair options, outcomes, next step.

Used as they are offline, and around the model's explanation when there is one, so the
findings and the options always reach the user even when the model does not answer.
"""
from __future__ import annotations

from typing import Any

from ..domain.plan import Plan
from ..operations.triage import describe_findings

_OUTCOMES = {
    "rejected": "Rejected: nothing was changed in AWS.",
    "no-action": "Nothing to apply: the chosen option makes no AWS change.",
    "open": "No change was made.",
}


def _plan_line(number: int, plan: Plan) -> str:
    minutes = f", ~{max(1, plan.expected_duration_s // 60)} min" if plan.expected_duration_s else ""
    kind = "changes AWS" if plan.requires_write else "no AWS change"
    return f"  {number}. {plan.title} (risk {plan.risk}{minutes}, {kind}): {plan.summary}"


def options_text(plans: list[Plan], allow_write: bool, deadline_text: str | None) -> list[str]:
    if not plans:
        return []
    lines = ["", "Options" + (f" (with your deadline: {deadline_text})" if deadline_text else "") + ":"]
    lines += [_plan_line(i + 1, p) for i, p in enumerate(plans)]
    first = plans[0]
    for step in first.manual_steps[:2]:
        lines.append(f"  A person must: {step}")
    if any(p.requires_write for p in plans):
        lines.append('Say "fix it" (or "apply option 2") and I will ask for your approval before changing anything.')
        if not allow_write:
            lines.append("Note: writes are disabled here (allowWrite is off), so an approved plan will be refused "
                         "by the policy guard and nothing will change.")
    return lines


def outcome_text(state: dict[str, Any]) -> list[str]:
    outcome = state.get("outcome")
    audit = state.get("audit") or []
    lines: list[str] = []
    for entry in audit:
        result = entry.get("result") or ""
        why = "" if entry.get("allowed") and result == "ok" else f" ({entry.get('reason')})"
        lines.append(f"  step {entry.get('step')}: {entry.get('operation')} {result}{why}")
    verification = state.get("verification")
    if verification:
        passed = sum(1 for c in verification.get("checks") or [] if c.get("ok"))
        total = len(verification.get("checks") or [])
        if verification.get("interrupted"):
            lines.append(f"Verification interrupted (you stopped the wait): {passed}/{total} checks passed when it "
                         "stopped.")
        else:
            lines.append(f"Verification {'passed' if verification.get('ok') else 'failed'}: {passed}/{total} checks.")
        for check in verification.get("checks") or []:
            lines.append(f"  {'✓' if check.get('ok') else '✗'} {check.get('name')}: {check.get('detail')}")
        if not verification.get("ok") and verification.get("next_step"):
            lines.append(f"Next: {verification['next_step']}")
    head = {"resolved": "Resolved: the approved change was applied and verified.",
            "failed": "The change did not complete or did not fix it:"}.get(outcome or "", _OUTCOMES.get(outcome or ""))
    return ([head] if head else []) + lines


def compose_reply(state: dict[str, Any], allow_write: bool) -> str:
    findings = state.get("findings")
    if not findings:
        return "Tell me which ECS service to look at (for example prod/api) and what you see."
    prefs = state.get("preferences") or {}
    context = state.get("context") or {}
    if state.get("outcome"):
        return "\n".join(outcome_text(state))
    parts = [describe_findings(findings, prefs.get("tone") or "technical", context.get("likely_categories"))]
    if state.get("explanation"):
        parts.append("")
        parts.append(state["explanation"])
    if state.get("model_note"):
        parts.append(state["model_note"])
    plans = [Plan.model_validate(p) for p in state.get("plans") or []]
    parts += options_text(plans, allow_write, prefs.get("deadline_text"))
    parts += state.get("preference_notes") or []  # what the person's risk tolerance or deadline left out
    return "\n".join(parts)


def handoff_text(handoff: dict[str, Any]) -> str:
    """The reply when an approved plan goes to the incident workflow (chat_models.HandOff as a dict)."""
    lines = [f"Approved by {handoff['decided_by']}. The incident workflow applies plan {handoff['plan_hash'][:12]} "
             f"as incident {handoff['incident_id']} (through the remediation lock and the policy guard), verifies "
             f"it and writes the reports; this conversation changes nothing itself.",
             f"Follow it: GET {handoff['incident_url']}"]
    if handoff.get("blocked"):
        lines.append(f"Note: the workflow will refuse to apply it: {handoff['blocked']}.")
    return "\n".join(lines)
