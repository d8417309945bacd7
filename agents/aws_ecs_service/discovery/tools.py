"""The five discovery tools (the original agent's seed tools), for the model and for MCP clients.

They return summaries only. `extract_aws_credentials_for_sdk` checks that credentials can
be had and says so; the keys themselves reach code through `Discovery.session_for_service`,
never through a tool result. `DiscoveryTools` has no LangChain import; `langchain_tools`
wraps it for the graph.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from ..diagnosis.redaction import redact_text
from .factory import Discovery
from .interface import DiscoveryError

TOOL_NAMES = ("list_aws_credentials", "get_aws_credential", "extract_aws_credentials_for_sdk",
              "list_aws_ecs_services", "get_aws_ecs_service")


def _dump(value: Any) -> str:
    # summaries hold no secrets by construction; the redaction pass is the second lock on the door
    return redact_text(json.dumps(value, default=str, sort_keys=False))


class DiscoveryTools:
    def __init__(self, discovery: Discovery):
        self.discovery = discovery

    def list_aws_credentials(self, environment: str | None = None) -> str:
        """List the AWS credentials (accounts/targets) the agent can use, optionally for one environment."""
        found = self.discovery.credentials.list_credentials(environment)
        return _dump({"count": len(found), "credentials": [c.model_dump(exclude_none=True) for c in found]})

    def get_aws_credential(self, credential_id: str) -> str:
        """Show one AWS credential's account, regions and environment (never its keys)."""
        return _dump(self.discovery.credentials.get_credential(credential_id).model_dump(exclude_none=True))

    def extract_aws_credentials_for_sdk(self, credential_id: str, region: str | None = None) -> str:
        """Make a credential ready for AWS calls in a region; the keys stay inside the agent's code."""
        summary = self.discovery.credentials.get_credential(credential_id)
        ready = self.discovery.credentials.extract_for_sdk(credential_id, region=region)
        return (f"credentials ready for account {summary.account_id or 'unknown'} region {ready['region']} "
                f"(credential {summary.name!r}, {summary.source})")

    def list_aws_ecs_services(self, environment: str | None = None, organization: str | None = None) -> str:
        """List the ECS services the agent can see, across accounts and regions, optionally in one environment."""
        found = self.discovery.services.list_services(environment=environment, organization=organization)
        answer: dict[str, Any] = {"count": len(found), "services": [r.model_dump(exclude_none=True) for r in found]}
        unreachable = getattr(self.discovery.services, "last_scan_errors", None)
        if unreachable:
            answer["unreachable"] = unreachable
        return _dump(answer)

    def get_aws_ecs_service(self, service_id: str) -> str:
        """Show one ECS service (cluster, region, account, environment) by the id list_aws_ecs_services gave."""
        return _dump(self.discovery.services.get_service(service_id).model_dump(exclude_none=True))

    def functions(self) -> list:
        return [getattr(self, name) for name in TOOL_NAMES]


def langchain_tools(discovery: Discovery) -> list:
    """The five tools as LangChain StructuredTools; discovery failures come back as readable text."""
    from langchain_core.tools import StructuredTool, ToolException

    def guarded(fn: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> str:
            try:
                return fn(*args, **kwargs)
            except DiscoveryError as exc:
                raise ToolException(str(exc)) from None
        return run

    tools = DiscoveryTools(discovery)
    return [StructuredTool.from_function(func=guarded(fn), name=fn.__name__, description=fn.__doc__,
                                         handle_tool_error=True) for fn in tools.functions()]
