"""A turn's deadline shared by its model calls (conversation/turn_budget.py)."""
from __future__ import annotations

import threading

import pytest

from agents.aws_ecs_service.conversation.turn_budget import (
    MIN_CALL_S,
    TurnDeadline,
    remaining_s,
    turn_deadline,
    within_turn,
)


def test_without_a_deadline_a_call_runs_as_is_in_the_callers_thread():
    assert remaining_s() is None
    assert within_turn(threading.current_thread) is threading.current_thread()


def test_a_call_that_answers_in_time_returns_its_value_and_its_error():
    with turn_deadline(30):
        assert within_turn(lambda: 42) == 42
        with pytest.raises(KeyError, match="boom"):
            within_turn(lambda: {}["boom"])


def test_a_call_that_overruns_the_turn_is_abandoned_not_awaited():
    release = threading.Event()
    with turn_deadline(MIN_CALL_S + 0.2), pytest.raises(TurnDeadline, match="no answer within"):
        within_turn(lambda: release.wait(60))
    assert not release.is_set()  # the turn went on while the call was still waiting
    release.set()


def test_no_call_starts_when_less_than_a_call_is_left_of_the_turn():
    started = []
    with turn_deadline(MIN_CALL_S / 2), pytest.raises(TurnDeadline, match="left of the turn"):
        within_turn(lambda: started.append(1))
    assert started == []


def test_the_deadline_ends_with_its_turn_and_reaches_the_calls_thread():
    with turn_deadline(30):
        inside = within_turn(remaining_s)
        assert inside is not None and 0 < inside <= 30
    assert remaining_s() is None
