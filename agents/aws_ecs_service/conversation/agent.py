"""`create_ecs_deep_agent`: the compiled conversation graph with its memory, as library users call it.

    agent = await create_ecs_deep_agent(config=ECSDeepAgentConfig(...))
    await agent.ainvoke({"messages": [{"role": "user", "content": "My API service is having issues"}]},
                        config={"configurable": {"thread_id": "t-1"}})
"""
from __future__ import annotations

from typing import Any

from ..config import ECSDeepAgentConfig


async def create_ecs_deep_agent(config: ECSDeepAgentConfig | None = None, checkpointer: Any = None,
                                **dependencies: Any):
    """The graph compiled with `checkpointer`, else PostgreSQL from config.database_url / DATABASE_URL,
    else in memory (each with a logged notice). `dependencies`: fields of graph.Dependencies (approvals,
    audit, chat_model, verify_timeout_s, verify_poll_s, lock, discovery_factory)."""
    from .graph import Dependencies, build_graph
    from .memory import aopen_memory

    config = config or ECSDeepAgentConfig.load()
    if checkpointer is None:
        checkpointer = (await aopen_memory(config.database_url)).saver
    return build_graph(Dependencies(config=config, **dependencies)).compile(checkpointer=checkpointer)
