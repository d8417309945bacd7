"""`ecs-agent mcp`: the agent's read tools, triage, discovery and plan proposals for any MCP client.

Served with the official MCP Python SDK over stdio (default) or streamable HTTP on a local
port. Nothing here changes AWS: there is no tool for UpdateService, StopTask or RunTask.
`propose_plan` only proposes; changes go through the approval path (chat or the signed
link) and the policy guard. A service is named either by cluster + service (+ region) in
the configured account, or by a `service_id` from `list_aws_ecs_services`, which reaches
the service's own account and region.
"""
from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from typing import Any

from ..aws.session import AwsContext
from ..config import ECSDeepAgentConfig
from ..diagnosis.redaction import redact_lines, redact_text
from ..discovery.factory import Discovery, build_discovery
from ..discovery.tools import DiscoveryTools

SERVER_NAME = "ecs-incident-agent"
DEFAULT_HTTP_PORT = 8765
MAX_TASKS = 50
MAX_LOG_LINES = 200
LOG_TASKS = 5  # tasks whose logs are read: newest stopped first, then newest running
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

INSTRUCTIONS = (
    "Read-only tools for Amazon ECS incidents. Find services with list_aws_ecs_services, then call triage "
    "(deterministic root cause, schema ecs-triage/v1) and propose_plan. No tool changes AWS: plans are applied "
    "only after a person approves them through the agent's approval path."
)


class ReadTools:
    """Read-only ECS/CloudWatch questions about one service, plus triage and plan proposals."""

    def __init__(self, config: ECSDeepAgentConfig, discovery: Discovery):
        self.config = config
        self.discovery = discovery

    def _target(self, cluster: str | None, service: str | None, region: str | None,
                service_id: str | None) -> tuple[AwsContext, str, str]:
        from ..domain.inputs import UsageError, check_name

        if service_id:
            record = self.discovery.services.get_service(service_id)
            return self.discovery.session_for_service(record), record.cluster, record.name
        if not cluster or not service:
            raise UsageError("name the service: cluster and service, or a service_id from list_aws_ecs_services")
        ctx = AwsContext(region=region or self.config.aws_region, profile=self.config.aws_profile)
        return ctx, check_name("cluster", cluster), check_name("service", service)

    def _text(self, value: str | None) -> str | None:
        return value if value is None or self.config.allow_sensitive_data else redact_text(value)

    def _lines(self, lines: list[str]) -> list[str]:
        """One stream's lines (a private key logged one line per event is masked across them)."""
        return lines if self.config.allow_sensitive_data else redact_lines(lines)

    def describe_service(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                         service_id: str | None = None) -> dict[str, Any]:
        """Status, task counts, deployments and the latest events of one ECS service."""
        from ..aws.ecs_reads import describe_service
        from ..diagnosis.errors import ServiceNotFound

        ctx, cluster, service = self._target(cluster, service, region, service_id)
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

        ctx, cluster, service = self._target(cluster, service, region, service_id)
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
        ctx, cluster, service = self._target(cluster, service, region, service_id)
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
        ctx, cluster, service = self._target(cluster, service, region, service_id)
        return run_triage(ctx, cluster, service, since=window, allow_sensitive_data=self.config.allow_sensitive_data)

    def propose_plan(self, cluster: str | None = None, service: str | None = None, region: str | None = None,
                     service_id: str | None = None, since: str = "2h", risk: str | None = None,
                     deadline: str | None = None) -> dict[str, Any]:
        """Triage, then the repair options, recommended first. Proposals only: nothing is applied from here."""
        from ..operations.planner import build_plans

        result, evidence = self._triage(cluster, service, region, service_id, since)
        incident_id = f"mcp-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        plans = build_plans(result, evidence, incident_id, preferences={"risk": risk, "deadline": deadline})
        return {"incident_id": incident_id, "root_cause": result.root_cause.category, "status": result.status,
                "plans": [p.model_dump(mode="json") for p in plans],
                "note": "Proposals only. A change is applied after a person approves this exact plan "
                        "(ecs-agent chat or the approval link); this server has no tool that changes AWS."}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _readable_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Expected failures (bad input, unknown service, AWS refusals) reach the client as their one line."""
    from botocore.exceptions import BotoCoreError, ClientError
    from mcp.server.mcpserver.exceptions import ToolError

    from ..diagnosis.errors import TriageError
    from ..domain.inputs import UsageError

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UsageError, TriageError) as exc:
            raise ToolError(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:
            raise ToolError(f"AWS: {redact_text(str(exc))}") from None
    return run


def build_server(config: ECSDeepAgentConfig | None = None, discovery: Discovery | None = None):
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    config = config or ECSDeepAgentConfig.load()
    discovery = discovery or build_discovery(config)
    reads = ReadTools(config, discovery)
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)
    for fn in (reads.describe_service, reads.recent_stopped_tasks, reads.recent_service_logs, reads.triage,
               reads.propose_plan, *DiscoveryTools(discovery).functions()):
        server.add_tool(_readable_errors(fn), annotations=read_only)
    return server


def serve(http: bool = False, host: str = "127.0.0.1", port: int = DEFAULT_HTTP_PORT) -> None:
    server = build_server()
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")

