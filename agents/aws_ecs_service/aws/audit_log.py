"""The audit log of write attempts: every call the policy guard allowed or refused.

`AuditLog` is the interface (a PostgreSQL-backed store implements the same three methods);
`LocalAuditLog` keeps entries in memory and, given a path, in a JSON-lines file that is the
source of truth, so a retry in another process still sees that a step was applied.

A write is recorded twice: "pending" just before the AWS call, then its outcome under the same
`attempt`, which replaces it (the file here is append-only, so `list()` shows each attempt once,
as its latest line). An attempt still "pending" was cut off (a Lambda timeout) between the call
and its outcome.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..domain.plan import AuditEntry

APPLIED_RESULTS = ("ok",)
PENDING = "pending"


def latest_per_attempt(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Each attempt once, in the order attempts began, as its latest record."""
    latest: dict[str, AuditEntry] = {}
    for entry in entries:
        latest[entry.attempt] = entry
    return list(latest.values())


@runtime_checkable
class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None: ...

    def list(self, incident_id: str | None = None) -> list[AuditEntry]: ...

    def has_applied(self, incident_id: str, plan_hash: str, step_number: int) -> bool: ...


class LocalAuditLog:
    """In-memory audit log, optionally mirrored to an append-only JSON-lines file."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, entry: AuditEntry) -> None:
        with self._lock:
            if self.path is None:
                self._entries.append(entry)
                return
            # One write() of one line on an O_APPEND file: concurrent writers do not interleave lines.
            line = (entry.model_dump_json() + "\n").encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def list(self, incident_id: str | None = None) -> list[AuditEntry]:
        with self._lock:
            entries = self._read() if self.path else list(self._entries)
        return [e for e in latest_per_attempt(entries) if incident_id is None or e.incident_id == incident_id]

    def has_applied(self, incident_id: str, plan_hash: str, step_number: int) -> bool:
        # Per incident: the same plan (same hash) may be needed again when the service breaks again later.
        return any(e.plan_hash == plan_hash and e.step == step_number and e.allowed and e.result in APPLIED_RESULTS
                   for e in self.list(incident_id))

    def _read(self) -> list[AuditEntry]:
        if not self.path or not self.path.exists():
            return []
        return [AuditEntry.model_validate_json(line) for line in self.path.read_text().splitlines() if line.strip()]
