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
        delivered_at timestamptz,
        primary key (incident_id, plan_hash))""",
    "alter table ecs_agent_approvals add column if not exists delivered_at timestamptz",
    """create table if not exists ecs_agent_audit (
        id bigserial primary key,
        incident_id text not null,
        plan_hash text,
        step integer,
        entry jsonb not null,
        at timestamptz not null default now())""",
    "create index if not exists ecs_agent_audit_incident on ecs_agent_audit (incident_id)",
    # One open incident per service (domain.incident): its exact identity, unique among the rows not settled.
    "alter table ecs_agent_incidents add column if not exists service_key text",
    "alter table ecs_agent_incidents add column if not exists settled_at timestamptz",
    "alter table ecs_agent_incidents add column if not exists opened_by_event text",
    """create unique index if not exists ecs_agent_incident_open
        on ecs_agent_incidents (service_key) where settled_at is null""",
    "create index if not exists ecs_agent_incident_service on ecs_agent_incidents (service_key, settled_at)",
    """create table if not exists ecs_agent_incident_events (
        id bigserial primary key,
        incident_id text not null,
        event_id text not null,
        signature text not null default '',
        trigger jsonb not null,
        at timestamptz,
        joined_at timestamptz not null default now(),
        unique (incident_id, event_id))""",
    # The approval's exact target, and the outbox: a recorded decision is delivered to the workflow until it is.
    "alter table ecs_agent_approvals add column if not exists target jsonb",
    # 'superseded': a different failure made the incident triage again while the request waited
    "alter table ecs_agent_approvals drop constraint if exists ecs_agent_approvals_status_check",
    """alter table ecs_agent_approvals add constraint ecs_agent_approvals_status_check
        check (status in ('pending', 'approved', 'rejected', 'expired', 'superseded'))""",
    "alter table ecs_agent_approvals add column if not exists delivery_attempts integer not null default 0",
    "alter table ecs_agent_approvals add column if not exists delivery_error text",
    "alter table ecs_agent_approvals add column if not exists delivery_claimed_at timestamptz",
    # One row per hold of a service by a remediation; at most one unreleased per service (remediation_lock.py).
    """create table if not exists ecs_agent_remediation_locks (
        id bigserial primary key,
        service_key text not null,
        incident_id text not null,
        holder text not null,
        acquired_at timestamptz not null default now(),
        expires_at timestamptz not null,
        released_at timestamptz)""",
    """create unique index if not exists ecs_agent_remediation_lock_held
        on ecs_agent_remediation_locks (service_key) where released_at is null""",
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
    """Our tables only (same lock as setup_all, so the two never deadlock each other)."""
    _wait_for_lock(conn)
    try:
        _create_tables(conn)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


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
