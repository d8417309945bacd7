"""The incident record and its join policy (domain/incident.py): when a signal opens an incident, when it joins
a settled one, when an open one is abandoned, and what a new incident records of the signal that opened it. Each
test is named for the behaviour it protects."""
from __future__ import annotations

import datetime as dt

import pytest

from agents.aws_ecs_service.domain.incident import (
    Incident,
    JoinPolicy,
    Trigger,
    new_incident,
    seen,
    signatures,
)
from agents.aws_ecs_service.domain.plan import Approval, Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget

CHECKOUT = ServiceTarget.from_names("111122223333", "eu-west-1", "prod", "checkout")
SETTLED = "2026-01-01T12:00:00+00:00"
POLICY = JoinPolicy()  # repeats join for 6 h after settling; open incidents are abandoned after 26 h quiet


def trigger(kind: str = "task-stopped", at: str = "2026-01-01T13:00:00+00:00", signature: str = "task-stopped:Essential",
            event_id: str = "e-1", summary: str = "task abc stopped") -> Trigger:
    return Trigger(kind=kind, summary=summary, event_id=event_id, at=at, signature=signature)


def settled(status: str = "failed", settled_at: str | None = SETTLED, opened_by: Trigger | None = None,
            events: tuple[Trigger, ...] = ()) -> Incident:
    return Incident(incident_id="inc-prod-checkout-1", target=CHECKOUT, opened_at="2026-01-01T11:00:00+00:00",
                    status=status, settled_at=settled_at, opened_by=opened_by or trigger(at="2026-01-01T11:00:00Z"),
                    events=list(events))


# -- a settled incident takes repeats of its own failure, for a while ----------------------------------------------

def test_a_repeat_of_the_failure_an_unresolved_incident_was_about_joins_it():
    assert POLICY.takes_repeat(settled(), trigger())


@pytest.mark.parametrize("status", ["rejected", "expired", "failed", "no-action"])
def test_every_unresolved_ending_takes_repeats(status):
    assert POLICY.takes_repeat(settled(status=status), trigger())


def test_after_a_resolution_the_same_failure_opens_a_new_incident():
    assert not POLICY.takes_repeat(settled(status="resolved"), trigger())


def test_an_incident_that_is_not_settled_takes_no_repeats_through_this_rule():
    assert not POLICY.takes_repeat(settled(settled_at=None), trigger())


@pytest.mark.parametrize("kind", ["chat", "manual"])
def test_a_person_asking_again_opens_a_new_incident_even_about_the_same_failure(kind):
    assert not POLICY.takes_repeat(settled(), trigger(kind=kind))


def test_a_different_failure_opens_a_new_incident():
    assert not POLICY.takes_repeat(settled(), trigger(signature="deployment-failed"))


def test_a_signal_without_a_signature_is_never_a_repeat():
    assert not POLICY.takes_repeat(settled(opened_by=trigger(signature="")), trigger(signature=""))


def test_a_failure_seen_after_the_incident_opened_counts_as_its_failure_too():
    later = trigger(signature="alarm:cpu-high", event_id="e-2")
    assert POLICY.takes_repeat(settled(events=(later,)), trigger(signature="alarm:cpu-high", event_id="e-3"))


def test_repeats_join_up_to_exactly_the_quiet_period_after_settling_and_not_a_second_later():
    assert POLICY.takes_repeat(settled(), trigger(at="2026-01-01T18:00:00+00:00"))
    assert not POLICY.takes_repeat(settled(), trigger(at="2026-01-01T18:00:01+00:00"))


def test_times_in_other_zones_are_compared_as_instants():
    # 19:30 at +02:00 is 17:30 UTC, inside the 6 h; read as UTC it would be 19:30, outside
    assert POLICY.takes_repeat(settled(), trigger(at="2026-01-01T19:30:00+02:00"))
    assert not POLICY.takes_repeat(settled(), trigger(at="2026-01-01T16:30:00-02:00"))  # 18:30 UTC


def test_times_without_a_zone_are_utc_and_compare_with_zoned_ones():
    assert POLICY.takes_repeat(settled(settled_at="2026-01-01T12:00:00"), trigger(at="2026-01-01T13:00:00+00:00"))
    assert POLICY.takes_repeat(settled(), trigger(at="2026-01-01T13:00:00"))
    assert not POLICY.takes_repeat(settled(), trigger(at="2026-01-01T18:00:01"))


@pytest.mark.parametrize("at, settled_at", [("not a time", SETTLED), ("2026-01-01T13:00:00Z", "not a time")])
def test_a_signal_or_settling_time_that_is_not_a_time_never_joins(at, settled_at):
    assert not POLICY.takes_repeat(settled(settled_at=settled_at), trigger(at=at))


# -- an open incident nobody touches is abandoned -------------------------------------------------------------------

def test_an_open_incident_is_abandoned_only_after_more_than_the_stale_period_without_activity():
    last = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    open_one = settled(status="open", settled_at=None)
    assert not POLICY.abandoned(open_one, last, last + dt.timedelta(hours=26))
    assert POLICY.abandoned(open_one, last, last + dt.timedelta(hours=26, seconds=1))


def test_a_settled_incident_is_never_abandoned():
    last = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert not POLICY.abandoned(settled(), last, last + dt.timedelta(days=30))


# -- what an incident has seen -------------------------------------------------------------------------------------

def test_signatures_are_the_opening_signals_and_every_joined_ones_without_blanks():
    incident = settled(events=(trigger(signature="alarm:cpu-high", event_id="e-2"), trigger(signature="", event_id="e-3")))
    assert signatures(incident) == {"task-stopped:Essential", "alarm:cpu-high"}


def test_an_incident_without_an_opening_signal_has_only_its_joined_signatures():
    incident = settled(events=(trigger(signature="alarm:cpu-high"),))
    incident.opened_by = None
    assert signatures(incident) == {"alarm:cpu-high"}


def test_a_redelivered_signal_is_seen_whether_it_opened_the_incident_or_joined_it():
    incident = settled(opened_by=trigger(event_id="e-open"), events=(trigger(event_id="e-joined"),))
    assert seen(incident, trigger(event_id="e-open")) and seen(incident, trigger(event_id="e-joined"))
    assert not seen(incident, trigger(event_id="e-new"))


def test_an_incident_without_an_opening_signal_has_seen_only_its_joined_ones():
    incident = settled(events=(trigger(event_id="e-joined"),))
    incident.opened_by = None
    assert seen(incident, trigger(event_id="e-joined")) and not seen(incident, trigger(event_id="e-1"))


# -- a new incident records the signal that opened it ---------------------------------------------------------------

def test_a_new_incident_opens_at_the_signals_time_and_says_what_opened_it():
    opening = trigger(at="2026-01-01T13:00:00Z", summary="task abc stopped (EssentialContainerExited)")
    incident = new_incident(CHECKOUT, opening, "inc-1")
    assert incident.opened_at == "2026-01-01T13:00:00+00:00" and incident.status == "open"
    assert incident.trigger == "task-stopped: task abc stopped (EssentialContainerExited)"
    assert incident.opened_by == opening and incident.target == CHECKOUT and incident.incident_id == "inc-1"
    assert [(e.at, e.kind, e.text) for e in incident.timeline] == [
        ("2026-01-01T13:00:00+00:00", "triggered", "task-stopped: task abc stopped (EssentialContainerExited)")]


def test_a_new_incident_of_a_signal_without_a_summary_is_named_by_its_kind_alone():
    assert new_incident(CHECKOUT, trigger(kind="manual", summary=""), "inc-1").trigger == "manual"
    assert new_incident(CHECKOUT, trigger(kind="alarm", summary="CPU at MAX"), "inc-1").trigger == "alarm: CPU at MAX"


def test_a_new_incident_of_a_signal_without_a_usable_time_opens_now_in_utc():
    before = dt.datetime.now(dt.UTC)
    opened = dt.datetime.fromisoformat(new_incident(CHECKOUT, trigger(at="soon"), "inc-1").opened_at)
    assert opened.utcoffset() == dt.timedelta(0) and before <= opened <= dt.datetime.now(dt.UTC)


# -- its plans and decisions ---------------------------------------------------------------------------------------

def plan(desired: int) -> Plan:
    step = PlanStep(number=1, action="update_service_desired_count", api_call="ecs:UpdateService", params={"desiredCount": desired},
                    expected_before={"desiredCount": 2}, description=f"scale to {desired}")
    return Plan(incident_id="inc-1", target=CHECKOUT, root_cause="capacity", title=f"scale to {desired}",
                summary="scale out", steps=[step])


def decision(plan_hash: str, verdict: str) -> Approval:
    return Approval(plan_hash=plan_hash, incident_id="inc-1", decision=verdict, decided_by="sre",
                    decided_at="2026-01-01T13:00:00Z")


def test_the_chosen_plan_is_the_one_whose_hash_was_chosen_or_none():
    first, second = plan(3), plan(4)
    incident = settled(status="awaiting-approval", settled_at=None)
    incident.plans = [first, second]
    assert incident.chosen_plan() is None
    incident.chosen_plan_hash = second.plan_hash
    assert first.plan_hash != second.plan_hash and incident.chosen_plan() == second
    incident.chosen_plan_hash = "unknown"
    assert incident.chosen_plan() is None


def test_the_decision_on_a_plan_is_the_last_one_recorded_for_it():
    incident = settled(status="awaiting-approval", settled_at=None)
    incident.approvals = [decision("h1", "rejected"), decision("h2", "approved"), decision("h1", "approved"),
                          decision("h2", "expired")]
    assert incident.approval_of("h1").decision == "approved"
    assert incident.approval_of("h2").decision == "expired"
    assert incident.approval_of("h3") is None
