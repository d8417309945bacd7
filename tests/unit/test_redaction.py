"""How redaction behaves as an interface: caps, copies, streams, names. (The secret forms and identifiers it
must and must not mask are the corpus: test_redaction_corpus.py.)"""
from __future__ import annotations

import json

import pytest

from agents.aws_ecs_service.diagnosis.redaction import (
    MASK,
    MAX_FIELD_CHARS,
    cap_text,
    redact_evidence,
    redact_lines,
    redact_text,
)
from agents.aws_ecs_service.diagnosis.secret_names import is_secret_name
from tests.unit.redaction_corpus import AWS_SECRET, RSA_BODY


def test_task_definition_values_redacted_names_kept_input_untouched():
    evidence = {
        "task_definitions": {"arn:td/api:2": {"containerDefinitions": [{
            "name": "api",
            "environment": [{"name": "DATABASE_URL", "value": "postgres://u:pw12345@h/db"},
                            {"name": "FEATURE", "value": "on"}],
            "secrets": [{"name": "STRIPE_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:stripe"}],
        }]}},
        "tasks": {"running": [{"overrides": {"containerOverrides": [
            {"name": "api", "environment": [{"name": "TOKEN", "value": "abc123xyz"}]}]}}], "stopped": []},
        "logs": [{"events": [{"message": "login with password=letmein99"}]}],
    }
    out = redact_evidence(evidence)
    blob = json.dumps(out)
    for secret in ("pw12345", '"on"', "secret:stripe", "abc123xyz", "letmein99"):
        assert secret not in blob
    for name in ("DATABASE_URL", "FEATURE", "STRIPE_KEY", "TOKEN"):
        assert name in blob
    assert out["redacted"] is True and list(out)[:3] == ["task_definitions", "tasks", "logs"]
    assert evidence["logs"][0]["events"][0]["message"] == "login with password=letmein99"


def test_cap_keeps_short_text_and_cuts_long_text_at_a_separator_saying_how_much():
    assert cap_text("short") == "short"
    text = "word " * 3000
    capped = cap_text(text)
    head, marker = capped.split("…")
    assert len(head) <= MAX_FIELD_CHARS and head.endswith("word") and text.startswith(head)
    assert marker == f"[cut {len(text) - len(head)} chars]"
    assert cap_text("x" * 20000).startswith("x" * MAX_FIELD_CHARS + "…[cut 11808 chars]")


def test_a_secret_across_the_cut_is_dropped_not_left_half_unmatched():
    text = "a " * ((MAX_FIELD_CHARS - 20) // 2) + AWS_SECRET + " tail"
    out = redact_evidence({"service": {"events": [{"message": text}]}})["service"]["events"][0]["message"]
    assert "[cut " in out and AWS_SECRET[:8] not in out


@pytest.mark.attack("secret leak")
def test_every_evidence_string_is_capped_before_matching_and_secrets_before_the_cut_are_masked():
    hostile = "DB_PASSWORD=hunter2hunter2 " + "password=" * 8000
    evidence = {"tasks": {"stopped": [{"stoppedReason": hostile}]},
                "logs": [{"events": [{"message": hostile}]}],
                "task_definitions": {"td": {"containerDefinitions": [{"name": "api", "dockerLabels": {"x": hostile},
                                                                      "command": [hostile]}]}},
                "alarms": [{hostile: "v"}]}
    out = redact_evidence(evidence)
    strings = [out["tasks"]["stopped"][0]["stoppedReason"], out["logs"][0]["events"][0]["message"],
               out["task_definitions"]["td"]["containerDefinitions"][0]["dockerLabels"]["x"],
               out["task_definitions"]["td"]["containerDefinitions"][0]["command"][0], *out["alarms"][0]]
    assert all(len(s) < MAX_FIELD_CHARS + 40 and "…[cut " in s for s in strings)
    assert all("hunter2hunter2" not in s for s in strings[:4])


def test_an_open_key_continues_only_over_its_body_lines():
    """A BEGIN line whose END never follows must not hide the rest of the stream (the crash that follows it)."""
    lines = ["loading -----BEGIN PRIVATE KEY-----", RSA_BODY[0], "Yw==",
             "Traceback (most recent call last):", "ImportError: cannot import name 'x'", RSA_BODY[1][:30]]
    out = redact_lines(lines)
    assert out[:3] == ["loading -----BEGIN PRIVATE KEY-----", MASK, MASK]
    assert out[3:5] == lines[3:5]


def test_a_key_split_over_events_keeps_what_follows_its_end():
    out = redact_lines(["-----BEGIN EC PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED", "", RSA_BODY[0],
                        "-----END EC PRIVATE KEY----- loaded; token=abc123def", "OutOfMemoryError"])
    assert out == ["-----BEGIN EC PRIVATE KEY-----", MASK, "", MASK,
                   f"-----END EC PRIVATE KEY----- loaded; token={MASK}", "OutOfMemoryError"]


def test_text_is_masked_the_same_alone_or_as_a_line():
    text = f"ERROR auth failed secret={AWS_SECRET} for postgres://u:pw@db:5432/x"
    assert redact_lines([text]) == [redact_text(text)] == [f"ERROR auth failed secret={MASK} for "
                                                           f"postgres://u:{MASK}@db:5432/x"]


@pytest.mark.parametrize("name", [
    "DB_PASSWORD", "DB_PASS", "db.password", "x-api-key", "splunk-token", "AccountKey", "SharedAccessKey", "sig",
    "client_secret", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "Authorization", "JSESSIONID", "session_id",
    "GITLAB_PAT", "REDIS_AUTH", "HTTP_Passwd", "apikey", "privateKey", "requirepass", "Cookie",
])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "DB_PASSWORD_FILE", "secretArn", "SECRET_NAME", "token_type", "password-stdin", "AWS_ACCESS_KEY_ID", "AUTH_MODE",
    "DATABASE_URL", "awslogs-group", "privateIPv4Address", "passenger", "author", "key", "monkey", "PORT",
    "signatureVersion", "TOKEN_URL", "x" * 200 + "password",
])
def test_names_that_point_at_or_configure_a_secret_are_not_secret(name):
    assert not is_secret_name(name)
