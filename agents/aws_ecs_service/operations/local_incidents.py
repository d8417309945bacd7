"""The local incident store (domain.incident.IncidentStore) of the command line, the chat and the sandbox.

In memory, and given a path, one JSON file rewritten atomically under an exclusive lock (two `ecs-agent
chat` processes on one machine see one open incident per service). PostgreSQL is the store of the
serverless runtime (incidents/incident_store.py); both follow the same JoinPolicy.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..domain.incident import Incident, IncidentStore, JoinPolicy, Trigger, seen
from ..domain.target import ServiceTarget

MAX_EVENTS = 200  # signals kept per incident (a storm is counted, not stored in full)


class IncidentNotFound(LookupError):
    pass


class LocalIncidentStore(IncidentStore):
    def __init__(self, path: str | os.PathLike | None = None, policy: JoinPolicy | None = None):
        self.path = Path(path) if path else None
        self.policy = policy or JoinPolicy()
        self._doc: dict[str, Any] = {"incidents": {}, "evidence": {}, "activity": {}}
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def open_or_join(self, incident: Incident, trigger: Trigger) -> tuple[Incident, bool]:
        now = dt.datetime.now(dt.UTC)
        with self._locked(write=True) as doc:
            same = [Incident.model_validate(d) for d in doc["incidents"].values()
                    if ServiceTarget.model_validate(d["target"]).key == incident.target.key]
            same.sort(key=lambda i: i.opened_at)
            abandoned = False
            for existing in (i for i in same if not i.settled):
                last = dt.datetime.fromisoformat(doc["activity"].get(existing.incident_id, existing.opened_at))
                if not self.policy.abandoned(existing, last, now):
                    return self._join(doc, existing, trigger, now), False
                existing.status, existing.settled_at = "failed", now.isoformat()
                existing.outcome = f"abandoned: no activity since {last.isoformat()}"
                self._put(doc, existing, now)
                abandoned = True  # its workflow died: a repeat opens a new incident
            settled = [i for i in same if i.settled]
            if settled and not abandoned and self.policy.takes_repeat(settled[-1], trigger):
                return self._join(doc, settled[-1], trigger, now), False
            if incident.incident_id in doc["incidents"]:  # the same signal again: the incident it opened
                return Incident.model_validate(doc["incidents"][incident.incident_id]), False
            self._put(doc, incident, now)
            return incident, True

    def open_for(self, target: ServiceTarget) -> Incident | None:
        with self._locked() as doc:
            found = [Incident.model_validate(d) for d in doc["incidents"].values() if not d.get("settled_at")]
        return next((i for i in found if i.target.key == target.key), None)

    def load(self, incident_id: str) -> Incident:
        found = self.find(incident_id)
        if found is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return found

    def find(self, incident_id: str) -> Incident | None:
        with self._locked() as doc:
            raw = doc["incidents"].get(incident_id)
        return Incident.model_validate(raw) if raw else None

    def save(self, incident: Incident) -> None:
        with self._locked(write=True) as doc:
            stored = doc["incidents"].get(incident.incident_id)
            if stored:  # signals joined meanwhile stay: the saver's copy may predate them
                incident = incident.model_copy(update={"events": [Trigger.model_validate(e) for e in stored["events"]]})
            self._put(doc, incident, dt.datetime.now(dt.UTC))

    def save_evidence(self, incident_id: str, evidence: dict[str, Any]) -> None:
        with self._locked(write=True) as doc:
            doc["evidence"][incident_id] = json.loads(json.dumps(evidence, default=str))

    def load_evidence(self, incident_id: str) -> dict[str, Any]:
        with self._locked() as doc:
            return doc["evidence"].get(incident_id) or {}

    # ---- inside the lock -------------------------------------------------------------------------------
    def _join(self, doc: dict[str, Any], incident: Incident, trigger: Trigger, now: dt.datetime) -> Incident:
        if not seen(incident, trigger):
            incident.events = [*incident.events, trigger][-MAX_EVENTS:]
            self._put(doc, incident, now)
        return incident

    @staticmethod
    def _put(doc: dict[str, Any], incident: Incident, now: dt.datetime) -> None:
        doc["incidents"][incident.incident_id] = incident.model_dump(mode="json")
        doc["activity"][incident.incident_id] = now.isoformat()

    @contextlib.contextmanager
    def _locked(self, write: bool = False) -> Iterator[dict[str, Any]]:
        with self._lock:
            if self.path is None:
                yield self._doc
                return
            with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                doc = json.loads(self.path.read_text()) if self.path.exists() else {"incidents": {}, "evidence": {},
                                                                                      "activity": {}}
                yield doc
                if write:
                    tmp = self.path.with_suffix(self.path.suffix + ".tmp")
                    tmp.write_text(json.dumps(doc))
                    os.replace(tmp, self.path)
