"""The local approval store (domain.approval.ApprovalStore) of the command line and the sandbox.

`LocalApprovalStore` keeps decisions in memory and, given a path, in one JSON file (rewritten
atomically under an exclusive lock, so two processes cannot both decide the same plan).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..domain.approval import AlreadyDecided
from ..domain.plan import Approval


def _key(incident_id: str, plan_hash: str) -> str:
    return f"{incident_id}/{plan_hash}"


class LocalApprovalStore:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None
        self._decisions: dict[str, Approval] = {}
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, approval: Approval) -> Approval:
        """Store the decision; raises AlreadyDecided when the plan has one already."""
        with self._locked() as decisions:
            key = _key(approval.incident_id, approval.plan_hash)
            if key in decisions:
                raise AlreadyDecided(decisions[key])
            decisions[key] = approval
            self._save(decisions)
        return approval

    def get(self, incident_id: str, plan_hash: str) -> Approval | None:
        with self._locked() as decisions:
            return decisions.get(_key(incident_id, plan_hash))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Approval]]:
        with self._lock:
            if self.path is None:
                yield self._decisions
                return
            with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                yield self._load()

    def _load(self) -> dict[str, Approval]:
        if not self.path or not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text() or "{}")
        return {k: Approval.model_validate(v) for k, v in raw.items()}

    def _save(self, decisions: dict[str, Approval]) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({k: v.model_dump(mode="json") for k, v in decisions.items()}, indent=1))
        os.replace(tmp, self.path)
