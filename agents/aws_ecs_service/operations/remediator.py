"""Apply an approved plan: its steps one at a time through the policy guard, with progress lines.

The remediator holds no AWS client: every write and every refusal happens in the guard, which
also audits it. The first step that is refused or fails stops the plan. Given a lock, the whole
plan is applied while holding its service, so two incidents of one service never change it at once.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from ..aws.policy_guard import PolicyGuard
from ..domain.plan import OK_RESULTS, AuditEntry, Plan


class ServiceBusy(Exception):
    """Another remediation holds the plan's service; the message says which and since when."""


class RemediationLock(Protocol):
    def hold(self, plan: Plan, holder: str) -> AbstractContextManager[float]:
        """Hold the plan's service (the context value: seconds waited for it), or raise ServiceBusy."""
        ...


def remediate(plan: Plan, guard: PolicyGuard, actor: str, progress: Callable[[str], None] | None = None,
              lock: RemediationLock | None = None) -> list[AuditEntry]:
    """The audit entries of the steps attempted, in order; the last one says why it stopped, if it did."""
    say = progress or (lambda _line: None)
    if not plan.steps:
        say("the plan has no automated steps: nothing to apply")
        return []
    if lock is None:
        return _apply(plan, guard, actor, say)
    try:
        with lock.hold(plan, actor) as waited_s:
            if waited_s >= 1:
                say(f"waited {waited_s:.0f} s for another remediation of the service to finish")
            return _apply(plan, guard, actor, say)
    except ServiceBusy as busy:
        say(f"refused: {busy}")
        return [guard.refuse(plan, plan.steps[0], actor, str(busy))]


def _apply(plan: Plan, guard: PolicyGuard, actor: str, say: Callable[[str], None]) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    total = len(plan.steps)
    for step in plan.steps:
        say(f"step {step.number}/{total}: {step.api_call}")
        entry = guard.execute(plan, step, actor)
        entries.append(entry)
        if not entry.allowed:
            say(f"step {step.number}/{total} refused: {entry.reason}")
            break
        if entry.result not in OK_RESULTS:
            say(f"step {step.number}/{total} failed: {entry.result}")
            break
        say(f"step {step.number}/{total} {entry.result}: {entry.reason}")
    return entries
