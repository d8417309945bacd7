"""The audit log in PostgreSQL (aws.audit_log.AuditLog): every write the policy guard allowed or refused."""
from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from ..aws.audit_log import APPLIED_RESULTS
from ..domain.plan import AuditEntry
from .incident_store import storable


class PostgresAuditLog:
    def __init__(self, conn: Any):
        self.conn = conn

    def append(self, entry: AuditEntry) -> None:
        """A new row per attempt; the outcome of an attempt replaces its "pending" row (one row per attempt)."""
        self.conn.execute(
            """with outcome as (update ecs_agent_audit set entry = %(entry)s
                                where incident_id = %(incident_id)s and entry->>'attempt' = %(attempt)s returning id)
               insert into ecs_agent_audit (incident_id, plan_hash, step, entry, at)
               select %(incident_id)s, %(plan_hash)s, %(step)s, %(entry)s, %(at)s where not exists (select from outcome)""",
            {"incident_id": entry.incident_id, "plan_hash": entry.plan_hash, "step": entry.step, "at": entry.at,
             "attempt": entry.attempt, "entry": Jsonb(storable(entry.model_dump(mode="json")))})

    def list(self, incident_id: str | None = None) -> list[AuditEntry]:
        rows = self.conn.execute(
            "select entry from ecs_agent_audit where %s::text is null or incident_id = %s::text order by id",
            (incident_id, incident_id)).fetchall()
        return [AuditEntry.model_validate(r["entry"]) for r in rows]

    def has_applied(self, incident_id: str, plan_hash: str, step_number: int) -> bool:
        rows = self.conn.execute(
            "select entry from ecs_agent_audit where incident_id = %s and plan_hash = %s and step = %s",
            (incident_id, plan_hash, step_number)).fetchall()
        return any(r["entry"].get("allowed") and r["entry"].get("result") in APPLIED_RESULTS for r in rows)
