"""Incidents in PostgreSQL: the Incident document each workflow step reads and writes, plus its evidence.

The Step Functions state carries only ids and small facts; everything an incident accumulates
(triage, plans, approvals, audit, verification, timeline) is here, so chat and workflow see one record.
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb

from ..operations.plan_model import Incident

# Evidence may hold datetimes from boto3; JSON text is what the S3 copy holds too.
_dumps = partial(json.dumps, default=str)


def storable(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL; untrusted text (event reasons, log lines) can. It becomes U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


class IncidentNotFound(LookupError):
    pass


class PostgresIncidentStore:
    def __init__(self, conn: Any):
        self.conn = conn

    def open(self, incident: Incident, execution_arn: str | None = None) -> Incident:
        """Create the record once; a retried step gets the stored one back."""
        t = incident.target
        self.conn.execute(
            """insert into ecs_agent_incidents (incident_id, region, cluster, service, status, document, execution_arn)
               values (%s, %s, %s, %s, %s, %s, %s) on conflict (incident_id) do nothing""",
            (incident.incident_id, t.get("region", ""), t["cluster"], t["service"], incident.status,
             Jsonb(storable(incident.model_dump(mode="json"))), execution_arn))
        return self.load(incident.incident_id)

    def load(self, incident_id: str) -> Incident:
        row = self.conn.execute("select document from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return Incident.model_validate(row["document"])

    def find(self, incident_id: str) -> Incident | None:
        try:
            return self.load(incident_id)
        except IncidentNotFound:
            return None

    def save(self, incident: Incident) -> None:
        self.conn.execute(
            "update ecs_agent_incidents set document = %s, status = %s, updated_at = now() where incident_id = %s",
            (Jsonb(storable(incident.model_dump(mode="json"))), incident.status, incident.incident_id))

    def save_evidence(self, incident_id: str, evidence: dict[str, Any]) -> None:
        self.conn.execute("update ecs_agent_incidents set evidence = %s where incident_id = %s",
                          (Jsonb(storable(evidence), dumps=_dumps), incident_id))

    def load_evidence(self, incident_id: str) -> dict[str, Any]:
        row = self.conn.execute("select evidence from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()
        return (row or {}).get("evidence") or {}

    def execution_arn(self, incident_id: str) -> str | None:
        row = self.conn.execute("select execution_arn from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()
        return (row or {}).get("execution_arn")
