"""A conversation turn's deadline, shared by every model call of the turn.

API Gateway ends a chat request at 29 s, and a turn can make several model calls (context extraction, up to
MAX_TOOL_ROUNDS tool rounds, the explanation), each allowed MODEL_TIMEOUT_S with a retry. Under a deadline a call
gets only what is left of the turn and is not started when too little is left: the turn then ends with the
rules' findings (the model's part marked unavailable) and is checkpointed in time, instead of the caller
getting a 504 and the turn being lost. A context variable carries it, because LangGraph runs each node in a
copy of the caller's context.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar, copy_context
from typing import TypeVar

T = TypeVar("T")

# Below this a model call cannot finish anyway (Bedrock's first token alone takes about a second).
MIN_CALL_S = 1.0

_deadline: ContextVar[float | None] = ContextVar("turn_deadline", default=None)


class TurnDeadline(Exception):
    """The turn's time ran out before the call could answer."""


@contextlib.contextmanager
def turn_deadline(seconds: float | None) -> Iterator[None]:
    """Calls made inside share `seconds` from now (None: no deadline)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def within_turn(fn: Callable[[], T]) -> T:
    """fn() if it answers within what is left of the turn; raises TurnDeadline otherwise. A call that overruns is
    left to finish in a daemon thread (its client timeout ends it) while the turn goes on without it."""
    left = remaining_s()
    if left is None:
        return fn()
    if left < MIN_CALL_S:
        raise TurnDeadline(f"{max(left, 0):.1f} s left of the turn")
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is
            box["error"] = exc

    worker = threading.Thread(target=copy_context().run, args=(run,), daemon=True, name="model-call")
    worker.start()
    worker.join(left)
    if worker.is_alive():
        raise TurnDeadline(f"no answer within the {left:.1f} s left of the turn")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
