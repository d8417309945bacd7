"""Remove secrets from evidence and text before anything is stored, sent to a model or logged.

Entry points: `redact_text` (one string), `redact_lines` (the lines of one log stream, where a
private key goes on across lines: awslogs sends each line as an event of its own) and
`redact_evidence` (an evidence document, see evidence.py: what `run_triage` keeps, stores and
reports unless `allowSensitiveData` is on).

What is masked: secret_text.py (free text: private keys, URL passwords, token forms, AWS keys,
auth headers, values of secret names, command-line secrets), secret_fields.py (task-definition
fields: environment values, secret references, repository credentials, secret-named labels and
options, command/entryPoint/health-check arguments). What never is: ARNs, task and container ids,
image refs and digests, request ids, log stream names. The diagnosis joins tasks, log streams and
events on them, and the classifier runs on the redacted document (`ecs-agent replay` must give the
same answer from evidence.json).

Cost: every string of an evidence document is cut to MAX_FIELD_CHARS first (at a word boundary
near the limit, with a visible "…[cut N chars]"), and every rule runs in linear time, so hostile
text costs milliseconds (`bench/redaction_speed.py`).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .secret_fields import redact_container, secret_keys
from .secret_text import MASK, mask_secrets

__all__ = ["MASK", "MAX_FIELD_CHARS", "cap_text", "redact_evidence", "redact_lines", "redact_text"]

MAX_FIELD_CHARS = 8192
_CUT_NEAR = 256  # cut at the last separator this close to the limit, so no secret is left half-cut (and unmatched)
_SEPARATORS = " \t\n\"',;"
_CUT = "…[cut "


def cap_text(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` cut to about `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    boundary = max(head.rfind(sep, limit - _CUT_NEAR) for sep in _SEPARATORS)
    if boundary > 0:
        head = head[:boundary]
    return f"{head}{_CUT}{len(text) - len(head)} chars]"


def redact_text(text: str) -> str:
    """`text` with its secrets masked."""
    return mask_secrets(text)[0]


def redact_lines(lines: Iterable[str]) -> list[str]:
    """The lines of one stream, masked; a private key that begins in one line is masked over its body lines, up
    to its END line."""
    masked, key_open = [], False
    for line in lines:
        line, key_open = mask_secrets(line, key_open)
        masked.append(line)
    return masked


def _mask_capped(text: str, key_open: bool = False) -> tuple[str, bool]:
    """mask_secrets on a capped string; its cut marker is not matched (a masked value must not swallow it)."""
    if not text.endswith(" chars]") or (cut := text.rfind(_CUT)) < 0:
        return mask_secrets(text, key_open)
    masked, key_open = mask_secrets(text[:cut], key_open)
    return masked + text[cut:], key_open


def _capped_copy(value: Any) -> Any:
    if isinstance(value, str):
        return cap_text(value)
    if isinstance(value, dict):
        return {cap_text(k) if isinstance(k, str) else k: _capped_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_capped_copy(v) for v in value]
    return value


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_capped(value)[0]
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, dict):
        masked = secret_keys(value)
        return {k: MASK if k in masked else _redact_value(v) for k, v in value.items()}
    return value


def _redact_stream(stream: Any) -> Any:
    """One `logs` entry: its events are the lines of one stream, in order."""
    if not isinstance(stream, dict) or not isinstance(stream.get("events"), list):
        return _redact_value(stream)
    events, key_open = [], False
    for event in stream["events"]:
        if isinstance(event, dict) and isinstance(event.get("message"), str):
            message, key_open = _mask_capped(event["message"], key_open)
            event = {k: message if k == "message" else _redact_value(v) for k, v in event.items()}
        elif isinstance(event, list) and len(event) >= 2 and isinstance(event[1], str):  # [timestamp, message]
            message, key_open = _mask_capped(event[1], key_open)
            event = [event[0], message, *event[2:]]
        else:
            event = _redact_value(event)
        events.append(event)
    return {k: events if k == "events" else _redact_value(v) for k, v in stream.items()}


def _containers(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Container definitions of every task definition, and the container overrides of every task."""
    for task_definition in (doc.get("task_definitions") or {}).values():
        if isinstance(task_definition, dict):
            yield from (c for c in task_definition.get("containerDefinitions") or [] if isinstance(c, dict))
    for group in (doc.get("tasks") or {}).values():
        for task in group if isinstance(group, list) else []:
            overrides = task.get("overrides") if isinstance(task, dict) else None
            if isinstance(overrides, dict):
                yield from (c for c in overrides.get("containerOverrides") or [] if isinstance(c, dict))


def redact_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """A redacted copy of an evidence document (see evidence.py), every string capped; the input is not changed."""
    doc = _capped_copy(evidence)
    for container in _containers(doc):
        redact_container(container)
    redacted = {k: [_redact_stream(s) for s in v] if k == "logs" and isinstance(v, list) else _redact_value(v)
                for k, v in doc.items()}
    redacted["redacted"] = True
    return redacted
