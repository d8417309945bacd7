"""The triage operation of the conversation: run the engine, keep what later steps need, explain it.

The engine finds the cause (no model); the explanation is the model's job when there is one,
and deterministic wording in the user's tone when there is not or when the model fails.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ..aws.session import THROTTLING_CODES, AwsContext
from ..diagnosis import taxonomy
from ..diagnosis.engine import DEFAULT_WINDOW, run_triage
from ..diagnosis.result import TriageResult

EVIDENCE_SHOWN = 3  # evidence lines in a reply; "show more" gives the rest
SERVICE_EVENTS_KEPT = 20  # the conversation keeps the newest service events only (the planner needs none)


def compact_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence without logs and metrics (what the planner and verifier read), kept in conversation state."""
    kept = {k: v for k, v in evidence.items() if k not in ("logs", "metrics")}
    if isinstance(kept.get("service"), dict):
        kept["service"] = {**kept["service"], "events": (kept["service"].get("events") or [])[:SERVICE_EVENTS_KEPT]}
    return kept


def triage_service(ctx: AwsContext, cluster: str, service: str, since: dt.timedelta | None,
                   allow_sensitive_data: bool, progress: Callable[[str], None]) -> tuple[TriageResult, dict[str, Any]]:
    """(TriageResult, evidence) for one service of the context's account and region. Raises
    diagnosis.errors.TriageError on bad targets."""
    since = since or DEFAULT_WINDOW
    progress(f"checking {cluster}/{service} ({ctx.region}): service, tasks, deployments, logs and metrics of the "
             f"last {_duration(since)}…")
    result, evidence = run_triage(ctx, cluster, service, since=since, allow_sensitive_data=allow_sensitive_data)
    stats = result.stats
    progress(f"read {stats.api_calls} AWS answers in {stats.duration_ms} ms; root cause: "
             f"{result.root_cause.category}")
    return result, evidence


def _duration(window: dt.timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def describe_findings(triage: dict[str, Any], tone: str = "technical",
                      likely_categories: list[str] | None = None) -> str:
    """Deterministic wording of a triage, for an engineer or (tone="business") for everyone else."""
    target = triage["target"]
    rc = triage["root_cause"]
    name = f"{target['cluster']}/{target['service']}"
    title = taxonomy.title(rc["category"])
    unread = triage.get("could_not_read") or []
    gaps = (f"\nI could not read everything: {'; '.join(unread_causes(unread[:6]))}. The findings stand on what I "
            "could read.") if unread else ""
    if rc["category"] == "healthy":
        if unread:
            return f"{name} shows no failure signal in what I could read, but that is not a clean bill of health.{gaps}"
        return f"{name} looks healthy: no failure signal in the window I checked."
    if tone == "business":
        state = {"down": "is down", "degraded": "is not working properly"}.get(triage["status"], "has a problem")
        return f"{name} {state}. The cause: {title.lower()}. {rc['summary']}{gaps}"
    lines = [f"{name} is {triage['status']}. Root cause: {rc['category']} ({title}), confidence "
             f"{rc['confidence']:.2f}.", rc["summary"]]
    evidence = rc.get("evidence") or []
    lines += [f"  · {line}" for line in evidence[:EVIDENCE_SHOWN]]  # each cut around its decisive token already
    if len(evidence) > EVIDENCE_SHOWN:
        lines.append(f'  ({len(evidence) - EVIDENCE_SHOWN} more evidence lines: say "show more")')
    others = [f["category"] for f in triage.get("findings", []) if f["category"] != rc["category"]]
    if others:
        lines.append("Also seen: " + ", ".join(dict.fromkeys(others)) + ".")
    seen = {rc["category"], *(f["category"] for f in triage.get("findings", []))}
    if likely_categories and not seen & set(likely_categories):
        lines.append("That is not what the symptoms you described usually mean; the evidence points here instead.")
    return "\n".join(lines) + gaps


def unread_causes(unread: list[str]) -> list[str]:
    """"service:Operation: Code" of the reads that failed, each with what it means: a missing log stream is not AWS
    failing, and an access denial is not a retry problem."""
    out = []
    for item in unread:
        call, _, code = item.partition(": ")
        if code == "ResourceNotFoundException" and call.startswith("logs:"):
            out.append(f"{call}: no such log group or stream")
        elif code in THROTTLING_CODES or code in ("ServiceUnavailable", "InternalFailure", "InternalError"):
            out.append(f"{call}: AWS kept failing after retries ({code})")
        elif "AccessDenied" in code or code in ("UnauthorizedOperation", "AuthorizationError"):
            out.append(f"{call}: access denied ({code}) — the agent's role lacks this read")
        else:
            out.append(item)
    return out
