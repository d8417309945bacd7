"""Physical names that must be unique per account and region, derived from the stack's name.

Two stacks of the app (say, one per environment) then deploy side by side. RDS identifiers and
RDS Proxy names allow 1-63 letters, digits and single hyphens, starting with a letter; a stack
name can be longer (128) and hold characters they refuse, so it is folded to that alphabet and,
when cut, keeps a hash of the whole name so two long stack names never fold to one.
"""
from __future__ import annotations

import hashlib
import re

RDS_NAME_LIMIT = 63
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
_HASH_CHARS = 8


def physical_name(stack_name: str, suffix: str, limit: int = RDS_NAME_LIMIT) -> str:
    """`<stack>-<suffix>` in lower-case letters, digits and single hyphens, at most `limit` characters."""
    stem = _fold(stack_name) or "stack"
    if not stem[0].isalpha():
        stem = f"s-{stem}"
    tail = f"-{_fold(suffix)}"
    if len(stem) + len(tail) <= limit:
        return stem + tail
    digest = hashlib.sha256(stack_name.encode()).hexdigest()[:_HASH_CHARS]
    keep = limit - len(tail) - _HASH_CHARS - 1
    return f"{stem[:keep].rstrip('-')}-{digest}{tail}"


def _fold(text: str) -> str:
    return _NOT_ALLOWED.sub("-", text.lower()).strip("-")
