"""Read-only questions ("show me the last errors of api"): read tools, and the offline answer built from them.

These tools only read; they are the only tools a model is ever given. Their output is redacted
evidence (unless allowSensitiveData), cut to a few lines.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..aws.ecs_reads import describe_service
from ..aws.session import AwsContext
from ..diagnosis.engine import run_triage
from ..diagnosis.redaction import redact_evidence, redact_text
from ..diagnosis.signals import clip

MAX_ERROR_LINES = 10
LINE_CHARS = 240
_ERRORISH = re.compile(r"error|exception|fatal|fail|panic|traceback|denied|refused|timed? ?out|killed|oom", re.I)
_STATUS_WORDS = re.compile(r"\b(status|running|desired|deploy\w*|tasks?|revision|events?)\b", re.I)
_ERROR_WORDS = re.compile(r"\b(errors?|logs?|exceptions?|stack ?traces?|crash\w*)\b", re.I)


class ReadTools:
    """The read-only operations a question may use, bound to one AWS context."""

    def __init__(self, ctx: AwsContext, allow_sensitive_data: bool):
        self.ctx = ctx
        self.allow_sensitive_data = allow_sensitive_data

    def recent_errors(self, cluster: str, service: str, minutes: int = 60) -> str:
        """Error lines from the service's container logs and stopped tasks in the last `minutes`."""
        since = dt.timedelta(minutes=max(5, min(int(minutes), 24 * 60)))
        _result, evidence = run_triage(self.ctx, cluster, service, since=since,
                                       allow_sensitive_data=self.allow_sensitive_data)
        evidence = redact_evidence(evidence) if self.allow_sensitive_data else evidence  # a model reads this
        lines: list[str] = []
        for stream in evidence.get("logs") or []:
            for event in reversed(stream.get("events") or []):
                if _ERRORISH.search(event.get("message") or ""):
                    lines.append(f"{event.get('timestamp', '')} {stream.get('container', '')}: {event['message']}")
        reasons = Counter(t["stoppedReason"] for t in (evidence.get("tasks") or {}).get("stopped") or []
                          if t.get("stoppedReason"))
        lines += [f"{count} task(s) stopped: {reason}" for reason, count in reasons.most_common()]
        if not lines:
            return f"No error lines for {cluster}/{service} in the last {int(since.total_seconds() // 60)} minutes."
        return "\n".join(clip(redact_text(line), LINE_CHARS, keep=_ERRORISH) for line in lines[:MAX_ERROR_LINES])

    def service_status(self, cluster: str, service: str) -> str:
        """Desired/running counts, deployments and the newest service events."""
        services = describe_service(self.ctx.client("ecs"), cluster, service).get("services") or []
        if not services:
            return f"{cluster}/{service}: no such service."
        svc = services[0]
        lines = [f"{cluster}/{service}: {svc.get('status')}, desired {svc.get('desiredCount')}, running "
                 f"{svc.get('runningCount')}, pending {svc.get('pendingCount')}, task definition "
                 f"{str(svc.get('taskDefinition', '?')).rsplit('/', 1)[-1]}"]
        for d in svc.get("deployments") or []:
            lines.append(f"deployment {d.get('status')} {str(d.get('taskDefinition', '?')).rsplit('/', 1)[-1]} "
                         f"rollout {d.get('rolloutState', '?')} running {d.get('runningCount')}/"
                         f"{d.get('desiredCount')} failed {d.get('failedTasks', 0)}")
        for event in (svc.get("events") or [])[:5]:
            lines.append(f"event {event.get('createdAt', '')}: {redact_text(str(event.get('message', '')))[:LINE_CHARS]}")
        return "\n".join(lines)

    def langchain_tools(self) -> list[Any]:
        from langchain_core.tools import StructuredTool

        return [StructuredTool.from_function(self.recent_errors, name="recent_errors"),
                StructuredTool.from_function(self.service_status, name="service_status")]


def offline_answer(question: str, context: dict[str, Any], triage: dict[str, Any] | None,
                   tools: Callable[[], ReadTools]) -> str:
    """The question answered without a model: the read tool the words ask for, else the last findings."""
    cluster, service = context.get("cluster"), context.get("service")
    if cluster and service and _ERROR_WORDS.search(question):
        return f"The newest error lines of {cluster}/{service}:\n{tools().recent_errors(cluster, service)}"
    if cluster and service and _STATUS_WORDS.search(question):
        return tools().service_status(cluster, service)
    if triage:
        rc = triage["root_cause"]
        return (f"From the last triage of {triage['target']['cluster']}/{triage['target']['service']}: "
                f"{rc['category']} — {rc['summary']}")
    return ("I answer questions about an ECS service's state, errors and deployments. Name the service (for "
            "example prod/api), or ask me to diagnose it.")
