"""Decisions on repair plans, bound to (incident, plan hash). A decision is final."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from .plan import Approval


class AlreadyDecided(Exception):
    """A second decision on a plan that already has one."""

    def __init__(self, existing: Approval):
        self.existing = existing
        super().__init__(f"plan {existing.plan_hash} of incident {existing.incident_id} was already "
                         f"{existing.decision} by {existing.decided_by} at {existing.decided_at}; a decision is final")


@runtime_checkable
class ApprovalStore(Protocol):
    """Where decisions live (PostgreSQL in the serverless runtime, a local file for the CLI). The policy guard reads
    the decision for the exact plan hash from here before any write."""

    def record(self, approval: Approval) -> Approval:
        """Store the decision; raises AlreadyDecided when the plan has one already."""
        ...

    def get(self, incident_id: str, plan_hash: str) -> Approval | None: ...
