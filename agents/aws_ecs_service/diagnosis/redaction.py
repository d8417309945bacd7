"""Remove secrets from evidence before it is written, reported or shown to a model.

Unless `allowSensitiveData` is on: environment variable values and secret references
in task definitions (and task overrides) are replaced, names are kept; values whose key names
a secret (a log driver's `splunk-token`, a `password` label) are replaced; token-looking
strings anywhere in free text (AWS keys and session tokens, JWTs, bearer tokens, passwords in
URLs, key=value secrets, private keys) are masked.
"""
from __future__ import annotations

import copy
import re
from typing import Any

MASK = "<redacted>"

_SECRET_WORDS = r"(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key)"
_SECRET_WORDS_UPPER = r"(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)"

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, to the end marker or the end of the line
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), MASK),
    # scheme://user:password@host -> keep user and host (the user may be empty: redis://:password@host)
    (re.compile(r"(?P<pre>\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.I), r"\g<pre>" + MASK),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
    # Authorization: Bearer/Basic <token>
    (re.compile(r"(?P<pre>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9_\-.=+/]{8,}", re.I), r"\g<pre>" + MASK),
    # AWS access key ids, and STS session tokens (base64 that starts the same way every time)
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{20,}"), MASK),
    # key=value secrets (password, secret, token, api key, private key ...)
    (re.compile(r"(?P<pre>\b[\w.\-]*" + _SECRET_WORDS + r"[\w.\-]*\s*=\s*[\"']?)[^\s\"',;&}]{4,}", re.I),
     r"\g<pre>" + MASK),
    # "key": value (JSON/YAML) and ENV_STYLE_KEY: value; plain prose such as "registry auth: ..." is left alone
    (re.compile(r"(?P<pre>(?:[\"'][\w.\-]*" + _SECRET_WORDS + r"[\w.\-]*[\"']|\b[A-Z0-9_]*" + _SECRET_WORDS_UPPER
                + r"[A-Z0-9_]*)\s*:\s*[\"']?)[^\s\"',;&}]{4,}"),
     r"\g<pre>" + MASK),
    # bare 40-char AWS secret access keys (base64 alphabet, mixed case and digits)
    (re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*\d)"
                r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), MASK),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_container_definition(cd: dict[str, Any]) -> None:
    for env in cd.get("environment") or []:
        if "value" in env:
            env["value"] = MASK
    for secret in cd.get("secrets") or []:
        if "valueFrom" in secret:
            secret["valueFrom"] = MASK
    creds = cd.get("repositoryCredentials")
    if isinstance(creds, dict) and "credentialsParameter" in creds:
        creds["credentialsParameter"] = MASK
    log_cfg = cd.get("logConfiguration") or {}
    for secret in log_cfg.get("secretOptions") or []:
        if "valueFrom" in secret:
            secret["valueFrom"] = MASK


_SECRET_KEY = re.compile(_SECRET_WORDS, re.I)


def _redact_strings(obj: Any) -> Any:
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {k: MASK if isinstance(v, str) and _SECRET_KEY.search(str(k)) else _redact_strings(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_strings(v) for v in obj]
    return obj


def redact_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """A redacted deep copy of an evidence document (see evidence.py)."""
    doc = copy.deepcopy(evidence)
    for td in (doc.get("task_definitions") or {}).values():
        for cd in td.get("containerDefinitions") or []:
            _redact_container_definition(cd)
    for group in (doc.get("tasks") or {}).values():
        for task in group:
            for override in (task.get("overrides") or {}).get("containerOverrides") or []:
                _redact_container_definition(override)
    doc = _redact_strings(doc)
    doc["redacted"] = True
    return doc
