"""Signed approval links: HMAC-SHA256 over (incident, plan hash, decision, nonce, expiry).

    token = sign(key, LinkClaims(incident_id=..., plan_hash=..., decision="approve", nonce=..., expires_at=...))
    claims = verify(key, token)   # raises LinkForged (altered or wrong key) or LinkExpired

The signature proves the link came from us and was not altered; expiry is in the signed
claims; "works once" is the approval store's job (the nonce must still be pending there).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Literal

from pydantic import BaseModel, ValidationError

Decision = Literal["approve", "reject"]
KEY_CACHE_S = 300


class LinkError(Exception):
    status = 400


class LinkForged(LinkError):
    """Not signed by us, or altered after signing."""

    status = 403


class LinkExpired(LinkError):
    status = 410


class LinkClaims(BaseModel):
    incident_id: str
    plan_hash: str
    decision: Decision
    nonce: str
    expires_at: int  # epoch seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign(key: bytes, claims: LinkClaims) -> str:
    body = _b64(json.dumps(claims.model_dump(), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, now: float | None = None) -> LinkClaims:
    body, _, mac = (token or "").partition(".")
    # bytes: compare_digest refuses str with non-ASCII characters (a junk token must be a 403, not a crash)
    if not body or not mac or not hmac.compare_digest(_mac(key, body).encode(), mac.encode()):
        raise LinkForged("this approval link is not valid: its signature does not match")
    try:
        claims = LinkClaims.model_validate(json.loads(_unb64(body)))
    except (ValueError, binascii.Error, ValidationError) as exc:
        raise LinkForged("this approval link is not valid: its content is malformed") from exc
    if (time.time() if now is None else now) >= claims.expires_at:
        raise LinkExpired("this approval link has expired")
    return claims


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/approvals/{token}"


def load_key(secret_arn: str) -> bytes:
    """The HMAC key (the secret's string), cached for a few minutes by Powertools' parameters utility."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    value = get_secret(secret_arn, max_age=KEY_CACHE_S)
    if not value:
        raise LinkError(f"approval key secret {secret_arn} is empty")
    return value.encode() if isinstance(value, str) else bytes(value)
