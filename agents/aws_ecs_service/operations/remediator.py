"""Apply an approved plan: its steps one at a time through the policy guard, with progress lines.

The remediator holds no AWS client: every write and every refusal happens in the guard, which
also audits it. The first step that is refused or fails stops the plan.
"""
from __future__ import annotations

from collections.abc import Callable

from ..aws.policy_guard import SKIPPED, PolicyGuard
from .plan_model import AuditEntry, Plan


def remediate(plan: Plan, guard: PolicyGuard, actor: str,
              progress: Callable[[str], None] | None = None) -> list[AuditEntry]:
    """The audit entries of the steps attempted, in order; the last one says why it stopped, if it did."""
    say = progress or (lambda _line: None)
    if not plan.steps:
        say("the plan has no automated steps: nothing to apply")
        return []
    entries: list[AuditEntry] = []
    total = len(plan.steps)
    for step in plan.steps:
        say(f"step {step.number}/{total}: {step.api_call}")
        entry = guard.execute(plan, step, actor)
        entries.append(entry)
        if not entry.allowed:
            say(f"step {step.number}/{total} refused: {entry.reason}")
            break
        if entry.result not in ("ok", SKIPPED):
            say(f"step {step.number}/{total} failed: {entry.result}")
            break
        say(f"step {step.number}/{total} {entry.result}: {entry.reason}")
    return entries
