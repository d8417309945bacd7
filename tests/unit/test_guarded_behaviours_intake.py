"""Intake de-duplication and incident identity (incidents/intake.py, incidents/keys.py). Each test is named for the
behaviour it protects."""
from __future__ import annotations

import datetime as dt

import pytest

from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser
from agents.aws_ecs_service.incidents.keys import (
    approved_execution_name,
    bucket_start,
    chat_incident_id,
    incident_id,
    is_incident_id,
)
from tests.unit.test_intake import ACCOUNT, task_stopped

AT = dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC)


def task(n: int, version: int = 5) -> dict:
    return task_stopped(version=version, task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/{n:032x}")


def is_duplicate(found) -> bool:
    return isinstance(found, Dropped) and found.reason.startswith("duplicate task event")


# -- de-duplication: bounded memory, oldest forgotten first ---------------------------------------------------

def test_the_deduplicator_remembers_exactly_its_capacity():
    normaliser = Normaliser(dedupe_capacity=3)
    for n in range(3):
        assert isinstance(normaliser.normalise(task(n)), IncidentRequest)
    assert all(is_duplicate(normaliser.normalise(task(n))) for n in range(3))


def test_the_deduplicators_memory_is_bounded_the_oldest_is_forgotten_first():
    normaliser = Normaliser(dedupe_capacity=3)
    for n in range(5):
        normaliser.normalise(task(n))
    # tasks 2, 3, 4 are remembered (the newest three); 0 and 1 were forgotten, oldest first
    assert [is_duplicate(normaliser.normalise(task(n))) for n in (4, 3, 2)] == [True, True, True]
    assert isinstance(normaliser.normalise(task(0)), IncidentRequest)


def test_a_duplicate_does_not_make_the_deduplicator_forget_anything():
    normaliser = Normaliser(dedupe_capacity=2)
    normaliser.normalise(task(1))
    normaliser.normalise(task(2))
    for _ in range(5):
        assert is_duplicate(normaliser.normalise(task(1)))
    assert is_duplicate(normaliser.normalise(task(2)))


def test_a_long_storm_of_distinct_tasks_keeps_only_the_newest_within_capacity():
    normaliser = Normaliser(dedupe_capacity=50)
    for n in range(1_000):
        normaliser.normalise(task(n))
    assert is_duplicate(normaliser.normalise(task(999))) and is_duplicate(normaliser.normalise(task(950)))
    assert isinstance(normaliser.normalise(task(949)), IncidentRequest)


def test_a_new_version_of_a_task_event_is_not_a_duplicate_of_the_old_one():
    normaliser = Normaliser()
    normaliser.normalise(task(1, version=5))
    assert isinstance(normaliser.normalise(task(1, version=6)), IncidentRequest)
    assert is_duplicate(normaliser.normalise(task(1, version=5)))


def test_a_dropped_benign_stop_is_not_remembered_as_seen():
    normaliser = Normaliser(dedupe_capacity=1)
    normaliser.normalise(task(1))
    benign = task_stopped(stop_code="UserInitiated", task_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/{2:032x}")
    assert "stopped by a user" in normaliser.normalise(benign).reason
    assert is_duplicate(normaliser.normalise(task(1)))  # the benign stop took no room


# -- incident identity -------------------------------------------------------------------------------------------

def test_every_event_of_one_service_in_one_hour_is_one_incident():
    ids = {incident_id("eu-west-1", "prod", "checkout", AT.replace(minute=m, second=s)) for m in (0, 30, 59)
           for s in (0, 59)}
    assert len(ids) == 1


def test_the_next_hour_is_another_incident():
    assert incident_id("eu-west-1", "prod", "checkout", AT.replace(minute=59, second=59)) != incident_id(
        "eu-west-1", "prod", "checkout", AT.replace(hour=13, minute=0, second=0))


@pytest.mark.parametrize("other", [("us-east-1", "prod", "checkout"), ("eu-west-1", "staging", "checkout"),
                                   ("eu-west-1", "prod", "checkout-v2")])
def test_another_region_cluster_or_service_is_another_incident(other):
    assert incident_id("eu-west-1", "prod", "checkout", AT) != incident_id(*other, AT)


def test_names_that_slug_to_the_same_text_are_still_different_incidents():
    a, b = incident_id("eu-west-1", "prod", "check_out", AT), incident_id("eu-west-1", "prod", "check-out", AT)
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]


def test_the_hour_is_the_utc_hour_whatever_the_events_time_zone():
    cet = dt.timezone(dt.timedelta(hours=1))
    assert incident_id("eu-west-1", "prod", "checkout", AT.astimezone(cet)) == incident_id(
        "eu-west-1", "prod", "checkout", AT)
    assert incident_id("eu-west-1", "prod", "checkout", AT.replace(tzinfo=None)) == incident_id(
        "eu-west-1", "prod", "checkout", AT)
    assert bucket_start(AT.astimezone(cet)) == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def test_an_incident_id_is_readable_and_a_valid_execution_name():
    found = incident_id("eu-west-1", "prod", "checkout", AT)
    assert found.startswith("inc-prod-checkout-20260101T12-") and len(found.rsplit("-", 1)[1]) == 8
    assert is_incident_id(found) and len(found) <= 80


def test_incident_ids_of_long_or_odd_names_stay_valid_execution_names():
    for cluster, service in (("c" * 255, "s" * 255), ("a/b", "x y"), ("---", "___"), ("é", "服务")):
        found = incident_id("eu-west-1", cluster, service, AT)
        assert is_incident_id(found) and len(found) <= 80, found


@pytest.mark.parametrize("value", ["", "inc-", "inc-a b", "chat-prod-api", "x-inc-a", "inc-" + "a" * 76, None])
def test_what_is_not_an_incident_id_is_refused(value):
    assert not is_incident_id(value)


def test_a_chat_incident_is_a_new_one_for_every_triage():
    first, second = chat_incident_id("prod", "checkout", AT), chat_incident_id("prod", "checkout", AT)
    assert first != second and first.startswith("chat-prod-checkout-20260101T123000Z-")


def test_the_execution_that_applies_a_chat_approved_plan_is_one_per_incident_and_plan():
    name = approved_execution_name("inc-prod-checkout-20260101T12-0a1b2c3d", "h1")
    assert name == approved_execution_name("inc-prod-checkout-20260101T12-0a1b2c3d", "h1")
    assert name != approved_execution_name("inc-prod-checkout-20260101T12-0a1b2c3d", "h2")
    assert name.startswith("inc-prod-checkout-20260101T12-0a1b2c3d-approved-") and len(name) <= 80
    long = "inc-" + "x" * 75
    assert approved_execution_name(long, "h1") != approved_execution_name(long[:-1] + "y", "h1")
