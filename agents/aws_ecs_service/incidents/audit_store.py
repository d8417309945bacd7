"""The audit log in PostgreSQL (aws.audit_log.AuditLog): every write the policy guard allowed or refused."""
from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from ..aws.audit_log import APPLIED_RESULTS
from ..operations.plan_model import AuditEntry


class PostgresAuditLog:
    def __init__(self, conn: Any):
        self.conn = conn

    def append(self, entry: AuditEntry) -> None:
        self.conn.execute(
            "insert into ecs_agent_audit (incident_id, plan_hash, step, entry, at) values (%s, %s, %s, %s, %s)",
            (entry.incident_id, entry.plan_hash, entry.step, Jsonb(entry.model_dump(mode="json")), entry.at))

    def list(self, incident_id: str | None = None) -> list[AuditEntry]:
        rows = self.conn.execute(
            "select entry from ecs_agent_audit where %s::text is null or incident_id = %s::text order by id",
            (incident_id, incident_id)).fetchall()
        return [AuditEntry.model_validate(r["entry"]) for r in rows]

    def has_applied(self, plan_hash: str, step_number: int) -> bool:
        rows = self.conn.execute(
            "select entry from ecs_agent_audit where plan_hash = %s and step = %s", (plan_hash, step_number)).fetchall()
        return any(r["entry"].get("allowed") and r["entry"].get("result") in APPLIED_RESULTS for r in rows)
