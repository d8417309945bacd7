"""`ecs-agent mcp`: the agent's read tools, triage, discovery and plan proposals for any MCP client.

The read tools are the agent's one catalog (operations/read_tools.py), the conversation's too.

Served with the official MCP Python SDK over stdio (default) or streamable HTTP on a local
port. Nothing here changes AWS: there is no tool for UpdateService, StopTask or RunTask.
`propose_plan` only proposes; changes go through the approval path (chat or the signed
link) and the policy guard. A service is named either by cluster + service (+ region) in
the configured account, or by a `service_id` from `list_aws_ecs_services`, which reaches
the service's own account and region.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..config import ECSDeepAgentConfig
from ..diagnosis.redaction import redact_text
from ..discovery.factory import Discovery, build_discovery
from ..discovery.tools import DiscoveryTools
from ..operations.read_tools import ReadTools

SERVER_NAME = "ecs-incident-agent"
DEFAULT_HTTP_PORT = 8765

INSTRUCTIONS = (
    "Read-only tools for Amazon ECS incidents. Find services with list_aws_ecs_services, then call triage "
    "(deterministic root cause, schema ecs-triage/v1) and propose_plan. No tool changes AWS: plans are applied "
    "only after a person approves them through the agent's approval path."
)


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
    reads = ReadTools.for_discovery(config, discovery)
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)
    for fn in (*reads.mcp_functions(), *DiscoveryTools(discovery).functions()):
        server.add_tool(_readable_errors(fn), annotations=read_only)
    return server


def serve(http: bool = False, host: str = "127.0.0.1", port: int = DEFAULT_HTTP_PORT) -> None:
    server = build_server()
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")

