"""Signed approval links (approval_links.py): what a link holder can and cannot do with a token.

Each test is named for the behaviour it protects. Time is passed in (`now=`), never read from the clock,
except where the default clock itself is the behaviour under test.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.incidents.approval_links import (
    LinkClaims,
    LinkError,
    LinkExpired,
    LinkForged,
    link_url,
    load_key,
    sign,
    verify,
)

KEY = b"the-approval-key"
EXPIRES = 1_900_000_000


def claims(**changes) -> LinkClaims:
    fields = {"incident_id": "inc-prod-api-20260101T12-0a1b2c3d", "plan_hash": "9f" * 16, "decision": "reject",
              "nonce": "n-4f1c", "expires_at": EXPIRES}
    return LinkClaims(**{**fields, **changes})


def body_of(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def encode(fields: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()


# -- what a genuine link carries --------------------------------------------------------------------------------

@pytest.mark.parametrize("incident_id", ["i", "inc-a", "inc-ab", "inc-abc", "inc-" + "x" * 70])
def test_a_link_we_signed_verifies_to_exactly_the_claims_we_signed(incident_id):
    # several lengths: the unpadded base64 body must decode whatever its length modulo 4
    signed = claims(incident_id=incident_id)
    assert verify(KEY, sign(KEY, signed), now=EXPIRES - 60) == signed


def mac_of(body: str, key: bytes = KEY) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()


def test_the_token_is_a_url_safe_body_and_signature_joined_by_one_dot():
    token = sign(KEY, claims())
    body, mac = token.split(".")
    assert body and mac and "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert body_of(token) == claims().model_dump()


@pytest.mark.parametrize("nonce", [f"n-{i}" for i in range(12)])
def test_the_signature_is_the_whole_hmac_sha256_of_the_body_under_the_key(nonce):
    """All 256 bits, unpadded base64url: a shorter or different MAC would be easier to forge."""
    body, mac = sign(KEY, claims(nonce=nonce)).split(".")
    assert mac == mac_of(body) and len(base64.urlsafe_b64decode(mac + "=")) == 32


def test_the_approval_url_is_the_base_url_with_the_token_under_approvals():
    assert link_url("https://api.example.com/prod/", "t.k") == "https://api.example.com/prod/approvals/t.k"
    assert link_url("https://api.example.com/prod", "t.k") == "https://api.example.com/prod/approvals/t.k"
    assert link_url("https://api.example.com/SANDBOX/", "t.k") == "https://api.example.com/SANDBOX/approvals/t.k"


# -- expiry: the boundary instant ----------------------------------------------------------------------------

def test_a_link_is_expired_at_exactly_its_expiry_instant():
    with pytest.raises(LinkExpired, match="^this approval link has expired$") as refused:
        verify(KEY, sign(KEY, claims()), now=EXPIRES)
    assert refused.value.status == 410


def test_a_link_still_works_one_instant_before_its_expiry():
    assert verify(KEY, sign(KEY, claims()), now=EXPIRES - 0.001).expires_at == EXPIRES
    assert verify(KEY, sign(KEY, claims()), now=EXPIRES - 1).expires_at == EXPIRES


def test_a_link_is_expired_after_its_expiry():
    with pytest.raises(LinkExpired):
        verify(KEY, sign(KEY, claims()), now=EXPIRES + 1)


def test_without_a_given_time_expiry_is_judged_by_the_clock():
    now = int(time.time())
    with pytest.raises(LinkExpired):
        verify(KEY, sign(KEY, claims(expires_at=now - 3600)))
    assert verify(KEY, sign(KEY, claims(expires_at=now + 3600))).expires_at == now + 3600


def test_an_expired_link_is_refused_as_expired_not_forged():
    """Expiry is only judged on a genuine link: the holder of a genuine stale link learns it expired."""
    with pytest.raises(LinkError) as refused:
        verify(KEY, sign(KEY, claims(expires_at=100)), now=200)
    assert type(refused.value) is LinkExpired


def test_a_forged_link_is_refused_as_forged_even_when_it_has_also_expired():
    with pytest.raises(LinkForged):
        verify(KEY, sign(b"another key", claims(expires_at=100)), now=200)


# -- forged, altered, malformed -----------------------------------------------------------------------------

def test_a_link_signed_with_another_key_is_forged():
    with pytest.raises(LinkForged, match="^this approval link is not valid: its signature does not match$") as refused:
        verify(KEY, sign(b"another key", claims()), now=0)
    assert refused.value.status == 403


@pytest.mark.parametrize("field, value", [("decision", "approve"), ("incident_id", "inc-other"),
                                          ("plan_hash", "00" * 16), ("nonce", "n-0000"),
                                          ("expires_at", EXPIRES + 86400)])
def test_a_link_with_any_signed_field_altered_is_forged(field, value):
    token = sign(KEY, claims())
    altered = encode({**body_of(token), field: value}) + "." + token.split(".")[1]
    with pytest.raises(LinkForged, match="its signature does not match"):
        verify(KEY, altered, now=0)


def test_a_link_with_one_signature_character_changed_is_forged():
    body, mac = sign(KEY, claims()).split(".")
    for i in (0, len(mac) // 2, len(mac) - 1):
        flipped = mac[:i] + ("A" if mac[i] != "A" else "B") + mac[i + 1:]
        with pytest.raises(LinkForged):
            verify(KEY, f"{body}.{flipped}", now=0)


@pytest.mark.parametrize("token", ["", None, ".", "no-dot-at-all", "body.", ".signature", "ünïcödé.sïgnätürë",
                                   "a.b.c"])
def test_a_token_that_is_no_token_is_forged_not_a_crash(token):
    with pytest.raises(LinkForged):
        verify(KEY, token, now=0)


@pytest.mark.parametrize("body", [
    base64.urlsafe_b64encode(b"not json").decode().rstrip("="),
    encode({"incident_id": "inc-a"}),                                           # fields missing
    encode({**claims().model_dump(), "decision": "approve-everything"}),        # not a decision
    encode({**claims().model_dump(), "expires_at": "tomorrow"}),                 # not a time
    encode(["a", "list"]),
    "!!!!",                                                                      # not base64
])
def test_a_correctly_signed_body_that_is_not_a_claim_is_malformed(body):
    """Signed by us (so no outsider made it) but not a claim: refused as malformed, never half-read."""
    with pytest.raises(LinkForged, match="^this approval link is not valid: its content is malformed$"):
        verify(KEY, f"{body}.{mac_of(body)}", now=0)


def test_an_empty_body_is_unsigned_even_with_the_mac_of_the_empty_string():
    with pytest.raises(LinkForged, match="its signature does not match"):
        verify(KEY, f".{mac_of('')}", now=0)


# -- the key ---------------------------------------------------------------------------------------------------

@mock_aws
def test_the_key_is_the_secret_string_as_bytes(aws_env):
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="approval-key-bytes", SecretString="s3cr3t-k3y")["ARN"]
    assert load_key(arn) == b"s3cr3t-k3y"


@mock_aws
def test_a_binary_key_secret_is_used_as_its_bytes(aws_env):
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="approval-key-binary", SecretBinary=b"\x00k\xffey")["ARN"]
    assert load_key(arn) == b"\x00k\xffey"
