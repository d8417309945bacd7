"""One remediation at a time per ECS service: a lease row in PostgreSQL, held while a plan is applied.

One service has at most one open incident, but two executions can apply its plans at once (the
incident's own workflow and a plan approved in chat, or a retry racing a slow attempt). Their plans
were made against the same "before", so applying both at once would race. A second remediation waits for the first, then the policy guard's compare-and-set
sees what the first changed; if the wait runs out, it is refused and audited.

A row rather than an advisory lock: it survives a dropped connection or a database restart in
the middle of a remediation, names its holder in the refusal, needs no session pinning behind RDS
Proxy, and the rows that stay are the record of who held which service when. A holder that died
keeps the lease until it expires (after the remediate function's timeout); its own retry (the same
holder, i.e. the same workflow execution) takes it back at once.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from ..domain.plan import Plan
from ..operations.remediator import ServiceBusy


class Hold(BaseModel):
    id: int
    service_key: str
    incident_id: str
    holder: str
    acquired_at: dt.datetime
    expires_at: dt.datetime
    released_at: dt.datetime | None = None


class PostgresRemediationLock:
    """RemediationLock (operations.remediator) over the ecs_agent_remediation_locks table."""

    def __init__(self, conn: Any, wait_s: float, ttl_s: float, poll_s: float = 0.25):
        self.conn, self.wait_s, self.ttl_s, self.poll_s = conn, wait_s, ttl_s, poll_s

    @contextmanager
    def hold(self, plan: Plan, holder: str) -> Iterator[float]:
        key = plan.target.key  # the service's exact identity: twins in other regions or accounts are other keys
        started = time.monotonic()
        while (held := self._take(key, plan.incident_id, holder)) is None:
            if time.monotonic() - started >= self.wait_s:
                raise ServiceBusy(self._busy_reason(key))
            time.sleep(self.poll_s)
        try:
            yield time.monotonic() - started
        finally:
            self.conn.execute("update ecs_agent_remediation_locks set released_at = now() "
                              "where id = %s and released_at is null", (held.id,))

    def current(self, key: str) -> Hold | None:
        row = self.conn.execute("select * from ecs_agent_remediation_locks where service_key = %s "
                                "and released_at is null", (key,)).fetchone()
        return Hold.model_validate(row) if row else None

    def _take(self, key: str, incident_id: str, holder: str) -> Hold | None:
        ttl = dt.timedelta(seconds=self.ttl_s)
        # A lease whose holder died ends at its expiry.
        self.conn.execute("update ecs_agent_remediation_locks set released_at = expires_at "
                          "where service_key = %s and released_at is null and expires_at <= now()", (key,))
        row = self.conn.execute(
            "update ecs_agent_remediation_locks set expires_at = now() + %s "
            "where service_key = %s and released_at is null and holder = %s returning *",
            (ttl, key, holder)).fetchone()
        if row is None:  # the partial unique index lets one unreleased row per service in
            row = self.conn.execute(
                "insert into ecs_agent_remediation_locks (service_key, incident_id, holder, expires_at) "
                "values (%s, %s, %s, now() + %s) on conflict (service_key) where released_at is null do nothing "
                "returning *", (key, incident_id, holder, ttl)).fetchone()
        return Hold.model_validate(row) if row else None

    def _busy_reason(self, key: str) -> str:
        other = self.current(key)
        who = (f"incident {other.incident_id} ({other.holder}) has held it since "
               f"{other.acquired_at.astimezone(dt.UTC):%H:%M:%S} UTC") if other else "another incident holds it"
        return (f"another remediation of {key} is in progress: {who}; waited {self.wait_s:.0f} s, nothing was "
                "changed: re-plan once it has finished")


class PooledRemediationLock:
    """The same lease over a connection pool (the `ecs-agent chat` one, shared with its checkpointer): a connection
    per hold, so a database restart between two remediations costs nothing."""

    def __init__(self, pool: Any, wait_s: float, ttl_s: float):
        self.pool, self.wait_s, self.ttl_s = pool, wait_s, ttl_s

    @contextmanager
    def hold(self, plan: Plan, holder: str) -> Iterator[float]:
        with self.pool.connection() as conn, PostgresRemediationLock(conn, self.wait_s, self.ttl_s).hold(
                plan, holder) as waited_s:
            yield waited_s
