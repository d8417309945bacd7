"""Approvals in PostgreSQL: pending requests (with their task token) and final decisions.

Implements operations.approvals.ApprovalStore (record/get), so the policy guard reads the same
rows. A decision is one conditional UPDATE (status = 'pending' and not expired), so two clicks,
a replayed link or a chat approval racing an email approval decide at most once.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from ..operations.approvals import AlreadyDecided
from ..operations.plan_model import Approval

Decision = Literal["approved", "rejected"]


class ApprovalExpired(Exception):
    """The request's time is over (or the workflow stopped waiting)."""


class NoPendingApproval(LookupError):
    """Nothing was asked for this incident/plan (or the link belongs to a superseded request)."""


class ApprovalRequest(BaseModel):
    incident_id: str
    plan_hash: str
    status: str
    nonce: str | None = None
    task_token: str | None = None
    requested_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    channel: str | None = None
    comment: str = ""
    delivered_at: dt.datetime | None = None  # when the workflow was told the decision (or found not waiting)

    def approval(self) -> Approval | None:
        if self.status == "pending":
            return None
        return Approval(plan_hash=self.plan_hash, incident_id=self.incident_id, decision=self.status,
                        decided_by=self.decided_by or "", channel=self.channel or "",
                        decided_at=(self.decided_at or dt.datetime.now(dt.UTC)).isoformat(), comment=self.comment)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PostgresApprovalStore:
    def __init__(self, conn: Any):
        self.conn = conn

    # -- ApprovalStore protocol ---------------------------------------------------------------------
    def record(self, approval: Approval) -> Approval:
        """A decision made elsewhere (CLI, chat, workflow expiry); raises AlreadyDecided when there is one."""
        row = self.conn.execute(
            """insert into ecs_agent_approvals (incident_id, plan_hash, status, decided_by, decided_at, channel, comment)
               values (%s, %s, %s, %s, %s, %s, %s)
               on conflict (incident_id, plan_hash) do update
                  set status = excluded.status, decided_by = excluded.decided_by, decided_at = excluded.decided_at,
                      channel = excluded.channel, comment = excluded.comment
                  where ecs_agent_approvals.status = 'pending'
               returning *""",
            (approval.incident_id, approval.plan_hash, approval.decision, approval.decided_by,
             approval.decided_at, approval.channel, approval.comment)).fetchone()
        if row is None:
            raise AlreadyDecided(self.find(approval.incident_id, approval.plan_hash).approval())
        return approval

    def get(self, incident_id: str, plan_hash: str) -> Approval | None:
        found = self.find(incident_id, plan_hash)
        return found.approval() if found else None

    # -- requests -----------------------------------------------------------------------------------
    def find(self, incident_id: str, plan_hash: str) -> ApprovalRequest | None:
        row = self.conn.execute("select * from ecs_agent_approvals where incident_id = %s and plan_hash = %s",
                                (incident_id, plan_hash)).fetchone()
        return ApprovalRequest.model_validate(row) if row else None

    def pending_for(self, incident_id: str) -> ApprovalRequest | None:
        row = self.conn.execute(
            "select * from ecs_agent_approvals where incident_id = %s and status = 'pending' "
            "order by requested_at desc nulls last limit 1", (incident_id,)).fetchone()
        return ApprovalRequest.model_validate(row) if row else None

    def latest_for(self, incident_id: str) -> ApprovalRequest | None:
        row = self.conn.execute(
            "select * from ecs_agent_approvals where incident_id = %s "
            "order by coalesce(decided_at, requested_at) desc nulls last limit 1", (incident_id,)).fetchone()
        return ApprovalRequest.model_validate(row) if row else None

    def request(self, incident_id: str, plan_hash: str, task_token: str, nonce: str,
                expires_at: dt.datetime) -> ApprovalRequest:
        """Ask (again, on a workflow retry: the new token and nonce replace the old, whose links stop working)."""
        row = self.conn.execute(
            """insert into ecs_agent_approvals (incident_id, plan_hash, status, nonce, task_token, requested_at, expires_at)
               values (%s, %s, 'pending', %s, %s, %s, %s)
               on conflict (incident_id, plan_hash) do update
                  set nonce = excluded.nonce, task_token = excluded.task_token,
                      requested_at = excluded.requested_at, expires_at = excluded.expires_at
                  where ecs_agent_approvals.status = 'pending'
               returning *""",
            (incident_id, plan_hash, nonce, task_token, _now(), expires_at)).fetchone()
        if row is None:
            raise AlreadyDecided(self.find(incident_id, plan_hash).approval())
        return ApprovalRequest.model_validate(row)

    def decide(self, incident_id: str, plan_hash: str, decision: Decision, decided_by: str, channel: str,
               nonce: str | None = None, comment: str = "") -> ApprovalRequest:
        """Decide a pending request once. `nonce` (from a link) must match the current request."""
        row = self.conn.execute(
            """update ecs_agent_approvals
                  set status = %s, decided_by = %s, decided_at = now(), channel = %s, comment = %s
                where incident_id = %s and plan_hash = %s and status = 'pending' and expires_at > now()
                  and (%s::text is null or nonce = %s::text)
            returning *""",
            (decision, decided_by, channel, comment, incident_id, plan_hash, nonce, nonce)).fetchone()
        if row:
            return ApprovalRequest.model_validate(row)
        found = self.find(incident_id, plan_hash)
        if found is None:
            raise NoPendingApproval(f"no approval was requested for plan {plan_hash} of incident {incident_id}")
        if found.status != "pending":
            raise AlreadyDecided(found.approval())
        if nonce is not None and found.nonce != nonce:
            raise NoPendingApproval("this link belongs to an earlier approval request; use the newest email")
        raise ApprovalExpired(f"the approval request for plan {plan_hash} expired at {found.expires_at}")

    def mark_delivered(self, incident_id: str, plan_hash: str) -> None:
        self.conn.execute("update ecs_agent_approvals set delivered_at = now() where incident_id = %s "
                          "and plan_hash = %s and delivered_at is null", (incident_id, plan_hash))

    def expire(self, incident_id: str, plan_hash: str) -> ApprovalRequest | None:
        """The workflow stopped waiting: a pending request becomes 'expired' (a decided one stays as it is)."""
        row = self.conn.execute(
            """update ecs_agent_approvals set status = 'expired', decided_by = 'nobody (timed out)',
                      decided_at = now(), channel = 'workflow'
                where incident_id = %s and plan_hash = %s and status = 'pending' returning *""",
            (incident_id, plan_hash)).fetchone()
        return ApprovalRequest.model_validate(row) if row else self.find(incident_id, plan_hash)
