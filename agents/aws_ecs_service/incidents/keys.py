"""Incident ids: one per service per hour, usable as a Step Functions execution name and an S3 key part.

Every event about the same service in the same hour maps to the same id, so a storm of events
starts one execution (the name is unique for 90 days: a repeat is ExecutionAlreadyExists).
Execution names allow 80 characters of [A-Za-z0-9_-]; the hash keeps two names that slug
to the same text apart. A chat triage gets an id of its own, shaped the same way, and a plan
approved in chat is applied by an execution whose name is derived from (incident, plan).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

BUCKET = dt.timedelta(hours=1)
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9]+")
_INCIDENT_ID = re.compile(r"^inc-[A-Za-z0-9-]{1,75}$")


def _slug(text: str, limit: int) -> str:
    return _NOT_ALLOWED.sub("-", text).strip("-")[:limit].strip("-") or "x"


def bucket_start(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def incident_id(region: str, cluster: str, service: str, at: dt.datetime) -> str:
    start = bucket_start(at)
    digest = hashlib.sha256(f"{region}/{cluster}/{service}/{start.isoformat()}".encode()).hexdigest()[:8]
    return f"inc-{_slug(cluster, 24)}-{_slug(service, 24)}-{start:%Y%m%dT%H}-{digest}"


def chat_incident_id(cluster: str, service: str, at: dt.datetime | None = None) -> str:
    """A conversation's incident, one per chat triage (each look is decided on its own), bounded and slugged like
    the intake's: a plan approved in the deployed chat is applied by the workflow under this id."""
    at = at or dt.datetime.now(dt.UTC)
    return f"chat-{_slug(cluster, 24)}-{_slug(service, 24)}-{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def approved_execution_name(incident_id: str, plan_hash: str) -> str:
    """The execution that applies a plan approved in chat: one per (incident, plan), never the incident's own
    execution (named by the incident id); the digest keeps ids cut to the same prefix apart."""
    digest = hashlib.sha256(f"{incident_id}/{plan_hash}".encode()).hexdigest()[:12]
    return f"{_slug(incident_id, 57)}-approved-{digest}"


def is_incident_id(value: str) -> bool:
    return bool(_INCIDENT_ID.match(value or ""))
