"""Fresh reads for the conversation's follow-ups: how the service is now, what its last revision changed, and the
failing containers' log lines around the one that matters.

Each answer is read from AWS when asked (the thread's findings are the past). Only reads; every text that
leaves here is redacted. AWS failures become diagnosis.errors exceptions with their real cause (no credentials,
not found, access denied); a log stream that does not exist is reported as such, not as a failed read.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import ecs_reads
from ..aws.session import AwsContext
from ..diagnosis.collector import triage_error
from ..diagnosis.errors import ServiceNotFound
from ..diagnosis.read_targets import log_targets, log_tasks
from ..diagnosis.redaction import redact_text
from ..diagnosis.rules import rules_for
from ..diagnosis.signals import clip, is_low_level_log, short_id
from ..diagnosis.taskdef_diff import Change, diff_task_definitions, short_name

TASKS_READ = 20  # stopped and running tasks each, newest first
LOG_STREAMS = 3
LOG_LINES_READ = 200  # per stream, from the tail
LINES_BEFORE, LINES_AFTER = 3, 2  # around the matched line; "show more" doubles them
LINE_CHARS = 240
_ERRORISH = re.compile(r"error|exception|fatal|fail|panic|traceback|denied|refused|timed? ?out|killed|oom|forbidden",
                       re.I)
T = TypeVar("T")


def _read(ctx: AwsContext, call: str, cluster: str, service: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except (BotoCoreError, ClientError) as exc:
        raise triage_error(exc, call, cluster, service, ctx.region) from exc


def _service(ctx: AwsContext, cluster: str, service: str) -> dict[str, Any]:
    ecs = ctx.client("ecs")
    found = _read(ctx, "ecs:DescribeServices", cluster, service,
                  lambda: ecs_reads.describe_service(ecs, cluster, service)).get("services") or []
    if not found or found[0].get("status") == "INACTIVE":
        raise ServiceNotFound(f"service {service!r} not found in cluster {cluster!r} ({ctx.region})")
    return found[0]


# ---- "is it healthy now?" -----------------------------------------------------------------------------------

@dataclass
class HealthNow:
    healthy: bool
    verdict: str  # one line: why it is or is not healthy now
    desired: int
    running: int
    task_definition: str
    deployments: list[str]
    events: list[str]
    service_arn: str


def health_now(ctx: AwsContext, cluster: str, service: str) -> HealthNow:
    """DescribeServices now: running against desired, the deployments and their rollout, the newest events."""
    svc = _service(ctx, cluster, service)
    desired, running = int(svc.get("desiredCount") or 0), int(svc.get("runningCount") or 0)
    deployments = svc.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    revision = short_name(svc.get("taskDefinition") or "?")
    rollout = primary.get("rolloutState")
    if desired == 0:
        healthy, verdict = False, "not serving: its desired count is 0"
    elif rollout == "FAILED":
        healthy, verdict = False, f"its deployment of {short_name(primary.get('taskDefinition') or '?')} failed"
    elif running < desired:
        healthy, verdict = False, f"not yet: {running} of {desired} tasks running on {revision}"
    elif len(deployments) > 1 or rollout == "IN_PROGRESS":
        healthy, verdict = False, (f"{running} of {desired} tasks running, but a deployment of "
                                   f"{short_name(primary.get('taskDefinition') or '?')} is still in progress")
    else:
        healthy, verdict = True, f"yes: {running} of {desired} tasks running on {revision}, no deployment in progress"
    lines = [f"{d.get('status')} {short_name(d.get('taskDefinition') or '?')}: rollout {d.get('rolloutState', '?')}, "
             f"running {d.get('runningCount')}/{d.get('desiredCount')}, failed tasks {d.get('failedTasks', 0)}"
             for d in deployments]
    events = [f"{e.get('createdAt', '')}: {clip(redact_text(str(e.get('message') or '')), LINE_CHARS)}"
              for e in (svc.get("events") or [])[:3]]
    return HealthNow(healthy, verdict, desired, running, revision, lines, events, svc.get("serviceArn") or "")


# ---- "what changed?" -----------------------------------------------------------------------------------------

_REVISION = re.compile(r"\b([a-z][\w-]*):(\d+)\b", re.I)


@dataclass
class RevisionChanges:
    before: str  # family:revision
    after: str
    changes: list[str]  # redacted lines; environment and secrets by name only


def revision_changes(ctx: AwsContext, cluster: str, service: str, text: str = "") -> RevisionChanges:
    """The task-definition diff between the revision the service runs and the one before it (the other deployment
    when one is still there, else the previous ACTIVE revision of the family); two `family:N` in the text pick the
    revisions, one picks the revision compared with the current one."""
    ecs = ctx.client("ecs")
    svc = _service(ctx, cluster, service)
    current = svc.get("taskDefinition") or ""
    named = [f"{family}:{number}" for family, number in _REVISION.findall(text)]
    if len(named) >= 2:
        before, after = named[0], named[1]
    elif named:
        before, after = named[0], current
    else:
        others = [d.get("taskDefinition") for d in svc.get("deployments") or []
                  if d.get("taskDefinition") and d.get("taskDefinition") != current]
        after = current
        before = others[0] if others else _read(ctx, "ecs:ListTaskDefinitions", cluster, service,
                                                lambda: ecs_reads.previous_active_revision(ecs, current))
    if not before:
        return RevisionChanges("", short_name(after), [])
    old, new = (_read(ctx, "ecs:DescribeTaskDefinition", cluster, service,
                      lambda ref=ref: ecs_reads.describe_task_definition(ecs, ref)) for ref in (before, after))
    return RevisionChanges(short_name(old), short_name(new), [redact_text(c.describe()) for c in _ordered(
        diff_task_definitions(old, new))])


def _ordered(changes: list[Change]) -> list[Change]:
    """Image first: it is what a deploy usually changes."""
    return sorted(changes, key=lambda c: c.field != "image")


# ---- "show me the logs" ---------------------------------------------------------------------------------------

@dataclass
class Excerpt:
    task_id: str
    container: str
    stopped_reason: str
    lines: list[str]  # redacted, the matched one marked with ">"


@dataclass
class FailingLogs:
    excerpts: list[Excerpt] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "no log stream for task X (container C): group/stream"
    without_awslogs: list[str] = field(default_factory=list)  # task ids whose containers log elsewhere
    tasks_seen: int = 0


def failing_logs(ctx: AwsContext, cluster: str, service: str, since: dt.timedelta, more: bool = False) -> FailingLogs:
    """The failing containers' log lines around the line a log rule (else an error word) matches: the newest
    failed tasks first, else the running ones (diagnosis/read_targets.py chooses, as the triage does)."""
    ecs, logs = ctx.client("ecs"), ctx.client("logs")
    svc = _service(ctx, cluster, service)
    end = dt.datetime.now(dt.UTC)
    start = end - since

    def tasks(status: str) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            return [t for arns in ecs_reads.task_arn_pages(ecs, cluster, service, status, TASKS_READ)
                    for t in ecs_reads.describe_tasks(ecs, cluster, arns)]
        return _read(ctx, "ecs:DescribeTasks", cluster, service, read)

    stopped = sorted(tasks("STOPPED"), key=lambda t: str(t.get("stoppedAt") or ""), reverse=True)
    running = tasks("RUNNING")
    chosen = log_tasks(stopped, running, svc.get("taskDefinition"), set(), LOG_STREAMS)
    definitions = {arn: _read(ctx, "ecs:DescribeTaskDefinition", cluster, service,
                              lambda arn=arn: ecs_reads.describe_task_definition(ecs, arn))
                   for arn in {t["taskDefinitionArn"] for t, _ in chosen}}
    found = FailingLogs(tasks_seen=len(chosen))
    targets = log_targets(chosen, definitions, LOG_STREAMS)
    with_stream = {id(task) for task, *_ in targets}
    found.without_awslogs = [short_id(t.get("taskArn")) for t, _ in chosen if id(t) not in with_stream]
    before, after = (LINES_BEFORE * 2, LINES_AFTER * 2) if more else (LINES_BEFORE, LINES_AFTER)
    for task, container, group, stream, _essential in targets:
        task_id = short_id(task.get("taskArn"))
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False,
                                         limit=LOG_LINES_READ, startTime=int(start.timestamp() * 1000),
                                         endTime=int(end.timestamp() * 1000))["events"]
        except logs.exceptions.ResourceNotFoundException:
            found.missing.append(f"no log stream for task {task_id} (container {container}): {group} {stream}")
            continue
        except (BotoCoreError, ClientError) as exc:
            raise triage_error(exc, "logs:GetLogEvents", cluster, service, ctx.region) from exc
        messages = [str(e.get("message") or "") for e in events]
        if messages:
            found.excerpts.append(Excerpt(task_id, container, str(task.get("stoppedReason") or ""),
                                          excerpt(messages, before, after)))
    return found


def matched_line(messages: list[str]) -> tuple[int, re.Pattern[str]] | None:
    """(index, pattern) of the newest line a log rule matches (an application's own failure), else the newest
    line with an error word; lines written below ERROR level do not count."""
    candidates = [(i, m) for i, m in enumerate(messages) if not is_low_level_log(m)]
    for rule in rules_for("log"):
        hits = [i for i, m in candidates if rule.search(m)]
        if hits:
            return hits[-1], rule.pattern
    hits = [i for i, m in candidates if _ERRORISH.search(m)]
    return (hits[-1], _ERRORISH) if hits else None


def excerpt(messages: list[str], before: int = LINES_BEFORE, after: int = LINES_AFTER) -> list[str]:
    """The lines around the matched one (the last lines when none matches), redacted; the matched line is marked
    and cut around its match so the decisive token stays in view."""
    hit = matched_line(messages)
    if hit is None:
        return [f"  {clip(redact_text(m), LINE_CHARS)}" for m in messages[-(before + after + 1):]]
    index, pattern = hit
    window = range(max(0, index - before), min(len(messages), index + after + 1))
    return [f"> {clip(redact_text(messages[i]), LINE_CHARS, keep=pattern)}" if i == index
            else f"  {clip(redact_text(messages[i]), LINE_CHARS)}" for i in window]
