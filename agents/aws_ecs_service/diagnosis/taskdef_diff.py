"""What changed between two task definitions (DescribeTaskDefinition().taskDefinition).

Only what explains incidents is compared: image, task/container cpu and memory, environment
variable and secret NAMES (values never leave this module: a changed value is reported by
name only), command/entryPoint, port mappings, health check and log configuration.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .signals import clip


@dataclass(frozen=True)
class Change:
    field: str               # e.g. "memory", "image", "environment added"
    container: str | None    # None for task-level fields
    before: str              # "" for name lists (added/removed/re-valued names)
    after: str

    def describe(self) -> str:
        where = f"container {self.container}: " if self.container else ""
        if not self.before:  # names added/removed/re-valued
            return f"{where}{self.field}: {self.after}"
        return f"{where}{self.field} {self.before} -> {self.after}"


def short_name(task_definition: dict[str, Any] | str | None) -> str:
    """`arn:...:task-definition/api:62` or a task definition -> `api:62`."""
    if isinstance(task_definition, dict):
        if task_definition.get("family") and task_definition.get("revision") is not None:
            return f"{task_definition['family']}:{task_definition['revision']}"
        task_definition = task_definition.get("taskDefinitionArn")
    return str(task_definition or "").rsplit("/", 1)[-1]


def diff_task_definitions(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Changes from `before` (the previous revision) to `after` (the new one), task level first."""
    changes: list[Change] = []
    for key in ("cpu", "memory"):
        _compare(changes, key, None, before.get(key), after.get(key))
    old = {c.get("name"): c for c in before.get("containerDefinitions") or []}
    new = {c.get("name"): c for c in after.get("containerDefinitions") or []}
    for name in sorted(set(old) - set(new), key=str):
        changes.append(Change("container removed", None, "", str(name)))
    for name in sorted(set(new) - set(old), key=str):
        changes.append(Change("container added", None, "", str(name)))
    for name in [n for n in new if n in old]:
        changes.extend(_container_changes(name, old[name], new[name]))
    return changes


def describe_changes(changes: list[Change]) -> list[str]:
    return [c.describe() for c in changes]


def evidence_lines(changes: list[Change], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Finding evidence: `api:62 vs api:61: memory 2048 -> 1024`."""
    label = f"{short_name(after)} vs {short_name(before)}"
    return [f"{label}: {line}" for line in describe_changes(changes)]


def _container_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old_image, new_image = _images(old.get("image"), new.get("image"))
    _compare(changes, "image", name, old_image, new_image)
    for key in ("cpu", "memory", "memoryReservation", "command", "entryPoint"):
        _compare(changes, key, name, old.get(key), new.get(key))
    changes.extend(_named_changes("environment", name, _by_name(old.get("environment"), "value"),
                                  _by_name(new.get("environment"), "value")))
    changes.extend(_named_changes("secrets", name, _by_name(old.get("secrets"), "valueFrom"),
                                  _by_name(new.get("secrets"), "valueFrom")))
    _compare(changes, "ports", name, _ports(old), _ports(new))
    _compare(changes, "healthCheck", name, old.get("healthCheck"), new.get("healthCheck"))
    _compare(changes, "logConfiguration", name, _log_config(old), _log_config(new))
    return changes


def _images(before: str | None, after: str | None) -> tuple[str | None, str | None]:
    """Same repository path: show `repo:tag` only, so the line says what changed."""
    if before and after and before.rsplit("/", 1)[0] == after.rsplit("/", 1)[0]:
        return before.rsplit("/", 1)[-1], after.rsplit("/", 1)[-1]
    return before, after


def _compare(changes: list[Change], field: str, container: str | None, before: Any, after: Any) -> None:
    if _canonical(before) != _canonical(after):
        changes.append(Change(field, container, _show(before), _show(after)))


def _by_name(items: list[dict[str, Any]] | None, value_key: str) -> dict[str, Any]:
    return {i.get("name"): i.get(value_key) for i in items or [] if i.get("name")}


def _named_changes(field: str, container: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Added, removed and re-valued names; the values themselves are never shown."""
    out = []
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    revalued = sorted(n for n in set(before) & set(after) if before[n] != after[n])
    if removed:
        out.append(Change(f"{field} removed", container, "", ", ".join(removed)))
    if added:
        out.append(Change(f"{field} added", container, "", ", ".join(added)))
    if revalued:
        out.append(Change(f"{field} value changed", container, "", ", ".join(revalued)))
    return out


def _ports(container: dict[str, Any]) -> list[str]:
    return sorted(
        f"{p.get('containerPort')}/{p.get('protocol', 'tcp')}"
        + (f" host {p['hostPort']}" if p.get("hostPort") not in (None, p.get("containerPort")) else "")
        for p in container.get("portMappings") or []
    )


def _log_config(container: dict[str, Any]) -> dict[str, Any] | None:
    cfg = container.get("logConfiguration")
    if not cfg:
        return None
    return {"logDriver": cfg.get("logDriver"), "options": cfg.get("options") or {}}


def _canonical(value: Any) -> str:
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, int | float):  # task-level cpu/memory are strings, container-level numbers
        value = str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _show(value: Any) -> str:
    if value in (None, "", [], {}):
        return "(none)"
    if isinstance(value, str | int | float):
        return clip(value, 160)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return clip(" ".join(str(v) for v in value), 160)
    return clip(json.dumps(value, sort_keys=True, separators=(",", ":")), 160)
