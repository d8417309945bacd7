"""ECS incident agent. Public API: `create_ecs_deep_agent`, `ECSDeepAgentConfig`.

Loaded lazily: `import agents.aws_ecs_service` (and the offline `ecs-agent triage`) never
imports LangChain or LangGraph.
"""
from __future__ import annotations

from typing import Any

__all__ = ["ECSDeepAgentConfig", "create_ecs_deep_agent"]


def __getattr__(name: str) -> Any:
    if name == "ECSDeepAgentConfig":
        from .config import ECSDeepAgentConfig

        return ECSDeepAgentConfig
    if name == "create_ecs_deep_agent":
        from .conversation.agent import create_ecs_deep_agent

        return create_ecs_deep_agent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
