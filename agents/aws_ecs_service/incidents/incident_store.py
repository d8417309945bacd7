"""Incidents in PostgreSQL (domain.incident.IncidentStore): the record every workflow step, the chat and the
approval page read, plus its evidence and the signals that joined it.

At most one open incident per service: a partial unique index on `service_key` (the target's exact
identity) over the rows not yet settled. Opening is an insert that loses to an open incident of the
same service; the signal then joins that one. Joined signals go to their own append-only table (a
storm of events never rewrites the incident document a workflow step is working on).
"""
from __future__ import annotations

import datetime as dt
import json
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb

from ..domain.incident import Incident, JoinPolicy, Trigger
from ..domain.target import ServiceTarget

# Evidence may hold datetimes from boto3; JSON text is what the S3 copy holds too.
_dumps = partial(json.dumps, default=str)
EVENTS_SHOWN = 200  # joined signals loaded with an incident (the newest; the table keeps them all)


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
    def __init__(self, conn: Any, policy: JoinPolicy | None = None):
        self.conn = conn
        self.policy = policy or JoinPolicy()

    # ---- open or join -----------------------------------------------------------------------------
    def open_or_join(self, incident: Incident, trigger: Trigger) -> tuple[Incident, bool]:
        """(incident, True) when it opened now; else (the incident the trigger joined, False)."""
        target = incident.target
        for _ in range(3):  # an open incident can settle (or open) between our reads and our insert: look again
            abandoned = self._abandon_stale(target)  # its workflow died: a repeat opens a new incident
            joined = self._join_open(target, trigger) or (None if abandoned else self._join_repeat(target, trigger))
            if joined is not None:
                return joined, False
            row = self.conn.execute(
                """insert into ecs_agent_incidents (incident_id, region, cluster, service, status, document, service_key,
                                                    opened_by_event)
                   values (%s, %s, %s, %s, %s, %s, %s, %s) on conflict do nothing returning incident_id""",
                (incident.incident_id, target.region, target.cluster, target.service, incident.status,
                 Jsonb(storable(incident.model_dump(mode="json"))), target.key, trigger.event_id)).fetchone()
            if row:
                return incident, True
            same = self.find(incident.incident_id)  # the conflict was on the id: this trigger opened it before
            if same is not None:
                return same, False
        raise RuntimeError(f"could not open or join an incident for {target.label}")

    def _join_open(self, target: ServiceTarget, trigger: Trigger) -> Incident | None:
        row = self.conn.execute("select incident_id from ecs_agent_incidents where service_key = %s and "
                                "settled_at is null", (target.key,)).fetchone()
        if row is None:
            return None
        self.record_event(row["incident_id"], trigger)
        return self.find(row["incident_id"])

    def _join_repeat(self, target: ServiceTarget, trigger: Trigger) -> Incident | None:
        """A repeat of a recently settled, unresolved incident's failure joins it (JoinPolicy)."""
        row = self.conn.execute("select incident_id from ecs_agent_incidents where service_key = %s and "
                                "settled_at is not null order by settled_at desc limit 1", (target.key,)).fetchone()
        last = self.find(row["incident_id"]) if row else None
        if last is None or not self.policy.takes_repeat(last, trigger):
            return None
        self.record_event(last.incident_id, trigger)
        return self.find(last.incident_id)

    def _abandon_stale(self, target: ServiceTarget) -> bool:
        row = self.conn.execute("select incident_id, updated_at from ecs_agent_incidents where service_key = %s and "
                                "settled_at is null", (target.key,)).fetchone()
        if row is None:
            return False
        incident = self.find(row["incident_id"])
        now = dt.datetime.now(dt.UTC)
        if incident is None or not self.policy.abandoned(incident, row["updated_at"], now):
            return False
        incident.status, incident.settled_at = "failed", now.isoformat()
        incident.outcome = f"abandoned: no activity since {row['updated_at'].isoformat()}"
        self.save(incident)
        return True

    def record_event(self, incident_id: str, trigger: Trigger) -> bool:
        """Join a signal to an incident; False when it was there already (a redelivered event)."""
        row = self.conn.execute(
            """insert into ecs_agent_incident_events (incident_id, event_id, signature, trigger, at)
               select %s, %s, %s, %s, %s
                where not exists (select from ecs_agent_incidents where incident_id = %s and opened_by_event = %s)
               on conflict (incident_id, event_id) do nothing returning id""",
            (incident_id, trigger.event_id, trigger.signature, Jsonb(storable(trigger.model_dump(mode="json"))),
             trigger.at, incident_id, trigger.event_id)).fetchone()
        return row is not None

    # ---- read and write ---------------------------------------------------------------------------
    def open_for(self, target: ServiceTarget) -> Incident | None:
        row = self.conn.execute("select incident_id from ecs_agent_incidents where service_key = %s and "
                                "settled_at is null", (target.key,)).fetchone()
        return self.find(row["incident_id"]) if row else None

    def load(self, incident_id: str) -> Incident:
        row = self.conn.execute("select document from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        incident = Incident.model_validate(row["document"])
        events = self.conn.execute(
            "select trigger from (select trigger, id from ecs_agent_incident_events where incident_id = %s "
            "order by id desc limit %s) newest order by id", (incident_id, EVENTS_SHOWN)).fetchall()
        incident.events = [Trigger.model_validate(e["trigger"]) for e in events]
        return incident

    def find(self, incident_id: str) -> Incident | None:
        try:
            return self.load(incident_id)
        except IncidentNotFound:
            return None

    def save(self, incident: Incident) -> None:
        """The document (joined signals live in their own table), its status, and settled_at once it settles:
        from then on the service may open a new incident, and no late writer can reopen this one."""
        document = incident.model_dump(mode="json", exclude={"events"})
        self.conn.execute(
            """update ecs_agent_incidents set document = %s, status = %s, updated_at = now(),
                      settled_at = case when %s then coalesce(settled_at, now()) else settled_at end
                where incident_id = %s""",
            (Jsonb(storable(document)), incident.status, incident.settled, incident.incident_id))

    def set_execution(self, incident_id: str, execution_arn: str | None) -> None:
        if execution_arn:
            self.conn.execute("update ecs_agent_incidents set execution_arn = coalesce(execution_arn, %s) "
                              "where incident_id = %s", (execution_arn, incident_id))

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
