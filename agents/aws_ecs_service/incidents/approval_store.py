"""Approvals in PostgreSQL: pending requests (with their task token), final decisions, and their delivery.

Implements domain.approval.ApprovalStore (record/get), so the policy guard reads the same rows. A
decision is one conditional UPDATE (status = 'pending' and not expired), so two clicks, a replayed
link or a chat approval racing an email approval decide at most once. The row is also the outbox of
the decision: until `delivered_at` is set, whoever claims it (the deciding request, a second click,
the scheduled deliverer) tells the waiting workflow (incidents/decisions.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from ..domain.approval import AlreadyDecided
from ..domain.plan import Approval
from ..domain.target import ServiceTarget

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
    delivery_attempts: int = 0
    delivery_error: str | None = None  # the last failed attempt, or why it could not be delivered at all
    target: ServiceTarget | None = None

    def approval(self) -> Approval | None:
        if self.status in ("pending", "superseded"):
            return None
        return Approval(plan_hash=self.plan_hash, incident_id=self.incident_id, decision=self.status,
                        decided_by=self.decided_by or "", channel=self.channel or "", target=self.target,
                        decided_at=(self.decided_at or dt.datetime.now(dt.UTC)).isoformat(), comment=self.comment)

    @property
    def undelivered(self) -> bool:
        """A decision the waiting workflow has not been told yet."""
        return self.status in ("approved", "rejected") and bool(self.task_token) and self.delivered_at is None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PostgresApprovalStore:
    def __init__(self, conn: Any):
        self.conn = conn

    # -- ApprovalStore protocol ---------------------------------------------------------------------
    def record(self, approval: Approval) -> Approval:
        """A decision made elsewhere (CLI, chat, workflow expiry); raises AlreadyDecided when there is one."""
        row = self.conn.execute(
            """insert into ecs_agent_approvals (incident_id, plan_hash, status, decided_by, decided_at, channel, comment,
                                                target)
               values (%s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (incident_id, plan_hash) do update
                  set status = excluded.status, decided_by = excluded.decided_by, decided_at = excluded.decided_at,
                      channel = excluded.channel, comment = excluded.comment,
                      target = coalesce(ecs_agent_approvals.target, excluded.target)
                  where ecs_agent_approvals.status = 'pending'
               returning *""",
            (approval.incident_id, approval.plan_hash, approval.decision, approval.decided_by,
             approval.decided_at, approval.channel, approval.comment, _target(approval.target))).fetchone()
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
                expires_at: dt.datetime, target: ServiceTarget | None = None) -> ApprovalRequest:
        """Ask (again, on a workflow retry: the new token and nonce replace the old, whose links stop working)."""
        row = self.conn.execute(
            """insert into ecs_agent_approvals (incident_id, plan_hash, status, nonce, task_token, requested_at, expires_at,
                                                target)
               values (%s, %s, 'pending', %s, %s, %s, %s, %s)
               on conflict (incident_id, plan_hash) do update
                  set nonce = excluded.nonce, task_token = excluded.task_token,
                      requested_at = excluded.requested_at, expires_at = excluded.expires_at,
                      target = coalesce(excluded.target, ecs_agent_approvals.target), status = 'pending'
                  where ecs_agent_approvals.status in ('pending', 'superseded')
               returning *""",
            (incident_id, plan_hash, nonce, task_token, _now(), expires_at, _target(target))).fetchone()
        if row is None:
            raise AlreadyDecided(self.find(incident_id, plan_hash).approval())
        return ApprovalRequest.model_validate(row)

    def decide(self, incident_id: str, plan_hash: str, decision: Decision, decided_by: str, channel: str,
               nonce: str | None = None, comment: str = "") -> ApprovalRequest:
        """Decide a pending request once. `nonce` (from a link) must match the current request. The decider holds
        the delivery claim from the same update: nobody else tells the workflow while it does."""
        row = self.conn.execute(
            """update ecs_agent_approvals
                  set status = %s, decided_by = %s, decided_at = now(), channel = %s, comment = %s,
                      delivery_claimed_at = now(), delivery_attempts = delivery_attempts + 1
                where incident_id = %s and plan_hash = %s and status = 'pending' and expires_at > now()
                  and (%s::text is null or nonce = %s::text)
            returning *""",
            (decision, decided_by, channel, comment, incident_id, plan_hash, nonce, nonce)).fetchone()
        if row:
            return ApprovalRequest.model_validate(row)
        found = self.find(incident_id, plan_hash)
        if found is None:
            raise NoPendingApproval(f"no approval was requested for plan {plan_hash} of incident {incident_id}")
        if found.status == "superseded":
            raise NoPendingApproval("this plan was superseded: a different failure made the incident triage again, "
                                    "and a new approval request replaces this one")
        if found.status != "pending":
            raise AlreadyDecided(found.approval())
        if nonce is not None and found.nonce != nonce:
            raise NoPendingApproval("this link belongs to an earlier approval request; use the newest email")
        raise ApprovalExpired(f"the approval request for plan {plan_hash} expired at {found.expires_at}")

    # -- delivery (the outbox) ------------------------------------------------------------------------
    def claim_delivery(self, incident_id: str, plan_hash: str, hold: dt.timedelta) -> ApprovalRequest | None:
        """The undelivered decision, claimed for `hold` (None: delivered, or someone else is delivering it now)."""
        row = self.conn.execute(
            """update ecs_agent_approvals set delivery_claimed_at = now(), delivery_attempts = delivery_attempts + 1
                where incident_id = %s and plan_hash = %s and status in ('approved', 'rejected')
                  and task_token is not null and delivered_at is null
                  and (delivery_claimed_at is null or delivery_claimed_at < now() - %s)
            returning *""", (incident_id, plan_hash, hold)).fetchone()
        return ApprovalRequest.model_validate(row) if row else None

    def delivered(self, incident_id: str, plan_hash: str, note: str | None = None) -> None:
        """Told (or, with a note, found that nobody waits any more): never delivered again."""
        self.conn.execute("update ecs_agent_approvals set delivered_at = now(), delivery_error = %s "
                          "where incident_id = %s and plan_hash = %s and delivered_at is null",
                          (note, incident_id, plan_hash))

    def delivery_failed(self, incident_id: str, plan_hash: str, error: str) -> None:
        """Not told this time: released at once, so the next click or the deliverer tries again."""
        self.conn.execute("update ecs_agent_approvals set delivery_claimed_at = null, delivery_error = %s "
                          "where incident_id = %s and plan_hash = %s and delivered_at is null",
                          (error[:500], incident_id, plan_hash))

    def undelivered(self, limit: int = 100) -> list[ApprovalRequest]:
        """Decisions the workflow has not been told, oldest first (the scheduled deliverer's work)."""
        rows = self.conn.execute(
            """select * from ecs_agent_approvals where status in ('approved', 'rejected') and task_token is not null
                 and delivered_at is null order by decided_at limit %s""", (limit,)).fetchall()
        return [ApprovalRequest.model_validate(r) for r in rows]

    def supersede_pending(self, incident_id: str) -> ApprovalRequest | None:
        """The incident's pending request, superseded (its links stop working; a new request replaces it)."""
        row = self.conn.execute(
            """update ecs_agent_approvals set status = 'superseded', decided_at = now(), channel = 'workflow',
                      decided_by = 'superseded: the incident is triaged again'
                where incident_id = %s and status = 'pending' returning *""", (incident_id,)).fetchone()
        return ApprovalRequest.model_validate(row) if row else None

    def superseded_count(self, incident_id: str) -> int:
        row = self.conn.execute("select count(*) as n from ecs_agent_approvals where incident_id = %s and "
                                "status = 'superseded'", (incident_id,)).fetchone()
        return int(row["n"])

    def expire(self, incident_id: str, plan_hash: str) -> ApprovalRequest | None:
        """The workflow stopped waiting: a pending request becomes 'expired' (a decided one stays as it is)."""
        row = self.conn.execute(
            """update ecs_agent_approvals set status = 'expired', decided_by = 'nobody (timed out)',
                      decided_at = now(), channel = 'workflow'
                where incident_id = %s and plan_hash = %s and status = 'pending' returning *""",
            (incident_id, plan_hash)).fetchone()
        return ApprovalRequest.model_validate(row) if row else self.find(incident_id, plan_hash)


def _target(target: ServiceTarget | None) -> Jsonb | None:
    return Jsonb(target.model_dump(mode="json")) if target is not None else None
