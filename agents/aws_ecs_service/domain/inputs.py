"""Input people type (command-line flags, tool arguments): checked once, refused in one readable line."""
from __future__ import annotations

import datetime as dt
import re

_NAME = re.compile(r"^(?:arn:aws[a-z\-]*:ecs:[a-z0-9\-]+:\d{12}:[a-z\-]+/[A-Za-z0-9_\-/]+|[A-Za-z0-9_\-]{1,255})$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW = dt.timedelta(days=14)


class UsageError(Exception):
    """Bad command-line input: one readable line, exit 2."""


def parse_since(text: str) -> dt.timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"--since {text!r}: expected a duration like 30m, 2h or 1d")
    window = dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    if window <= dt.timedelta(0) or window > MAX_WINDOW:
        raise UsageError(f"--since {text!r}: must be more than 0 and at most 14d")
    return window


def check_name(kind: str, value: str) -> str:
    if not value or not _NAME.match(value):
        raise UsageError(f"--{kind} {value!r}: not a valid ECS {kind} name or ARN")
    return value
