"""Chat threads in PostgreSQL: which threads exist, who opened them, which incident they are about.

What a thread remembers is in the LangGraph checkpointer's tables under the same thread id.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class ThreadNotFound(LookupError):
    pass


class Thread(BaseModel):
    thread_id: str
    incident_id: str | None = None
    created_by: str = ""
    created_at: dt.datetime


class PostgresThreadStore:
    def __init__(self, conn: Any):
        self.conn = conn

    def create(self, thread_id: str, incident_id: str | None, created_by: str) -> tuple[Thread, bool]:
        """(the thread, True) when new; (the existing one, False) when the id is taken (an incident's thread)."""
        row = self.conn.execute(
            """insert into ecs_agent_threads (thread_id, incident_id, created_by) values (%s, %s, %s)
               on conflict (thread_id) do nothing returning *""", (thread_id, incident_id, created_by)).fetchone()
        if row:
            return Thread.model_validate(row), True
        return self.load(thread_id), False

    def load(self, thread_id: str) -> Thread:
        row = self.conn.execute("select * from ecs_agent_threads where thread_id = %s", (thread_id,)).fetchone()
        if row is None:
            raise ThreadNotFound(f"no thread {thread_id}")
        return Thread.model_validate(row)
