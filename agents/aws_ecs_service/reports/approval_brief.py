"""What a person must know before approving a plan, in one place for every prompt: chat, the LangGraph
interrupt, the approval email and its page.

The diagnosis with its confidence, the exact service (account, region, cluster, service), the exact
calls, what the change reverts or removes, the risk, how to undo it, and what a person must still do.
"""
from __future__ import annotations

from typing import Any

from ..domain.plan import Plan


def approval_brief(plan: Plan, triage: dict[str, Any] | None) -> dict[str, Any]:
    """The facts, as data (the interrupt payload and the API carry it as is)."""
    rc = (triage or {}).get("root_cause") or {}
    t = plan.target
    return {
        "diagnosis": f"{rc.get('category', plan.root_cause)} (confidence {float(rc.get('confidence') or 0):.2f}): "
                     f"{rc.get('summary') or plan.rationale}",
        "target": {"account": t.account, "region": t.region, "cluster": t.cluster, "service": t.service,
                   "service_arn": t.service_arn},
        "calls": [s.api_call for s in plan.steps],
        "reverts": list(plan.reverts),
        "risk": plan.risk,
        "undo": [s.undo for s in plan.steps if s.undo],
        "manual_steps": list(plan.manual_steps),
        "plan_hash": plan.plan_hash,
        "title": plan.title,
    }


def brief_lines(plan: Plan, triage: dict[str, Any] | None) -> list[str]:
    """The same facts as text lines (chat, email)."""
    b = approval_brief(plan, triage)
    t = b["target"]
    lines = [
        f"Diagnosis: {b['diagnosis']}",
        f"Service: {t['cluster']}/{t['service']} in account {t['account']}, region {t['region']}",
        f"Plan: {b['title']} (risk {b['risk']}, hash {b['plan_hash']})",
        "Exact change:", *[f"  {i}. {call}" for i, call in enumerate(b["calls"], 1)],
    ]
    if b["reverts"]:
        lines += ["It reverts or removes:", *[f"  - {r}" for r in b["reverts"][:6]]]
    elif b["calls"]:
        lines.append("It reverts or removes nothing.")
    if b["undo"]:
        lines += ["To undo:", *[f"  - {u}" for u in b["undo"]]]
    if b["manual_steps"]:
        lines += ["A person must still:", *[f"  - {m}" for m in b["manual_steps"][:4]]]
    return lines
