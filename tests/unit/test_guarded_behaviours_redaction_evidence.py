"""Redaction of an evidence document as a whole: the length cap, log streams (a private key logged one line per
event), the shapes events come in, and the parts of the document that are not log streams. Each test names the
secret it keeps out or the text it keeps readable."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, cap_text, redact_evidence, redact_lines

M = MASK
# A private key's body lines too short (36 characters) for the rule that masks a long random base64 line seen
# alone: only the open key masks them.
SHORT_BODY = ("MIIEpAIBAAKCAQEA7bq9Xy0Zc3JpvW6k1lZq", "fG2hJ8kL3mN6pQ9rS2tU5vW8xY1zA4bC7dE0")
BEGIN, END = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"


# ---- the cap -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "limit", "capped"), [
    ("x" * 10, 10, "x" * 10),                                  # exactly at the limit: kept whole
    ("x" * 11, 10, "x" * 10 + "…[cut 1 chars]"),               # no separator: cut at the limit
    ("a" * 100 + " " + "b" * 150 + " " + "c" * 100, 300,       # the last separator near the limit
     "a" * 100 + " " + "b" * 150 + "…[cut 101 chars]"),
    ("ab " + "x" * 600, 500, "ab " + "x" * 497 + "…[cut 103 chars]"),  # a separator far before the limit: not used
    (" " + "x" * 20, 10, " " + "x" * 9 + "…[cut 11 chars]"),   # a separator at 0 would leave nothing: not used
    ("a " + "x" * 20, 10, "a…[cut 21 chars]"),                 # a separator at 1 is used
])
def test_cap_cuts_at_the_last_separator_near_the_limit_and_says_how_much(text, limit, capped):
    assert cap_text(text, limit) == capped


def test_a_cut_marker_quoted_inside_a_message_does_not_shield_what_follows_it():
    quoted = "retry …[cut 3 chars] token=abc123def"
    capped_with_quote = "copied …[cut 4 chars] password=hunter2hunter2 " + "x " * 5000
    out = redact_evidence({"service": {"events": [{"message": quoted}, {"message": capped_with_quote}]}})
    first, second = (e["message"] for e in out["service"]["events"])
    assert first == f"retry …[cut 3 chars] token={M}"
    assert second.startswith(f"copied …[cut 4 chars] password={M} x x") and second.endswith(" chars]")


def test_non_string_keys_and_values_are_kept():
    assert redact_evidence({"metrics": {1: 2.5, "n": None, "ok": True}}) == {
        "metrics": {1: 2.5, "n": None, "ok": True}, "redacted": True}


# ---- log streams ---------------------------------------------------------------------------------------------
def _stream(events: list) -> dict:
    return {"group": "/ecs/api", "stream": "ecs/api/0123456789abcdef0123456789abcdef", "events": events}


KEY_LINES = ["loading key", BEGIN, *SHORT_BODY, "Yw==", f"{END} loaded", "ready"]
KEY_MASKED = ["loading key", BEGIN, M, M, M, f"{END} loaded", "ready"]


def test_a_key_logged_one_line_per_event_is_masked_over_its_body_lines_in_every_event_shape():
    objects = [{"timestamp": f"t{i}", "ingestionTime": i, "message": line} for i, line in enumerate(KEY_LINES)]
    pairs = [[f"t{i}", line] for i, line in enumerate(KEY_LINES)]
    triples = [[f"t{i}", line, "api"] for i, line in enumerate(KEY_LINES)]
    out = redact_evidence({"logs": [_stream(objects), _stream(pairs), _stream(triples)]})["logs"]
    assert out[0]["events"] == [{"timestamp": f"t{i}", "ingestionTime": i, "message": line}
                                for i, line in enumerate(KEY_MASKED)]
    assert out[1]["events"] == [[f"t{i}", line] for i, line in enumerate(KEY_MASKED)]
    assert out[2]["events"] == [[f"t{i}", line, "api"] for i, line in enumerate(KEY_MASKED)]
    assert out[0]["stream"] == "ecs/api/0123456789abcdef0123456789abcdef" and out[0]["group"] == "/ecs/api"
    assert redact_lines(KEY_LINES) == KEY_MASKED


def test_a_stream_starts_with_no_key_open():
    assert redact_lines(["ready", "Yw=="]) == ["ready", "Yw=="]
    assert redact_evidence({"logs": [_stream([{"message": "ready"}])]})["logs"][0]["events"] == [{"message": "ready"}]


def test_a_key_body_long_enough_to_be_capped_is_masked_and_stays_open_into_the_next_event():
    body = "\n".join(SHORT_BODY * 150)  # about 11 000 characters: over the cap
    out = redact_evidence({"logs": [_stream([{"message": BEGIN}, {"message": body}, {"message": "Yw=="},
                                             {"message": f"{END} started"}, {"message": "ready"}])]})
    messages = [e["message"] for e in out["logs"][0]["events"]]
    assert SHORT_BODY[0] not in messages[1] and SHORT_BODY[1] not in messages[1] and "…[cut " in messages[1]
    assert messages[2:] == [M, f"{END} started", "ready"]


def test_a_message_that_is_only_a_cut_marker_leaves_an_open_key_open():
    out = redact_evidence({"logs": [_stream([{"message": BEGIN}, {"message": "…[cut 5 chars]"}, {"message": "Yw=="}])]})
    assert out["logs"][0]["events"] == [{"message": BEGIN}, {"message": "…[cut 5 chars]"}, {"message": M}]


def test_events_of_other_shapes_are_redacted_as_values():
    out = redact_evidence({"logs": [_stream([
        "password=hunter2x",                                  # a bare string
        {"timestamp": 1, "text": "password=hunter2x"},        # an object without a message
        {"timestamp": 2, "message": None},                    # a message that is not text
        ["only-one"], [3, 4]])]})
    assert out["logs"][0]["events"] == [f"password={M}", {"timestamp": 1, "text": f"password={M}"},
                                        {"timestamp": 2, "message": None}, ["only-one"], [3, 4]]


def test_log_entries_that_are_not_streams_are_redacted_as_values():
    out = redact_evidence({"logs": ["password=hunter2x", {"group": "/ecs/api", "note": "token=abc123def"},
                                    {"events": "password=hunter2x"}]})
    assert out["logs"] == [f"password={M}", {"group": "/ecs/api", "note": f"token={M}"}, {"events": f"password={M}"}]


def test_service_events_are_not_a_log_stream_a_key_line_there_hides_nothing_after_it():
    out = redact_evidence({"service_deployments": [{"events": [{"message": BEGIN}, {"message": "ready"}]}],
                           "service": {"events": [{"message": BEGIN}, {"message": "ready"}]}})
    assert out["service_deployments"][0]["events"] == [{"message": BEGIN}, {"message": "ready"}]
    assert out["service"]["events"] == [{"message": BEGIN}, {"message": "ready"}]


# ---- task definitions and tasks ------------------------------------------------------------------------------
def test_task_entries_that_are_not_task_objects_are_left_alone():
    arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
    evidence = {"tasks": {"running": [arn, {"taskArn": arn, "overrides": [1]}], "total": 2, "stopped": None},
                "task_definitions": {"arn:aws:ecs:us-east-1:123456789012:task-definition/api:7": "missing"}}
    assert redact_evidence(evidence) == {**evidence, "redacted": True}


# ---- named values anywhere in the document -------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ({"password": "hunter2-hunter2"}, {"password": MASK}),                                 # a secret-named key
    ({"password": "arn:aws:secretsmanager:us-east-1:1:secret:db"},                          # it points at a secret
     {"password": "arn:aws:secretsmanager:us-east-1:1:secret:db"}),
    ({"password": ""}, {"password": ""}),                                                   # nothing to hide
    ({"password": 12345}, {"password": 12345}),                                             # not text
    ({"name": "api_token", "value": "abc"}, {"name": "api_token", "value": MASK}),          # a name/value pair
    ({"Name": "DB_PASS", "Value": "abc"}, {"Name": "DB_PASS", "Value": MASK}),
    ({"key": "x-api-key", "value": "abc"}, {"key": "x-api-key", "value": MASK}),
    ({"Key": "ClientSecret", "Value": "abc"}, {"Key": "ClientSecret", "Value": MASK}),
    ({"Key": "team", "Value": "orders"}, {"Key": "team", "Value": "orders"}),              # a tag that is no secret
    ({"name": "TOKEN", "value": ""}, {"name": "TOKEN", "value": ""}),
    ({"name": "TOKEN", "value": 7}, {"name": "TOKEN", "value": 7}),
    ({"name": 7, "value": "abc"}, {"name": 7, "value": "abc"}),
])
def test_values_under_secret_names_are_masked_anywhere_in_the_document(value, expected):
    assert redact_evidence({"service": {"tags": [value]}})["service"]["tags"] == [expected]
