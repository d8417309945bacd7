"""Triage engine: collect evidence, redact it, classify it. No model involved.

`run_triage` is what every caller uses (CLI, graph, workflow, MCP); `analyse` runs the
classification alone on a saved evidence document (`ecs-agent replay`). Both give the
same TriageResult for the same evidence: the classifier reads nothing else.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ..aws.session import AwsContext

if TYPE_CHECKING:  # the result models load with the classifier, after the first AWS calls have gone out
    from .result import TriageResult

DEFAULT_WINDOW = dt.timedelta(hours=2)
TASK_READS = ("ecs:ListTasks", "ecs:DescribeTasks")
UNSURE_HEALTHY_CONFIDENCE = 0.4  # "healthy" when the tasks could not be read


def analyse(evidence: dict[str, Any]) -> TriageResult:
    from .classifier import classify
    from .result import Stats

    result = classify(evidence)
    stats = evidence.get("stats") or {}
    result.stats = Stats(api_calls=int(stats.get("api_calls", 0)), duration_ms=int(stats.get("duration_ms", 0)))
    return _with_gaps(result, evidence.get("errors") or [])


def _with_gaps(result: TriageResult, errors: list[dict[str, Any]]) -> TriageResult:
    """Say what could not be read; "healthy" without the tasks is only a guess, and says so."""
    result.could_not_read = sorted({f"{e.get('call')}: {e.get('code')}" for e in errors})
    unread = sorted({e.get("call") for e in errors if e.get("call") in TASK_READS})
    if unread and result.root_cause.category == "healthy":
        note = (f" The tasks could not be read ({', '.join(unread)}), so stopped tasks are unknown: this is not a "
                "clean bill of health.")
        for part in (result.root_cause, *[f for f in result.findings if f.category == "healthy"]):
            part.confidence = min(part.confidence, UNSURE_HEALTHY_CONFIDENCE)
            part.summary += note
    return result


def run_triage(
    ctx: AwsContext,
    cluster: str,
    service: str,
    since: dt.timedelta = DEFAULT_WINDOW,
    allow_sensitive_data: bool = False,
    now: dt.datetime | None = None,
) -> tuple[TriageResult, dict[str, Any]]:
    """Collect, redact (unless allowed), classify. Raises diagnosis.errors exceptions on bad targets/access."""
    from .collector import collect
    from .redaction import redact_evidence

    evidence = collect(ctx, cluster, service, since=since, now=now)
    if not allow_sensitive_data:
        evidence = redact_evidence(evidence)
    return analyse(evidence), evidence
