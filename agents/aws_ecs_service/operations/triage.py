"""The triage operation of the conversation: run the engine, keep what later steps need, explain it.

The engine finds the cause (no model); the explanation is the model's job when there is one,
and deterministic wording in the user's tone when there is not or when the model fails.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from ..aws.session import AwsContext
from ..diagnosis import taxonomy
from ..diagnosis.engine import DEFAULT_WINDOW, run_triage

SERVICE_EVENTS_KEPT = 20  # the conversation keeps the newest service events only (the planner needs none)


def compact_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence without logs and metrics (what the planner and verifier read), kept in conversation state."""
    kept = {k: v for k, v in evidence.items() if k not in ("logs", "metrics")}
    if isinstance(kept.get("service"), dict):
        kept["service"] = {**kept["service"], "events": (kept["service"].get("events") or [])[:SERVICE_EVENTS_KEPT]}
    return kept


def incident_id_for(cluster: str, service: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"chat-{cluster}-{service}-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"  # two triages in one second


def triage_service(ctx: AwsContext, cluster: str, service: str, since_s: int | None, allow_sensitive_data: bool,
                   progress: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(TriageResult as dict, evidence) for one service. Raises diagnosis.errors.TriageError on bad targets."""
    since = dt.timedelta(seconds=since_s) if since_s else DEFAULT_WINDOW
    progress(f"checking {cluster}/{service}: service, tasks, deployments, logs and metrics of the last "
             f"{_duration(since)}…")
    result, evidence = run_triage(ctx, cluster, service, since=since, allow_sensitive_data=allow_sensitive_data)
    stats = result.stats
    progress(f"read {stats.api_calls} AWS answers in {stats.duration_ms} ms; root cause: "
             f"{result.root_cause.category}")
    return result.to_json_dict(), evidence


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
    if rc["category"] == "healthy":
        return f"{name} looks healthy: no failure signal in the window I checked."
    if tone == "business":
        state = {"down": "is down", "degraded": "is not working properly"}.get(triage["status"], "has a problem")
        return f"{name} {state}. The cause: {title.lower()}. {rc['summary']}"
    lines = [f"{name} is {triage['status']}. Root cause: {rc['category']} ({title}), confidence "
             f"{rc['confidence']:.2f}.", rc["summary"]]
    lines += [f"  · {line[:200]}" for line in rc.get("evidence", [])[:3]]
    others = [f["category"] for f in triage.get("findings", []) if f["category"] != rc["category"]]
    if others:
        lines.append("Also seen: " + ", ".join(dict.fromkeys(others)) + ".")
    seen = {rc["category"], *(f["category"] for f in triage.get("findings", []))}
    if likely_categories and not seen & set(likely_categories):
        lines.append("That is not what the symptoms you described usually mean; the evidence points here instead.")
    return "\n".join(lines)
