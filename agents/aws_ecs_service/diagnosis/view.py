"""The evidence document read once for the analyzers: cut to the window and to the service's own tasks."""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .evidence import parse_time
from .signals import clip, is_sidecar, normalise, resource_id, strip_service_prefix
from .taskdef_diff import short_name


@dataclass(frozen=True)
class Event:
    at: dt.datetime | None
    message: str   # as ECS wrote it (normalised)
    body: str      # service prefix removed

    def line(self, keep: re.Pattern[str] | None = None) -> str:
        """The evidence line; cut around `keep` (the rule's match) when the event is long."""
        stamp = self.at.isoformat() if self.at else "?"
        return f"event {stamp}: {clip(self.message, keep=keep)}"


@dataclass
class View:
    evidence: dict[str, Any]
    service_name: str
    start: dt.datetime | None
    end: dt.datetime | None
    service: dict[str, Any]
    desired: int
    running: int
    current_td: str | None
    previous_td: str | None
    task_definitions: dict[str, dict[str, Any]]
    deployments: list[dict[str, Any]]          # DescribeServices deployments, newest first
    service_deployments: list[dict[str, Any]]
    events: list[Event] = field(default_factory=list)              # newest first, inside the window
    stopped: list[dict[str, Any]] = field(default_factory=list)    # this service's tasks stopped inside the window
    running_tasks: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))  # task id -> lines
    sidecar_streams: dict[str, set[str]] = field(default_factory=dict)  # task id -> containers that are not the app
    metrics: dict[str, list[tuple[dt.datetime | None, float]]] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    container_instances: list[dict[str, Any]] | None = None   # None when they could not be read

    def in_window(self, at: dt.datetime | None) -> bool:
        if at is None:
            return True
        return (self.start is None or at >= self.start) and (self.end is None or at <= self.end)

    def taskdef(self, ref: str | None) -> dict[str, Any] | None:
        if not ref:
            return None
        if ref in self.task_definitions:
            return self.task_definitions[ref]
        want = short_name(ref)
        return next((td for arn, td in self.task_definitions.items()
                     if short_name(td) == want or short_name(arn) == want), None)

    def app_logs(self, task_id: str) -> list[tuple[str, str]]:
        """The task's log lines from its application containers (a sidecar's lines are not the app's story)."""
        return [(c, m) for c, m in self.logs.get(task_id, []) if c not in self.sidecar_streams.get(task_id, ())]


def read_view(evidence: dict[str, Any]) -> View:
    target = evidence.get("target") or {}
    window = evidence.get("window") or {}
    service = evidence.get("service") or {}
    name = service.get("serviceName") or target.get("service") or ""
    tasks = evidence.get("tasks") or {}
    group = f"service:{name}"
    view = View(
        evidence=evidence, service_name=name, start=parse_time(window.get("start")), end=parse_time(window.get("end")),
        service=service, desired=int(service.get("desiredCount") or 0), running=int(service.get("runningCount") or 0),
        current_td=evidence.get("current_task_definition") or service.get("taskDefinition"),
        previous_td=evidence.get("previous_task_definition"),
        task_definitions=evidence.get("task_definitions") or {},
        deployments=sorted(service.get("deployments") or [], key=lambda d: ts(d.get("createdAt")), reverse=True),
        service_deployments=list(evidence.get("service_deployments") or []),
        running_tasks=[t for t in tasks.get("running") or [] if t.get("group") == group],
        alarms=list(evidence.get("alarms") or []),
    )
    for e in service.get("events") or []:
        at = parse_time(e.get("createdAt"))
        if view.in_window(at):
            msg = normalise(e.get("message"))
            view.events.append(Event(at, msg, strip_service_prefix(msg).body))
    view.events.sort(key=lambda e: ts(e.at), reverse=True)
    view.stopped = sorted((t for t in tasks.get("stopped") or []
                           if t.get("group") == group and view.in_window(stopped_at(t))),
                          key=lambda t: (ts(stopped_at(t)), t.get("taskArn") or ""))
    for entry in evidence.get("logs") or []:
        _read_log(view, entry)
    for metric, points in (evidence.get("metrics") or {}).items():
        view.metrics[metric] = _datapoints(points, view)
    if not any("ContainerInstances" in str(err.get("call", "")) for err in evidence.get("errors") or []):
        view.container_instances = list(evidence.get("container_instances") or [])
    return view


def _read_log(view: View, entry: dict[str, Any]) -> None:
    tid = resource_id(entry.get("task_id") or entry.get("stream"))
    container = entry.get("container") or ""
    if entry.get("essential") is False or is_sidecar({"name": container}):
        view.sidecar_streams.setdefault(tid, set()).add(container)
    for ev in entry.get("events") or []:
        msg = ev.get("message") if isinstance(ev, dict) else ev[1] if isinstance(ev, list | tuple) else ev
        if msg:
            view.logs[tid].append((container, normalise(msg)))


def _datapoints(points: Any, view: View) -> list[tuple[dt.datetime | None, float]]:
    out = []
    for p in points or []:
        if isinstance(p, dict):
            at, value = parse_time(p.get("Timestamp") or p.get("timestamp")), p.get("Value", p.get("value"))
        else:
            at, value = parse_time(p[0]), p[1]
        if value is not None and view.in_window(at):
            out.append((at, float(value)))
    return sorted(out, key=lambda p: ts(p[0]))


def ts(value: Any) -> float:
    """Epoch seconds of a time (ISO string, epoch, datetime); 0 when unreadable."""
    at = parse_time(value)  # a naive datetime is UTC, as in an ISO string without an offset
    return at.timestamp() if at else 0.0


def stopped_at(task: dict[str, Any]) -> dt.datetime | None:
    for key in ("stoppedAt", "executionStoppedAt", "stoppingAt", "createdAt"):
        at = parse_time(task.get(key))
        if at:
            return at
    return None
