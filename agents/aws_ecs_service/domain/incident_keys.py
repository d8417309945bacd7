"""Incident ids, usable as a Step Functions execution name and an S3 key part.

An incident is opened once per service trouble (domain.incident: one open incident per service), so
its id only has to be unique and readable: the service's names, the time it opened, and a digest of
the service's identity and the signal that opened it (two services with the same names in two
regions or accounts, or two incidents of one service, never share an id). The intake derives the id
from the event, so a redelivered event names the same execution (ExecutionAlreadyExists, unique for
90 days). Execution names allow 80 characters of [A-Za-z0-9_-]. A plan approved in chat is applied by
an execution whose name is derived from (incident, plan).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

from .target import ServiceTarget

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9]+")
_INCIDENT_ID = re.compile(r"(?:inc|chat)-[A-Za-z0-9-]{1,74}")  # at most 79 characters: a valid execution name


def _slug(text: str, limit: int) -> str:
    return _NOT_ALLOWED.sub("-", text).strip("-")[:limit].strip("-") or "x"


def incident_id(target: ServiceTarget, opened_at: dt.datetime, opened_by: str, prefix: str = "inc") -> str:
    """`opened_by`: the id of the signal that opened it (an EventBridge event id, a chat thread and turn)."""
    at = opened_at.astimezone(dt.UTC) if opened_at.tzinfo else opened_at.replace(tzinfo=dt.UTC)
    digest = hashlib.sha256(f"{target.key}|{opened_by}".encode()).hexdigest()[:10]
    return f"{prefix}-{_slug(target.cluster, 22)}-{_slug(target.service, 22)}-{at:%Y%m%dT%H%M%S}-{digest}"


def incident_id_for(target: ServiceTarget, trigger_at: str, opened_by: str, prefix: str = "inc") -> str:
    """The id of the incident a signal opens (`trigger_at`: its ISO time)."""
    try:
        at = dt.datetime.fromisoformat(trigger_at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        at = dt.datetime.now(dt.UTC)
    return incident_id(target, at, opened_by, prefix)


def approved_execution_name(incident_id_: str, plan_hash: str) -> str:
    """The execution that applies a plan approved in chat: one per (incident, plan), never the incident's own
    execution (named by the incident id); the digest keeps ids cut to the same prefix apart."""
    digest = hashlib.sha256(f"{incident_id_}/{plan_hash}".encode()).hexdigest()[:12]
    return f"{_slug(incident_id_, 57)}-approved-{digest}"


def is_incident_id(value: str) -> bool:
    # fullmatch: `$` would let a trailing newline through
    return bool(_INCIDENT_ID.fullmatch(value or ""))
