"""The approval store in PostgreSQL (incidents/approval_store.py), continued: superseded requests, the service each
decision is bound to, and the delivery outbox. Each test is named for the behaviour it protects."""
from __future__ import annotations

import datetime as dt

import pytest

from agents.aws_ecs_service.domain.approval import AlreadyDecided
from agents.aws_ecs_service.domain.plan import Approval
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.approval_store import NoPendingApproval
from tests.integration import test_guarded_behaviours_approval_store as base
from tests.integration.test_guarded_behaviours_approval_store import HOUR, later, row

pytestmark = pytest.mark.postgres
store = base.store  # its fixture, used here as it is there
API = ServiceTarget.from_names("123456789012", "eu-west-1", "prod", "api")
WEB = ServiceTarget.from_names("123456789012", "eu-west-1", "prod", "web")


def approval(plan="h1", incident="inc-1", decision="approved", target=None, minute=0) -> Approval:
    return Approval(plan_hash=plan, incident_id=incident, decision=decision, decided_by="alice", channel="chat",
                    decided_at=dt.datetime(2026, 1, 1, 12, minute, tzinfo=dt.UTC).isoformat(), target=target)


# -- superseded requests -------------------------------------------------------------------------------------------

def test_superseding_ends_only_the_incidents_pending_request_and_says_why(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    store.request("inc-1", "h2", "token-2", "nonce-2", later())
    store.decide("inc-1", "h2", "rejected", "bob", "chat")
    store.request("inc-2", "h3", "token-3", "nonce-3", later())
    superseded = store.supersede_pending("inc-1")
    assert (superseded.plan_hash, superseded.status, superseded.channel, superseded.decided_by) == (
        "h1", "superseded", "workflow", "superseded: the incident is triaged again")
    assert superseded.decided_at is not None
    assert row(store, plan="h2")["status"] == "rejected" and row(store, "inc-2", "h3")["status"] == "pending"
    assert store.supersede_pending("inc-1") is None and store.pending_for("inc-1") is None


def test_a_superseded_request_is_no_decision_and_its_links_say_it_was_replaced(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.supersede_pending("inc-1")
    assert store.get("inc-1", "h1") is None and store.find("inc-1", "h1").approval() is None
    with pytest.raises(NoPendingApproval, match="^this plan was superseded: a different failure made the incident "
                                                "triage again, and a new approval request replaces this one$"):
        store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce")
    assert row(store)["status"] == "superseded"


def test_a_superseded_plan_can_be_asked_for_again_with_new_links(store):
    store.request("inc-1", "h1", "token-1", "nonce-1", later())
    store.supersede_pending("inc-1")
    asked = store.request("inc-1", "h1", "token-2", "nonce-2", later())
    assert (asked.status, asked.nonce, asked.task_token) == ("pending", "nonce-2", "token-2")
    assert store.decide("inc-1", "h1", "approved", "alice", "email-link", nonce="nonce-2").status == "approved"


def test_the_superseded_count_is_the_incidents_own(store):
    assert store.superseded_count("inc-1") == 0
    for plan in ("h1", "h2"):
        store.request("inc-1", plan, "token", "nonce", later())
        store.supersede_pending("inc-1")
    store.request("inc-1", "h3", "token", "nonce", later())
    store.request("inc-2", "h4", "token", "nonce", later())
    store.supersede_pending("inc-2")
    assert store.superseded_count("inc-1") == 2 and store.superseded_count("inc-2") == 1


# -- the service a decision is bound to ---------------------------------------------------------------------------

def test_a_request_keeps_its_service_and_a_renewal_without_one_keeps_it_too(store):
    assert store.request("inc-1", "h1", "token-1", "nonce-1", later(), target=API).target == API
    assert store.request("inc-1", "h1", "token-2", "nonce-2", later()).target == API
    assert store.request("inc-1", "h1", "token-3", "nonce-3", later(), target=WEB).target == WEB
    decided = store.decide("inc-1", "h1", "approved", "alice", "chat")
    assert decided.target == WEB and store.get("inc-1", "h1").target == WEB


def test_a_request_without_a_service_stores_none(store):
    assert store.request("inc-1", "h1", "token", "nonce", later()).target is None
    assert row(store)["target"] is None


def test_a_recorded_decision_keeps_the_service_the_request_named(store):
    store.request("inc-1", "h1", "token", "nonce", later(), target=API)
    store.record(approval(target=WEB))
    assert store.get("inc-1", "h1").target == API


def test_a_recorded_decision_without_a_request_stores_its_own_service(store):
    store.record(approval(target=API))
    assert store.get("inc-1", "h1").target == API
    store.record(approval(plan="h2"))
    assert store.get("inc-1", "h2").target is None


def test_a_recorded_decision_on_a_decided_plan_is_refused_and_changes_nothing(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "rejected", "bob", "chat", comment="no")
    with pytest.raises(AlreadyDecided) as refused:
        store.record(approval())
    assert (refused.value.existing.decision, refused.value.existing.decided_by) == ("rejected", "bob")
    assert (row(store)["status"], row(store)["comment"]) == ("rejected", "no")


# -- the delivery outbox -----------------------------------------------------------------------------------------

def test_only_decisions_a_workflow_waits_for_are_undelivered(store):
    store.record(approval(plan="h0"))  # decided elsewhere: no task token, nobody to tell
    store.request("inc-1", "h1", "token", "nonce", later())  # pending
    store.request("inc-1", "h2", "token", "nonce", later())
    store.expire("inc-1", "h2")  # the workflow itself stopped waiting
    assert store.undelivered() == []
    assert all(store.claim_delivery("inc-1", plan, dt.timedelta(0)) is None for plan in ("h0", "h1", "h2"))
    assert not store.find("inc-1", "h0").undelivered and not store.find("inc-1", "h1").undelivered


def test_undelivered_decisions_come_oldest_first_up_to_the_limit(store):
    for plan in ("h1", "h2", "h3"):
        store.request("inc-1", plan, "token", "nonce", later())
    for plan, minute in (("h2", 1), ("h3", 2), ("h1", 3)):
        store.decide("inc-1", plan, "approved", "alice", "chat")
        store.conn.execute("update ecs_agent_approvals set decided_at = %s where plan_hash = %s",
                           (dt.datetime(2026, 1, 1, 12, minute, tzinfo=dt.UTC), plan))
    assert [r.plan_hash for r in store.undelivered()] == ["h2", "h3", "h1"]
    assert [r.plan_hash for r in store.undelivered(limit=2)] == ["h2", "h3"]
    store.delivered("inc-1", "h2")
    assert [r.plan_hash for r in store.undelivered()] == ["h3", "h1"]


def test_a_delivery_that_found_nobody_waiting_records_why_and_is_final(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "approved", "alice", "chat")
    store.delivered("inc-1", "h1", note="the workflow no longer waits")
    found = store.find("inc-1", "h1")
    assert found.delivery_error == "the workflow no longer waits" and found.delivered_at is not None
    assert not found.undelivered
    store.delivery_failed("inc-1", "h1", "late failure")
    assert store.find("inc-1", "h1").delivery_error == "the workflow no longer waits"


def test_a_failed_delivery_keeps_the_first_500_characters_of_its_error(store):
    store.request("inc-1", "h1", "token", "nonce", later())
    store.decide("inc-1", "h1", "approved", "alice", "chat")
    store.delivery_failed("inc-1", "h1", "x" * 499 + "yz")
    assert row(store)["delivery_error"] == "x" * 499 + "y" and row(store)["delivery_claimed_at"] is None


def test_delivery_writes_touch_only_their_own_plan(store):
    for plan in ("h1", "h2"):
        store.request("inc-1", plan, "token", "nonce", later())
        store.decide("inc-1", plan, "approved", "alice", "chat")
    store.delivery_failed("inc-1", "h1", "boom")
    store.delivered("inc-1", "h1")
    assert row(store, plan="h2")["delivery_error"] is None and row(store, plan="h2")["delivered_at"] is None
    assert store.claim_delivery("inc-1", "h2", HOUR) is None  # the decider still holds it: not released by h1's


def test_the_deliverer_takes_at_most_a_hundred_decisions_at_a_time(store):
    with store.conn.transaction():
        for n in range(101):
            store.request(f"inc-{n}", "h1", "token", "nonce", later())
            store.decide(f"inc-{n}", "h1", "approved", "alice", "chat")
    assert len(store.undelivered()) == 100
