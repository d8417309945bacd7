"""Tables of the serverless runtime, created idempotently under an advisory lock.

Two deploys (or two custom-resource retries) may run the migration at once: an advisory lock makes
the second wait, and IF NOT EXISTS (and the checkpointer's version table) make it a no-op.
"""
from __future__ import annotations

import time
from typing import Any

MIGRATION_LOCK = 7_245_019_311  # any constant shared by every migrating process
LOCK_WAIT_S = 240  # the migrate function's timeout is 300 s

DDL = (
    """create table if not exists ecs_agent_incidents (
        incident_id text primary key,
        region text not null,
        cluster text not null,
        service text not null,
        status text not null,
        document jsonb not null,
        evidence jsonb,
        execution_arn text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now())""",
    """create table if not exists ecs_agent_approvals (
        incident_id text not null,
        plan_hash text not null,
        status text not null default 'pending'
            check (status in ('pending', 'approved', 'rejected', 'expired')),
        nonce text,
        task_token text,
        requested_at timestamptz,
        expires_at timestamptz,
        decided_by text,
        decided_at timestamptz,
        channel text,
        comment text not null default '',
        primary key (incident_id, plan_hash))""",
    """create table if not exists ecs_agent_audit (
        id bigserial primary key,
        incident_id text not null,
        plan_hash text,
        step integer,
        entry jsonb not null,
        at timestamptz not null default now())""",
    "create index if not exists ecs_agent_audit_incident on ecs_agent_audit (incident_id)",
    """create table if not exists ecs_agent_threads (
        thread_id text primary key,
        incident_id text,
        created_by text not null default '',
        created_at timestamptz not null default now())""",
)


def _create_tables(conn: Any) -> None:
    with conn.transaction():
        for statement in DDL:
            conn.execute(statement)


def migrate(conn: Any) -> None:
    """Our tables only."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        for statement in DDL:
            conn.execute(statement)


def _wait_for_lock(conn: Any, timeout_s: float = LOCK_WAIT_S) -> None:
    # Poll with try-lock instead of blocking in pg_advisory_lock: the checkpointer's CREATE INDEX CONCURRENTLY
    # waits for every open transaction, including a blocked lock request, which would deadlock.
    deadline = time.monotonic() + timeout_s
    while not conn.execute("select pg_try_advisory_lock(%s) as ok", (MIGRATION_LOCK,)).fetchone()["ok"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"another migration held the schema lock for over {timeout_s:.0f} s")
        time.sleep(0.2)


def setup_all(conn: Any) -> None:
    """Our tables and the LangGraph checkpointer's, one migrating process at a time (session-level lock)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    _wait_for_lock(conn)
    try:
        _create_tables(conn)
        PostgresSaver(conn).setup()
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
