"""Follow-up questions, answered on fresh state: "is it healthy now?", "what changed?", "show me the logs",
"what happened?", "help", "is anything broken in prod?", "show more"; and the answers when a name is not found
or the services cannot be listed.

Where the answer depends on now it is read from AWS now (operations/service_now.py, operations/sweep.py); the
thread's findings only say what was true at the last check, and the reply says when that was.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..aws.session import AwsContext
from ..diagnosis.errors import ClusterNotFound, ServiceNotFound, TriageError
from ..discovery.interface import ServiceRecord
from ..discovery.matching import environment_of, match_services
from ..domain.incident import Incident
from ..operations import service_now
from ..operations.sweep import SweepJob, sweep
from . import contextualizer as ctxr

# the kinds that need no service named: they use the thread's own record or look at many services
UNTARGETED = ("help", "sweep", "more", "timeline")
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in (
    ("more", r"^\W*(?:show |give me |see )?(?:me )?(?:more|the rest|all of it|everything)(?: lines| evidence)?\W*$"
             r"|\b(?:more (?:lines|evidence|log lines)|show more|full evidence|all (?:the )?evidence)\b"),
    ("help", r"^\W*(?:help|h|\?)\W*$|\bwhat (?:can|do|else can) you do\b|\bhow (?:do|can) i use you\b"
             r"|\bwhat are you for\b|\byour capabilities\b"),
    ("sweep", r"\b(?:is |are )?(?:anything|any services?|all (?:the )?services|every service|which services?"
              r"|what services?|what'?s)\b[^.?!]*\b(?:broken|down|failing|wrong|unhealthy|on fire|degraded)\b"
              r"|\bsweep\b"),
    ("health", r"\b(?:is|are)\s+(?:it|they|that|this|[\w/-]+)\s+(?:\w+\s+)?(?:healthy|ok|okay|fine|up|back|working"
               r"|recovered|stable|fixed|better)\b|\bhealthy now\b|\bhow is it (?:doing|now)\b|\bstill (?:broken|down"
               r"|failing|degraded|unhealthy)\b"),
    ("changes", r"\bwhat(?:'s| has| have)? changed\b|\bchanges? between\b|\b(?:diff|difference|compare)\b[^.?!]*"
                r"\b(?:revisions?|task ?def\w*|versions?|deploy\w*|[\w-]+:\d+)\b"),
    ("logs", r"\b(?:show|see|give|get|read|pull|fetch|print)\b[^.?!]*\blogs?\b|\blog lines\b|^\W*logs?\W*$"),
    ("timeline", r"\bwhat happened\b|\btimeline\b|\bwhat (?:did|have) you (?:do|done)\b"),
    ("trouble", r"\bsomething(?:'s| is| seems| looks| feels)? (?:off|wrong|weird|broken|not right|strange|funny)\b"
                r"|\b(?:not|doesn'?t (?:look|seem)) right\b|\bacting (?:up|weird|strange)\b"),
))
CAPABILITIES = """I look after Amazon ECS services. You can ask me:
  · "check prod/api" or "my API in production is slow": I find the root cause from the service, its tasks, \
deployments, logs, metrics and alarms (rules decide; nothing is changed)
  · "fix it" / "roll it back" / "scale it to 4": I propose a plan and ask for your approval before any AWS write
  · "is it healthy now?": the service's state read now (running vs desired, deployments)
  · "what changed?" or "what changed between api:61 and api:62?": the task-definition diff (env and secret names only)
  · "show me the logs": the failing containers' lines around the one that matters; "show more" for more lines
  · "what happened?": the incident's timeline; "write the report": its summary
  · "is anything broken in prod?": every service of the cluster checked at once, worst first
Name the service as cluster/service (prod/api) or as you say it ("the checkout service in staging")."""


def asked(text: str) -> str | None:
    """The follow-up a message asks for, if any (the first kind whose words it uses)."""
    return next((kind for kind, pattern in _KINDS if pattern.search(text)), None)


def intent_for(kind: str | None, state: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The context's intent for a follow-up: a vague "something is off", or "what happened?" with no incident of
    the service in this conversation, asks for a triage; the others are questions (they never lead to a plan)."""
    if kind == "trouble" or (kind == "timeline" and not _thread_incident_is_on(state, context)):
        return "diagnose"
    return "question" if kind else None


def answers_itself(kind: str | None, state: dict[str, Any], context: dict[str, Any]) -> bool:
    """The follow-up node answers it (the others go the triage's way)."""
    return kind is not None and intent_for(kind, state, context) == "question"


def _thread_incident_is_on(state: dict[str, Any], context: dict[str, Any]) -> bool:
    """The thread has an incident, and the context names no other service than the one it is about."""
    target = (state.get("findings") or {}).get("target") or {}
    named = (context.get("cluster"), context.get("service"))
    return bool(state.get("incident_id")) and (named == (None, None) or named == (target.get("cluster"),
                                                                                 target.get("service")))


@dataclass
class Reach:
    """What the answers read with: the AWS session of a context, the incident store, the listing, the settings."""

    aws: Callable[[dict[str, Any]], AwsContext]
    incident: Callable[[str], Incident | None]
    services: Callable[[], list[ServiceRecord]]
    session_for: Callable[[ServiceRecord], AwsContext]
    allow_sensitive_data: bool
    progress: Callable[[str], None]


def answer(kind: str, state: dict[str, Any], text: str, reach: Reach) -> str:
    context = state.get("context") or {}
    if kind == "help":
        return CAPABILITIES
    if kind == "sweep":
        return _sweep(context, reach)
    if kind == "more":
        if context.get("last_follow_up") == "logs":
            return _logs(context, reach, more=True)
        return more_evidence(state.get("findings"))
    if kind == "timeline":
        incident = reach.incident(state["incident_id"]) if state.get("incident_id") else None
        return timeline_text(incident) if incident else "There is no incident in this conversation yet."
    cluster, service = context.get("cluster"), context.get("service")
    if not (cluster and service):
        return "Which service do you mean? Name it as cluster/service (for example prod/api)."
    try:
        if kind == "health":
            return health_text(service_now.health_now(reach.aws(context), cluster, service), context, state)
        if kind == "changes":
            return changes_text(service_now.revision_changes(reach.aws(context), cluster, service, text), context)
        return _logs(context, reach)
    except TriageError as exc:
        return f"I could not read {cluster}/{service}: {exc}"


def health_text(now: service_now.HealthNow, context: dict[str, Any], state: dict[str, Any]) -> str:
    name = f"{context['cluster']}/{context['service']} ({context.get('region') or now.service_arn.split(':')[3]})"
    lines = [f"Now, read from AWS: {name} is {'healthy' if now.healthy else 'not healthy'} — {now.verdict}."]
    lines += [f"  deployment {d}" for d in now.deployments]
    lines += [f"  event {e}" for e in now.events[:2]]
    findings = state.get("findings") or {}
    if findings and (findings.get("target") or {}).get("service_arn") == now.service_arn:
        rc = findings["root_cause"]
        then = f"At my last check (window to {findings['window']['end'][:19]}) it was {findings['status']}"
        lines.append(f"{then}: {rc['category']}." + (" It has recovered since." if now.healthy
                                                    and findings["status"] != "healthy" else ""))
    verification = state.get("verification")
    if verification:
        lines.append(f"The verification after the change {'passed' if verification.get('ok') else 'failed'}.")
    return "\n".join(lines)


def changes_text(diff: service_now.RevisionChanges, context: dict[str, Any]) -> str:
    name = f"{context['cluster']}/{context['service']}"
    if not diff.before:
        return f"{name} runs {diff.after}, and I found no earlier revision of it to compare with."
    if not diff.changes:
        return (f"{diff.before} and {diff.after} of {name} are the same in image, cpu/memory, environment and secret "
                f"names, command, ports, health check and logging.")
    return "\n".join([f"What changed from {diff.before} to {diff.after} ({name}; values of environment variables and "
                      f"secrets are not shown):", *[f"  · {line}" for line in diff.changes]])


def _logs(context: dict[str, Any], reach: Reach, more: bool = False) -> str:
    cluster, service = context.get("cluster"), context.get("service")
    if not (cluster and service):
        return "Which service's logs? Name it as cluster/service (for example prod/api)."
    since = dt.timedelta(seconds=context.get("since_s") or 2 * 3600)
    try:
        found = service_now.failing_logs(reach.aws(context), cluster, service, since, more=more)
    except TriageError as exc:
        return f"I could not read the logs of {cluster}/{service}: {exc}"
    return logs_text(found, f"{cluster}/{service}")


def logs_text(found: service_now.FailingLogs, name: str) -> str:
    if not found.tasks_seen:
        return f"{name} has no running or recently stopped tasks, so there are no container logs to show."
    lines = [f"Log lines of {name} (newest failing containers first; '>' marks the line that matters, secrets "
             "masked):"] if found.excerpts else []
    for e in found.excerpts:
        why = f", stopped: {e.stopped_reason}" if e.stopped_reason else ""
        lines += [f"task {e.task_id} container {e.container}{why}", *e.lines]
    lines += found.missing
    if found.without_awslogs:
        lines.append(f"Tasks {', '.join(found.without_awslogs)} do not log to CloudWatch (no awslogs driver with a "
                     "stream prefix), so I cannot read their lines.")
    if not lines:
        lines.append(f"The log streams of {name} hold no lines in the window I read.")
    elif found.excerpts:
        lines.append('Say "show more" for more lines around them.')
    return "\n".join(lines)


def more_evidence(findings: dict[str, Any] | None) -> str:
    """Every evidence line of the last triage, the root cause's first."""
    if not findings:
        return "There are no findings yet to show more of: ask me to check a service first."
    rc = findings["root_cause"]
    lines = [f"All the evidence for {rc['category']} ({findings['target']['cluster']}/"
             f"{findings['target']['service']}):", *[f"  · {line}" for line in rc.get("evidence") or []]]
    for finding in findings.get("findings") or []:
        if finding["category"] != rc["category"] and finding.get("evidence"):
            lines.append(f"{finding['category']} ({finding['severity']}): {finding['summary']}")
            lines += [f"  · {line}" for line in finding["evidence"]]
    return "\n".join(lines)


def timeline_text(incident: Incident) -> str:
    t = incident.target
    lines = [f"Incident {incident.incident_id} on {t.cluster}/{t.service} ({t.region}, account {t.account}): "
             f"{incident.status}" + (f" — {incident.outcome}" if incident.outcome else "")]
    lines += [f"  {e.at[:19].replace('T', ' ')} {e.kind}: {e.text}" for e in sorted(incident.timeline,
                                                                                     key=lambda e: e.at)]
    return "\n".join(lines)


def _sweep(context: dict[str, Any], reach: Reach) -> str:
    records = reach.services()
    env, cluster, region = context.get("environment"), context.get("cluster"), context.get("region")
    chosen = [r for r in records if (not cluster or r.cluster == cluster) and (not region or r.region == region)
              and (cluster or not env or environment_of(r) == env)]
    if not chosen:
        scope = f"cluster {cluster}" if cluster else f"environment {env}" if env else "the accounts I reach"
        return f"I found no ECS services in {scope} to check."
    jobs = [SweepJob(reach.session_for(r), r.cluster, r.name) for r in chosen]
    return sweep(jobs, allow_sensitive_data=reach.allow_sensitive_data, progress=reach.progress).text()


# ---- names not found, services not listed -----------------------------------------------------------------------

MAX_SUGGESTIONS = 3


def not_found_turn(exc: TriageError, context: dict[str, Any],
                   services: Callable[[], list[ServiceRecord]]) -> dict[str, Any]:
    """The reply (and the pending question) when a triage could not start: for a name that does not exist, the
    closest names that do, which the next answer may pick ("yes", "the first")."""
    cluster, service = context.get("cluster"), context.get("service")
    reply = f"I could not check {cluster}/{service}: {exc}"
    if not isinstance(exc, ServiceNotFound | ClusterNotFound):
        return {"route": "reply", "reply_text": reply}
    candidates = [ctxr.candidate(r) for r in closest(service or "", cluster, context.get("region"), services())]
    if not candidates:
        return {"route": "reply", "reply_text": reply}
    question = ctxr.clarifying_question(candidates, context)
    return {"route": "reply", "reply_text": f"{reply}. {question}",
            "pending_question": {"text": question, "candidates": candidates}}


def closest(service: str, cluster: str | None, region: str | None, records: list[ServiceRecord]) -> list[ServiceRecord]:
    """The listed services whose names are nearest to `service`: in the same cluster first, then anywhere."""
    in_region = [r for r in records if not region or r.region == region]
    found = match_services(service, in_region, cluster=cluster) if cluster else []
    return (found or match_services(service, in_region))[:MAX_SUGGESTIONS]


def listing_problem(error: str) -> str:
    """Why the services could not be listed, in words that name the cause."""
    lowered = error.lower()
    if "credentials" in lowered:
        cause = "no usable AWS credentials"
    elif "planton" in lowered:
        cause = "Planton Cloud is unreachable"
    else:
        cause = "the listing failed"
    return (f"I could not list the ECS services: {cause} ({error}). Fix that, or name the cluster and service "
            f"(for example prod/api).")
