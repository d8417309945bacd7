"""Text normalisation for the messages ECS, the ECS agent and applications write.

The rule table matches stable tokens, not sentences. Before matching, texts go through
`normalise` so the known variants look the same:

* the ECS agent's pull-error hints use a curly apostrophe (`can’t`), AWS docs use `You’ve`;
* service events start with `(service NAME)`, the older `service NAME`, the doc template
  `service (NAME)` or `(service NAME, taskSet ID)`; `strip_service_prefix` removes them;
* the docs print `task failed to start`, real services `tasks failed to start` (`TASKS`);
* reasons are cut by the agent at 1,024 characters (`MAX_REASON_CHARS`), so rules only
  use tokens that appear early and never anchor on a sentence's tail.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REASON_CHARS = 1024
TASKS = r"tasks?"

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})
_SPACES = re.compile(r"\s+")
# A log line written at a level below ERROR (INFO/WARN retries, hints) does not say why a process exited.
_LOW_LEVEL = re.compile(
    r"^.{0,48}?(?:(?:^|[\s\[|])(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING)(?=[\s\]:|]|$)"
    r"|level=(?:trace|debug|info|warn|warning)\b"
    r"|\"level\": ?\"(?:trace|debug|info|warn|warning)\")"
)

# Containers a service mesh adds beside the application: ECS Service Connect's agent, App Mesh's Envoy.
SIDECAR_CONTAINER = re.compile(r"ecs-service-connect|appnet|appmesh-envoy|aws-appmesh|\benvoy\b", re.IGNORECASE)

SERVICE_EVENT_PREFIX = re.compile(
    r"^\s*(?:"
    r"\(service (?P<svc>[^,)]+)(?:, taskSet (?P<taskset>[^)]+))?\)"  # (service NAME) / (service NAME, taskSet ID)
    r"|service \((?P<svc_doc>[^)]+)\)"                               # doc template: service (NAME)
    r"|service (?P<svc_old>[^\s(]+?):?(?=\s)"                        # older: service NAME / Service NAME:
    r")\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ServiceEventText:
    service: str | None
    task_set: str | None
    body: str


def normalise(text: object) -> str:
    """Curly quotes -> straight, odd spaces and runs of whitespace -> one space."""
    if text is None:
        return ""
    return _SPACES.sub(" ", str(text).translate(_TRANSLATE)).strip()


def strip_service_prefix(message: object) -> ServiceEventText:
    """Split a service event (or a `Service NAME: ...` stopped reason) into service name and body."""
    text = normalise(message)
    m = SERVICE_EVENT_PREFIX.match(text)
    if not m:
        return ServiceEventText(None, None, text)
    name = m.group("svc") or m.group("svc_doc") or m.group("svc_old")
    return ServiceEventText(name.strip(), (m.group("taskset") or "").strip() or None, text[m.end():])


def is_sidecar(container: dict) -> bool:
    """A Service Connect or App Mesh container (by name or image), not the application."""
    return bool(SIDECAR_CONTAINER.search(f"{container.get('name') or ''} {container.get('image') or ''}"))


def is_low_level_log(line: str) -> bool:
    """True for log lines that declare a level below ERROR near their start."""
    return bool(_LOW_LEVEL.match(line))


def truncate_reason(text: str) -> str:
    """What the ECS agent keeps of a reason: its first 1,024 characters."""
    return text[:MAX_REASON_CHARS]


def clip(text: object, limit: int = 300, keep: re.Pattern[str] | None = None) -> str:
    """One line of at most `limit` characters for an evidence line; cut around `keep`'s first match (the token a
    rule decided on) when the cut from the start would lose it."""
    flat = normalise(text)
    if len(flat) <= limit:
        return flat
    m = keep.search(flat) if keep else None
    if m is None or m.end() <= limit - 1:
        return flat[: limit - 1].rstrip() + "…"
    return clip_around(flat, m.start(), m.end(), limit)


def clip_around(flat: str, start: int, end: int, limit: int) -> str:
    """`flat` cut to about `limit` characters that hold [start, end) with a third of the room before it, "…" where
    cut; a span longer than that keeps its end (a rule's `A.*?B` decides on B)."""
    width = limit - 2
    if end - start > width:
        left, right = end - width, end
    else:
        left = max(0, min(start - (width - (end - start)) // 3, len(flat) - width))
        right = min(len(flat), left + width)
    return ("…" if left else "") + flat[left:right].strip() + ("…" if right < len(flat) else "")


def resource_id(arn_or_id: object) -> str:
    """`arn:aws:ecs:...:task/prod/ab12...` -> `ab12...` (also for container instances, deployments)."""
    return str(arn_or_id or "").rsplit("/", 1)[-1]


def short_id(arn_or_id: object, length: int = 8) -> str:
    return resource_id(arn_or_id)[:length]
