"""PostgreSQL stores of the serverless runtime: migration under concurrency, single-use decisions, audit."""
from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from agents.aws_ecs_service.aws.audit_log import AuditLog
from agents.aws_ecs_service.domain.approval import AlreadyDecided, ApprovalStore
from agents.aws_ecs_service.domain.plan import Approval, AuditEntry
from agents.aws_ecs_service.incidents.approval_store import (
    ApprovalExpired,
    NoPendingApproval,
    PostgresApprovalStore,
)
from agents.aws_ecs_service.incidents.audit_store import PostgresAuditLog
from agents.aws_ecs_service.incidents.schema import migrate, setup_all

pytestmark = pytest.mark.postgres


def _conn(url):
    return psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)


@pytest.fixture
def conn(pg_schema_url):
    with _conn(pg_schema_url) as c:
        migrate(c)
        yield c


def test_setup_is_idempotent_and_safe_when_run_concurrently(pg_schema_url):
    errors: list[BaseException] = []

    def run():
        try:
            with _conn(pg_schema_url) as c:
                setup_all(c)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with _conn(pg_schema_url) as c:
        setup_all(c)
        tables = {r["table_name"] for r in c.execute(
            "select table_name from information_schema.tables where table_schema = current_schema()")}
    assert {"ecs_agent_incidents", "ecs_agent_approvals", "ecs_agent_audit", "ecs_agent_threads",
            "checkpoints", "checkpoint_writes"} <= tables


def test_a_pending_request_is_decided_exactly_once_under_a_race(conn, pg_schema_url):
    store = PostgresApprovalStore(conn)
    assert isinstance(store, ApprovalStore)
    store.request("inc-1", "h1", "token-1", "nonce-1", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    outcomes: list[str] = []

    def click(decision):
        with _conn(pg_schema_url) as own:
            try:
                PostgresApprovalStore(own).decide("inc-1", "h1", decision, "someone", "email-link", nonce="nonce-1")
                outcomes.append("decided")
            except AlreadyDecided:
                outcomes.append("409")

    threads = [threading.Thread(target=click, args=("approved" if i % 2 else "rejected",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409"] * 7 + ["decided"]
    assert store.get("inc-1", "h1").decision in ("approved", "rejected")


def test_wrong_nonce_expired_and_unknown_requests_are_told_apart(conn):
    store = PostgresApprovalStore(conn)
    store.request("inc-1", "h1", "t", "new-nonce", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    with pytest.raises(NoPendingApproval):
        store.decide("inc-1", "h1", "approved", "x", "email-link", nonce="old-nonce")
    with pytest.raises(NoPendingApproval):
        store.decide("inc-2", "h1", "approved", "x", "chat")
    store.request("inc-3", "h1", "t", "n", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with pytest.raises(ApprovalExpired):
        store.decide("inc-3", "h1", "approved", "x", "email-link", nonce="n")
    assert store.get("inc-1", "h1") is None  # pending is not an approval
    assert store.expire("inc-1", "h1").status == "expired"
    with pytest.raises(AlreadyDecided):
        store.decide("inc-1", "h1", "approved", "x", "chat")


def test_record_is_the_approval_store_protocol_and_refuses_a_second_decision(conn):
    store = PostgresApprovalStore(conn)
    approval = Approval(plan_hash="h", incident_id="inc", decision="approved", decided_by="alice",
                        decided_at=dt.datetime.now(dt.UTC).isoformat(), channel="chat")
    store.record(approval)
    assert store.get("inc", "h").decided_by == "alice"
    with pytest.raises(AlreadyDecided):
        store.record(approval.model_copy(update={"decision": "rejected"}))


def test_audit_log_knows_what_was_applied(conn):
    audit = PostgresAuditLog(conn)
    assert isinstance(audit, AuditLog)
    now = dt.datetime.now(dt.UTC).isoformat()
    audit.append(AuditEntry(at=now, incident_id="inc", plan_hash="h", step=1, operation="ecs:UpdateService",
                            params={}, allowed=True, reason="approved", result="ok"))
    audit.append(AuditEntry(at=now, incident_id="other", plan_hash="h2", step=1, operation="ecs:UpdateService",
                            params={}, allowed=False, reason="no approval", result="refused"))
    assert audit.has_applied("inc", "h", 1) and not audit.has_applied("inc", "h", 2)
    assert not audit.has_applied("other", "h2", 1)
    assert not audit.has_applied("later", "h", 1)  # the same plan for a later incident is not "already applied"
    assert [e.incident_id for e in audit.list("inc")] == ["inc"] and len(audit.list()) == 2
