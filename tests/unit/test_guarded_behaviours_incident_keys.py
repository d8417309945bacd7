"""Incident identity (incidents/keys.py): one incident per service per hour, ids that are valid execution names
whatever the names, the event's time zone or the machine's. Each test is named for the behaviour it protects."""
from __future__ import annotations

import datetime as dt
import os
import re
import time

import pytest

from agents.aws_ecs_service.incidents.keys import (
    approved_execution_name,
    bucket_start,
    chat_incident_id,
    incident_id,
    is_incident_id,
)

AT = dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC)


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


# -- the exact shape of ids -----------------------------------------------------------------------------------------

def test_names_are_slugged_without_leading_trailing_or_empty_parts():
    assert incident_id("eu-west-1", "_prod_", "-api-", AT).startswith("inc-prod-api-20260101T12-")
    assert incident_id("eu-west-1", "---", "___", AT).startswith("inc-x-x-20260101T12-")
    assert incident_id("eu-west-1", "_prod", "Xray-apiX", AT).startswith("inc-prod-Xray-apiX-20260101T12-")
    assert incident_id("eu-west-1", "_" + "a" * 30, "api", AT).startswith(f"inc-{'a' * 24}-api-")  # 24 kept after "_"
    assert incident_id("eu-west-1", "X" * 23 + "-X", "api", AT).startswith(f"inc-{'X' * 23}-api-")


def test_long_names_keep_their_first_24_characters_without_a_dangling_hyphen():
    found = incident_id("eu-west-1", "a" * 23 + "-b", "c" * 30, AT)
    assert found.startswith(f"inc-{'a' * 23}-{'c' * 24}-20260101T12-")


def test_every_instant_of_an_hour_down_to_the_microsecond_is_the_same_incident():
    assert incident_id("eu-west-1", "prod", "api", AT.replace(microsecond=1)) == incident_id(
        "eu-west-1", "prod", "api", AT.replace(minute=0, second=0, microsecond=999_999))


@pytest.fixture
def tokyo_machine():
    """The process's local time zone is Asia/Tokyo for the test: ids must not depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_the_incident_hour_is_utc_whatever_the_machines_time_zone(tokyo_machine):
    expected = "inc-prod-checkout-20260101T12-"
    assert incident_id("eu-west-1", "prod", "checkout", AT.replace(tzinfo=None)).startswith(expected)
    assert incident_id("eu-west-1", "prod", "checkout", AT.astimezone(dt.timezone(dt.timedelta(hours=1)))) == \
        incident_id("eu-west-1", "prod", "checkout", AT)
    assert incident_id("eu-west-1", "prod", "checkout", AT.astimezone(dt.timezone(dt.timedelta(hours=1)))).startswith(
        expected)
    assert bucket_start(AT.replace(tzinfo=None)) == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def test_a_chat_incident_id_carries_the_utc_time_of_the_triage(tokyo_machine):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    found = chat_incident_id("prod", "checkout")
    after = dt.datetime.now(dt.UTC)
    stamp = dt.datetime.strptime(found.split("-")[3], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert before <= stamp <= after


def test_a_chat_incident_id_is_bounded_like_an_intake_one():
    found = chat_incident_id("c" * 30, "s" * 30, AT)
    assert re.fullmatch(f"chat-{'c' * 24}-{'s' * 24}-20260101T123000Z-[0-9a-f]{{6}}", found) and len(found) <= 80


def test_the_execution_name_of_an_approved_plan_keeps_57_characters_of_the_incident_and_a_12_digit_digest():
    found = approved_execution_name("inc-" + "x" * 75, "h1")
    assert re.fullmatch(f"inc-{'x' * 53}-approved-[0-9a-f]{{12}}", found) and len(found) == 79
