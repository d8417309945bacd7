"""Incident ids (domain/incident_keys.py): unique per exact service and opening signal, the same for a redelivered
signal, readable, and valid execution names whatever the names, the event's time zone or the machine's. Each test
is named for the behaviour it protects."""
from __future__ import annotations

import datetime as dt
import os
import re
import time

import pytest

from agents.aws_ecs_service.domain.incident_keys import (
    approved_execution_name,
    incident_id,
    incident_id_for,
    is_incident_id,
)
from agents.aws_ecs_service.domain.target import ServiceTarget

AT = dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC)
CHECKOUT = ServiceTarget.from_names("111122223333", "eu-west-1", "prod", "checkout")


def target(cluster: str = "prod", service: str = "checkout", region: str = "eu-west-1",
           account: str = "111122223333") -> ServiceTarget:
    return ServiceTarget.from_names(account, region, cluster, service)


# -- incident identity -------------------------------------------------------------------------------------------

def test_a_redelivered_signal_names_the_same_incident_and_another_signal_another():
    assert incident_id(CHECKOUT, AT, "event-1") == incident_id(CHECKOUT, AT, "event-1")
    assert incident_id(CHECKOUT, AT, "event-1") != incident_id(CHECKOUT, AT, "event-2")


@pytest.mark.parametrize("other", [target(region="us-east-1"), target(account="444455556666"),
                                   target(cluster="staging"), target(service="checkout-v2")])
def test_another_region_account_cluster_or_service_is_another_incident_for_the_same_signal(other):
    assert incident_id(CHECKOUT, AT, "event-1") != incident_id(other, AT, "event-1")


def test_names_that_slug_to_the_same_text_are_still_different_incidents():
    a, b = incident_id(target(service="check_out"), AT, "e"), incident_id(target(service="check-out"), AT, "e")
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]


def test_the_time_is_the_utc_second_the_incident_opened_whatever_the_events_time_zone():
    cet = dt.timezone(dt.timedelta(hours=1))
    assert incident_id(CHECKOUT, AT.astimezone(cet), "e") == incident_id(CHECKOUT, AT, "e")
    assert incident_id(CHECKOUT, AT.replace(tzinfo=None), "e") == incident_id(CHECKOUT, AT, "e")
    assert incident_id(CHECKOUT, AT, "e").startswith("inc-prod-checkout-20260101T123000-")


def test_an_incident_id_is_readable_and_a_valid_execution_name():
    found = incident_id(CHECKOUT, AT, "event-1")
    assert re.fullmatch(r"inc-prod-checkout-20260101T123000-[0-9a-f]{10}", found)
    assert is_incident_id(found) and len(found) <= 80


def test_the_signals_iso_time_gives_the_id_the_intake_and_the_workflow_agree_on():
    assert incident_id_for(CHECKOUT, "2026-01-01T12:30:00Z", "e") == incident_id(CHECKOUT, AT, "e")
    assert incident_id_for(CHECKOUT, "2026-01-01T13:30:00+01:00", "e") == incident_id(CHECKOUT, AT, "e")
    assert incident_id_for(CHECKOUT, "2026-01-01T12:30:00Z", "e", prefix="chat").startswith("chat-prod-checkout-")


def test_incident_ids_of_long_or_odd_names_stay_valid_execution_names():
    for cluster, service in (("c" * 255, "s" * 255), ("a_b", "x-y"), ("---", "___"), ("_prod_", "-api-")):
        found = incident_id(target(cluster, service), AT, "e")
        assert is_incident_id(found) and len(found) <= 80, found


@pytest.mark.parametrize("value", ["", "inc-", "inc-a b", "x-inc-a", "inc-" + "a" * 77, None])
def test_what_is_not_an_incident_id_is_refused(value):
    assert not is_incident_id(value)


def test_the_execution_that_applies_a_chat_approved_plan_is_one_per_incident_and_plan():
    base = incident_id(CHECKOUT, AT, "e")
    name = approved_execution_name(base, "h1")
    assert name == approved_execution_name(base, "h1") and name != approved_execution_name(base, "h2")
    assert name.startswith(f"{base}-approved-") and len(name) <= 80
    long = "inc-" + "x" * 75
    assert approved_execution_name(long, "h1") != approved_execution_name(long[:-1] + "y", "h1")


# -- the exact shape of ids -----------------------------------------------------------------------------------------

def test_names_are_slugged_without_leading_trailing_or_empty_parts():
    assert incident_id(target("_prod_", "-api-"), AT, "e").startswith("inc-prod-api-20260101T123000-")
    assert incident_id(target("---", "___"), AT, "e").startswith("inc-x-x-20260101T123000-")
    assert incident_id(target("_" + "a" * 30, "api"), AT, "e").startswith(f"inc-{'a' * 22}-api-")  # 22 kept


def test_long_names_keep_their_first_22_characters_without_a_dangling_hyphen():
    found = incident_id(target("a" * 21 + "-b", "c" * 30), AT, "e")
    assert found.startswith(f"inc-{'a' * 21}-{'c' * 22}-20260101T123000-")


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


def test_the_incident_time_is_utc_whatever_the_machines_time_zone(tokyo_machine):
    expected = "inc-prod-checkout-20260101T123000-"
    assert incident_id(CHECKOUT, AT.replace(tzinfo=None), "e").startswith(expected)
    assert incident_id(CHECKOUT, AT.astimezone(dt.timezone(dt.timedelta(hours=1))), "e").startswith(expected)


def test_the_execution_name_of_an_approved_plan_keeps_57_characters_of_the_incident_and_a_12_digit_digest():
    found = approved_execution_name("inc-" + "x" * 75, "h1")
    assert re.fullmatch(f"inc-{'x' * 53}-approved-[0-9a-f]{{12}}", found) and len(found) == 79


def test_names_keep_their_own_letters_at_either_end():
    assert incident_id(target("Xray", "fooX"), AT, "e").startswith("inc-Xray-fooX-20260101T123000-")
    assert incident_id(target("a" * 21 + "XY", "api"), AT, "e").startswith(f"inc-{'a' * 21}X-api-")


def test_a_signal_without_a_usable_time_opens_its_incident_at_the_utc_second_now(tokyo_machine):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = incident_id_for(CHECKOUT, "not a time", "e").split("-")[3]
    opened = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    assert before <= opened <= dt.datetime.now(dt.UTC)


def test_an_incident_id_with_a_trailing_newline_is_refused():
    assert is_incident_id("inc-prod-checkout-1") and not is_incident_id("inc-prod-checkout-1\n")
