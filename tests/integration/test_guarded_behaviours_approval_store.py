"""The approval store in PostgreSQL (incidents/approval_store.py): a decision is final, expiry is exact, a renewed
request replaces the old links. Each test is named for the behaviour it protects."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg.rows import dict_row

from agents.aws_ecs_service.domain.approval import AlreadyDecided
from agents.aws_ecs_service.domain.plan import Approval
from agents.aws_ecs_service.incidents.approval_store import (
    ApprovalExpired,
    NoPendingApproval,
    PostgresApprovalStore,
)
from agents.aws_ecs_service.incidents.schema import migrate

pytestmark = pytest.mark.postgres
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def store(pg_schema_url):
    with psycopg.connect(pg_schema_url, autocommit=True, row_factory=dict_row, prepare_threshold=None) as conn:
        migrate(conn)
        yield PostgresApprovalStore(conn)


def later(delta: dt.timedelta = HOUR) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + delta


def row(store, incident="inc-1", plan="h1") -> dict:
    return store.conn.execute("select * from ecs_agent_approvals where incident_id = %s and plan_hash = %s",
                              (incident, plan)).fetchone()


# -- expiry is exact ------------------------------------------------------------------------------------------

def _database_now(store) -> dt.datetime:
    return store.conn.execute("select now() as now").fetchone()["now"]


def test_a_request_cannot_be_decided_at_exactly_its_expiry_instant(store):
    with store.conn.transaction():  # now() is the transaction's start: the same instant in every statement
        now = _database_now(store)
        store.request("inc-1", "h1", "token", "nonce", expires_at=now)
        with pytest.raises(ApprovalExpired, match=r"the approval request for plan h1 expired at "):
            store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce")
    assert row(store)["status"] == "pending"


def test_a_request_can_be_decided_one_instant_before_its_expiry(store):
    with store.conn.transaction():
        now = _database_now(store)
        store.request("inc-1", "h1", "token", "nonce", expires_at=now + dt.timedelta(microseconds=1))
        decided = store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce")
    assert decided.status == "approved" and decided.decided_by == "alice" and decided.channel == "email-link"


# -- a decision is final ----------------------------------------------------------------------------------------

def test_a_decided_plan_cannot_be_requested_again(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    store.decide("inc-1", "h1", "rejected", "bob", "chat", comment="not during the sale")
    with pytest.raises(AlreadyDecided) as refused:
        store.request("inc-1", "h1", "token-2", "nonce-2", later(2 * HOUR))
    assert refused.value.existing.decision == "rejected" and refused.value.existing.decided_by == "bob"
    kept = row(store)
    assert (kept["status"], kept["nonce"], kept["task_token"]) == ("rejected", "nonce-1", "token-1")


def test_expiry_never_overwrites_a_recorded_decision(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce", comment="go")
    found = store.expire("inc-1", "h1")
    assert (found.status, found.decided_by, found.channel, found.comment) == ("approved", "alice", "email-link", "go")
    assert row(store)["status"] == "approved" and store.get("inc-1", "h1").decision == "approved"


def test_expiry_of_a_pending_request_records_nobody_by_the_workflow(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    expired = store.expire("inc-1", "h1")
    assert (expired.status, expired.decided_by, expired.channel) == ("expired", "nobody (timed out)", "workflow")
    assert expired.decided_at is not None
    with pytest.raises(AlreadyDecided) as refused:
        store.decide("inc-1", "h1", "approved", "alice", "chat")
    assert refused.value.existing.decision == "expired"


def test_expiry_of_nothing_requested_is_nothing(store):
    assert store.expire("inc-9", "h9") is None


def test_a_decision_is_made_once_and_the_second_is_told_the_first(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce")
    with pytest.raises(AlreadyDecided) as refused:
        store.decide("inc-1", "h1", "rejected", "mallory", "email-link", nonce="nonce")
    assert (refused.value.existing.decision, refused.value.existing.decided_by) == ("approved", "alice")
    assert row(store)["decided_by"] == "alice"


def test_a_recorded_decision_decides_a_pending_request_once(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    at = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC).isoformat()
    approval = Approval(plan_hash="h1", incident_id="inc-1", decision="approved", decided_by="alice (chat)",
                        decided_at=at, channel="chat", comment="ok")
    assert store.record(approval) == approval
    assert store.get("inc-1", "h1") == approval
    with pytest.raises(AlreadyDecided) as refused:
        store.record(approval.model_copy(update={"decision": "rejected", "decided_by": "bob"}))
    assert refused.value.existing == approval


# -- requests, renewed requests and links -------------------------------------------------------------------------

def test_a_renewed_request_replaces_the_token_nonce_and_expiry_and_the_old_link_stops_working(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    renewed = store.request("inc-1", "h1", "token-2", "nonce-2", later(2 * HOUR))
    assert (renewed.status, renewed.task_token, renewed.nonce) == ("pending", "token-2", "nonce-2")
    with pytest.raises(NoPendingApproval, match="^this link belongs to an earlier approval request; use the newest "
                                                "email$"):
        store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce-1")
    assert store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce-2").status == "approved"


def test_a_decision_without_a_nonce_is_a_chat_decision_and_needs_none(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    decided = store.decide("inc-1", "h1", "rejected", "bob", "chat")
    assert (decided.status, decided.comment) == ("rejected", "")


def test_a_recorded_decision_reads_back_exactly_even_with_empty_fields(store):
    approval = Approval(plan_hash="h1", incident_id="inc-1", decision="rejected", decided_by="", channel="",
                        decided_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC).isoformat())
    store.record(approval)
    assert store.get("inc-1", "h1") == approval


def test_a_request_records_when_it_was_made_whatever_the_sessions_time_zone(store):
    store.conn.execute("set time zone 'Asia/Tokyo'")
    requested = store.request("inc-1", "h1", "token", "nonce", later())
    assert abs(requested.requested_at - _database_now(store)) < dt.timedelta(minutes=5)  # not 9 hours off


def test_deciding_what_was_never_requested_says_so(store):
    with pytest.raises(NoPendingApproval, match="no approval was requested for plan h1 of incident inc-1"):
        store.decide("inc-1", "h1", "approved", "alice", "chat")


def test_a_pending_request_is_no_approval_yet(store):
    requested = store.request("inc-1", "h1", "token", "nonce", later())
    assert requested.approval() is None and store.get("inc-1", "h1") is None
    assert store.get("inc-2", "h1") is None and store.find("inc-2", "h1") is None


def test_the_pending_request_of_an_incident_is_its_newest_undecided_one(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    store.request("inc-1", "h2", "token-2", "nonce-2", later())
    store.request("inc-2", "h3", "token-3", "nonce-3", later())
    assert store.pending_for("inc-1").plan_hash == "h2"
    store.decide("inc-1", "h2", "rejected", "bob", "chat")
    assert store.pending_for("inc-1").plan_hash == "h1"
    store.expire("inc-1", "h1")
    assert store.pending_for("inc-1") is None


def test_the_latest_request_of_an_incident_is_the_last_one_decided_or_asked(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    store.request("inc-1", "h2", "token-2", "nonce-2", later())
    assert store.latest_for("inc-1").plan_hash == "h2"
    store.decide("inc-1", "h1", "approved", "alice", "chat")
    latest = store.latest_for("inc-1")
    assert (latest.plan_hash, latest.status) == ("h1", "approved")
    assert store.latest_for("inc-9") is None


def test_delivery_is_recorded_once_at_the_first_delivery(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "approved", "alice", "chat")
    store.delivered("inc-1", "h1")
    first = row(store)["delivered_at"]
    store.delivered("inc-1", "h1", note="a late second deliverer")
    assert first is not None and row(store)["delivered_at"] == first and row(store)["delivery_error"] is None


def test_the_decider_holds_the_delivery_claim_and_a_failed_delivery_releases_it(store):
    """Nobody else tells the workflow while the decider does; once it failed, the next deliverer may."""
    store.request("inc-1", "h1", "token", "nonce", later())
    decided = store.decide("inc-1", "h1", "approved", "alice", "chat")
    assert decided.delivery_attempts == 1 and decided.undelivered
    assert store.claim_delivery("inc-1", "h1", dt.timedelta(seconds=90)) is None
    store.delivery_failed("inc-1", "h1", "ThrottlingException: Rate exceeded")
    claimed = store.claim_delivery("inc-1", "h1", dt.timedelta(seconds=90))
    assert claimed is not None and claimed.delivery_attempts == 2
    assert row(store)["delivery_error"] == "ThrottlingException: Rate exceeded"
    assert [r.plan_hash for r in store.undelivered()] == ["h1"]
    store.delivered("inc-1", "h1")
    assert store.claim_delivery("inc-1", "h1", dt.timedelta(seconds=0)) is None and store.undelivered() == []


def test_an_abandoned_claim_can_be_taken_after_its_hold(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "rejected", "bob", "email-link")
    assert store.claim_delivery("inc-1", "h1", dt.timedelta(hours=1)) is None
    assert store.claim_delivery("inc-1", "h1", dt.timedelta(seconds=0)) is not None
