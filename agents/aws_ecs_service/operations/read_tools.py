"""One catalog of read-only tools about an ECS service, for both of its consumers: the MCP server serves
`mcp_functions()` (interfaces/mcp_server.py) and a conversation's question gets `langchain_tools()` for the model
and the same methods offline (operations/answers.py).

Nothing here changes AWS. Output is redacted evidence unless allowSensitiveData (what the model reads is redacted
always), cut to a bounded number of lines. A service is named by cluster + service (+ region), or, where the tools
were built from discovery, by a `service_id` from `list_aws_ecs_services`, which reaches its own account and region.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..aws.ecs_reads import describe_service
from ..aws.session import AwsContext
from ..config import ECSDeepAgentConfig
from ..diagnosis.engine import run_triage
from ..diagnosis.redaction import redact_evidence, redact_lines, redact_text
from ..diagnosis.signals import clip
from ..discovery.factory import Discovery
from ..domain.inputs import UsageError, check_name

MAX_TASKS = 50
MAX_LOG_LINES = 200
LOG_TASKS = 5  # tasks whose logs are read: newest stopped first, then newest running
MAX_ERROR_LINES = 10
LINE_CHARS = 240
_ERRORISH = re.compile(r"error|exception|fatal|fail|panic|traceback|denied|refused|timed? ?out|killed|oom", re.I)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# (cluster, service, region, service_id) -> the session that reaches the service, and its checked names
Locate = Callable[[str | None, str | None, str | None, str | None], tuple[AwsContext, str, str]]


class ReadTools:
    """Read-only questions about one service, its triage and plan proposals."""

    def __init__(self, locate: Locate, allow_sensitive_data: bool):
        self._find = locate
        self.allow_sensitive_data = allow_sensitive_data

    @classmethod
    def for_context(cls, ctx: AwsContext, allow_sensitive_data: bool) -> ReadTools:
        """Bound to one session: a conversation's service, in its own account and region."""
        def locate(cluster: str | None, service: str | None, _region: str | None,
                   _service_id: str | None) -> tuple[AwsContext, str, str]:
            return ctx, *_names(cluster, service)

        return cls(locate, allow_sensitive_data)

    @classmethod
    def for_discovery(cls, config: ECSDeepAgentConfig, discovery: Discovery) -> ReadTools:
        """Any service: a `service_id` through discovery, else cluster + service in the configured account."""
        def locate(cluster: str | None, service: str | None, region: str | None,
                   service_id: str | None) -> tuple[AwsContext, str, str]:
            if service_id:
                record = discovery.services.get_service(service_id)
                return discovery.session_for_service(record), record.cluster, record.name
            ctx = AwsContext(region=region or config.aws_region, profile=config.aws_profile)
            return ctx, *_names(cluster, service)

        return cls(locate, config.allow_sensitive_data)

    def mcp_functions(self) -> list[Callable[..., Any]]:
        return [self.describe_service, self.recent_stopped_tasks, self.recent_service_logs, self.triage,
                self.propose_plan]

    def langchain_tools(self) -> list[Any]:
        """The model's tools: short text it reads as quoted evidence."""
        from langchain_core.tools import StructuredTool

        return [StructuredTool.from_function(self.recent_errors, name="recent_errors"),
                StructuredTool.from_function(self.service_status, name="service_status")]

    def _locate(self, cluster: str | None, service: str | None, region: str | None = None,
                service_id: str | None = None) -> tuple[AwsContext, str, str]:
        return self._find(cluster, service, region, service_id)

    def _text(self, value: str | None) -> str | None:
        return value if value is None or self.allow_sensitive_data else redact_text(value)

    def _lines(self, lines: list[str]) -> list[str]:
        """One stream's lines (a private key logged one line per event is masked across them)."""
        return lines if self.allow_sensitive_data else redact_lines(lines)

    # ---- the model's (and offline answers') tools: text --------------------------------------------------------
    def recent_errors(self, cluster: str, service: str, minutes: int = 60) -> str:
        """Error lines from the service's container logs and stopped tasks in the last `minutes`."""
        since = dt.timedelta(minutes=max(5, min(int(minutes), 24 * 60)))
        ctx, cluster, service = self._locate(cluster, service)
        _result, evidence = run_triage(ctx, cluster, service, since=since,
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
        ctx, cluster, service = self._locate(cluster, service)
        services = describe_service(ctx.client("ecs"), cluster, service).get("services") or []
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

    # ---- the MCP tools: JSON -------------------------------------------------------------------------------------
    def describe_service(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                         service_id: str | None = None) -> dict[str, Any]:
        """Status, task counts, deployments and the latest events of one ECS service."""
        from ..aws.ecs_reads import describe_service
        from ..diagnosis.errors import ServiceNotFound

        ctx, cluster, service = self._locate(cluster, service, region, service_id)
        answer = describe_service(ctx.client("ecs"), cluster, service)
        if not answer["services"]:
            raise ServiceNotFound(f"service {service!r} not found in cluster {cluster!r} ({ctx.region})")
        svc = answer["services"][0]
        return {
            "region": ctx.region, "cluster": cluster, "service": svc["serviceName"], "arn": svc["serviceArn"],
            "status": svc.get("status"), "desired": svc.get("desiredCount"), "running": svc.get("runningCount"),
            "pending": svc.get("pendingCount"), "task_definition": svc.get("taskDefinition"),
            "launch_type": svc.get("launchType"),
            "deployments": [{k: _jsonable(d.get(k)) for k in ("status", "rolloutState", "rolloutStateReason",
                                                               "taskDefinition", "desiredCount", "runningCount",
                                                               "failedTasks", "createdAt") if k in d}
                            for d in svc.get("deployments") or []],
            "events": [{"at": _jsonable(e.get("createdAt")), "message": self._text(e.get("message"))}
                       for e in (svc.get("events") or [])[:10]],
        }

    def recent_stopped_tasks(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                             service_id: str | None = None, limit: int = 10) -> dict[str, Any]:
        """The service's most recently stopped tasks: why they stopped and each container's exit code."""
        from ..aws.ecs_reads import describe_tasks, task_arn_pages

        ctx, cluster, service = self._locate(cluster, service, region, service_id)
        ecs = ctx.client("ecs")
        tasks = [t for arns in task_arn_pages(ecs, cluster, service, "STOPPED", min(max(limit, 1), MAX_TASKS))
                 for t in describe_tasks(ecs, cluster, arns)]
        tasks.sort(key=lambda t: t.get("stoppedAt") or t.get("createdAt") or _EPOCH, reverse=True)
        return {"region": ctx.region, "cluster": cluster, "service": service, "tasks": [{
            "task": t["taskArn"].rsplit("/", 1)[-1], "task_definition": t.get("taskDefinitionArn"),
            "stopped_at": _jsonable(t.get("stoppedAt")), "stop_code": t.get("stopCode"),
            "stopped_reason": self._text(t.get("stoppedReason")),
            "containers": [{"name": c.get("name"), "exit_code": c.get("exitCode"), "reason": self._text(c.get("reason"))}
                           for c in t.get("containers") or []],
        } for t in tasks[:limit]]}

    def recent_service_logs(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                            service_id: str | None = None, since: str = "30m", limit: int = 50) -> dict[str, Any]:
        """The last log lines (awslogs) of the service's newest tasks, secrets masked."""
        import botocore.exceptions

        from ..aws.ecs_reads import describe_task_definition, describe_tasks, task_arn_pages
        from ..aws.logs_reads import awslogs_stream, recent_log_events
        from ..domain.inputs import parse_since

        window = parse_since(since)
        ctx, cluster, service = self._locate(cluster, service, region, service_id)
        ecs, logs = ctx.client("ecs"), ctx.client("logs")
        tasks = []
        for status in ("STOPPED", "RUNNING"):  # the last words of stopped tasks say most about an incident
            found = [t for arns in task_arn_pages(ecs, cluster, service, status, MAX_TASKS)
                     for t in describe_tasks(ecs, cluster, arns)]
            found.sort(key=lambda t: t.get("stoppedAt") or t.get("createdAt") or _EPOCH, reverse=True)
            tasks += found
        end = dt.datetime.now(dt.UTC)
        lines = min(max(limit, 1), MAX_LOG_LINES)
        streams, definitions, checked = [], {}, 0
        for task in tasks[:LOG_TASKS]:
            arn = task["taskDefinitionArn"]
            definitions.setdefault(arn, describe_task_definition(ecs, arn))
            task_id = task["taskArn"].rsplit("/", 1)[-1]
            for container in definitions[arn].get("containerDefinitions") or []:
                where = awslogs_stream(container, task_id)
                if where is None:
                    continue
                try:
                    events = recent_log_events(logs, where[0], where[1], end - window, end, lines)
                except botocore.exceptions.ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise
                    events = []
                checked += 1
                if events:
                    streams.append({"task": task_id, "task_status": task.get("lastStatus"),
                                    "container": container["name"], "group": where[0], "stream": where[1],
                                    "lines": self._lines([e["message"] for e in events])})
        return {"region": ctx.region, "cluster": cluster, "service": service, "since": since,
                "streams_checked": checked, "streams": streams}

    def triage(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
               service_id: str | None = None, since: str = "2h") -> dict[str, Any]:
        """Deterministic root-cause triage of one service (no model): the triage.json document, ecs-triage/v1."""
        result, _ = self._triage(cluster, service, region, service_id, since)
        return result.to_json_dict()

    def _triage(self, cluster, service, region, service_id, since):
        from ..diagnosis.engine import run_triage
        from ..domain.inputs import parse_since

        window = parse_since(since)
        ctx, cluster, service = self._locate(cluster, service, region, service_id)
        return run_triage(ctx, cluster, service, since=window, allow_sensitive_data=self.allow_sensitive_data)

    def propose_plan(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                     service_id: str | None = None, since: str = "2h", risk: str | None = None,
                     deadline: str | None = None) -> dict[str, Any]:
        """Triage, then the repair options, recommended first. Proposals only: nothing is applied from here."""
        from .planner import build_plans

        result, evidence = self._triage(cluster, service, region, service_id, since)
        incident_id = f"mcp-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        plans = build_plans(result, evidence, incident_id, preferences={"risk": risk, "deadline": deadline})
        return {"incident_id": incident_id, "root_cause": result.root_cause.category, "status": result.status,
                "plans": [p.model_dump(mode="json") for p in plans],
                "note": "Proposals only. A change is applied after a person approves this exact plan "
                        "(ecs-agent chat or the approval link); this server has no tool that changes AWS."}


def _names(cluster: str | None, service: str | None) -> tuple[str, str]:
    if not cluster or not service:
        raise UsageError("name the service: cluster and service, or a service_id from list_aws_ecs_services")
    return check_name("cluster", cluster), check_name("service", service)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value
