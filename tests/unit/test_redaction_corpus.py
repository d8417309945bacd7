"""The redaction corpora (redaction_corpus.py) as tests: every realistic secret form is masked wherever it
stands (text, a log stream, a task-definition field), and no identifier or diagnostic text is touched."""
from __future__ import annotations

import json

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, redact_evidence, redact_lines, redact_text
from tests.unit.redaction_corpus import (
    DIAGNOSTIC_TEXTS,
    FIELD_CASES,
    IDENTIFIER_CONTEXTS,
    IDENTIFIERS,
    STREAM_CASES,
    TEXT_CASES,
    wrong,
)


@pytest.mark.attack("secret leak")
@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.name)
def test_secret_form_is_masked_and_the_rest_kept(case):
    out = redact_text(case.text)
    assert MASK in out and wrong(case, out) == [], out
    assert redact_text(out) == out  # masking masked text changes nothing (the model's input is redacted twice)


@pytest.mark.attack("secret leak")
@pytest.mark.parametrize("shape", ["event objects", "[time, message] pairs"])
@pytest.mark.parametrize("case", STREAM_CASES, ids=lambda c: c.name)
def test_private_key_logged_one_line_per_event_is_masked(case, shape):
    events = [{"timestamp": "2025-03-14T11:00:00+00:00", "message": line} if shape == "event objects"
              else ["2025-03-14T11:00:00+00:00", line] for line in case.lines]
    evidence = {"logs": [{"group": "/ecs/api", "stream": "ecs/api/0123456789abcdef0123456789abcdef",
                          "task_id": "0123456789abcdef0123456789abcdef", "container": "api", "events": events}]}
    for out in (json.dumps(redact_evidence(evidence)), "\n".join(redact_lines(case.lines))):
        assert wrong(case, out) == [], out


@pytest.mark.attack("secret leak")
@pytest.mark.parametrize("case", FIELD_CASES, ids=lambda c: c.name)
def test_structured_field_is_masked_and_names_kept(case):
    evidence = case.evidence()
    before = json.dumps(evidence)
    out = json.dumps(redact_evidence(evidence))
    assert wrong(case, out) == [], out
    assert json.dumps(evidence) == before  # the collected evidence itself is left as it was


@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_identifier_is_never_touched(identifier):
    for context in IDENTIFIER_CONTEXTS:
        text = context.format(identifier)
        assert redact_text(text) == text


def test_identifiers_in_evidence_fields_are_never_touched():
    evidence = {"tasks": {"stopped": [{"taskArn": i, "stoppedReason": f"task {i} stopped", "group": i}
                                      for i in IDENTIFIERS]},
                "logs": [{"stream": i, "events": [{"message": i}, [i, f"ERROR {i}"]]} for i in IDENTIFIERS]}
    assert {k: v for k, v in redact_evidence(evidence).items() if k != "redacted"} == evidence


@pytest.mark.parametrize("text", DIAGNOSTIC_TEXTS, ids=lambda t: t[:50])
def test_diagnostic_text_is_kept(text):
    assert redact_text(text) == text
