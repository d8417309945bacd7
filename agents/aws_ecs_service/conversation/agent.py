"""`create_ecs_deep_agent`: the compiled conversation graph with its memory, as library users call it.

    agent = await create_ecs_deep_agent(config=ECSDeepAgentConfig(...))
    await agent.ainvoke({"messages": [{"role": "user", "content": "My API service is having issues"}]},
                        config={"configurable": {"thread_id": "t-1"}})

Without a thread id (`await agent.ainvoke(state)`) the run starts a new thread.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from ..config import ECSDeepAgentConfig

log = logging.getLogger(__name__)


class ECSDeepAgent(CompiledStateGraph):
    """The compiled graph. LangGraph refuses a checkpointed run without a thread id; this one gives such a run a
    new thread (invoke and ainvoke run through stream and astream)."""

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().stream(input, self._on_a_thread(config), **kwargs)

    def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().astream(input, self._on_a_thread(config), **kwargs)

    def _on_a_thread(self, config: RunnableConfig | None) -> RunnableConfig | None:
        given = {**(self.config or {}).get("configurable", {}), **(config or {}).get("configurable", {})}
        if given.get("thread_id") or self.checkpointer is None:
            return config
        thread_id = f"thread-{uuid.uuid4().hex}"
        log.info("no thread_id given: this run starts thread %s (pass it to continue the conversation)", thread_id)
        return {**(config or {}), "configurable": {**(config or {}).get("configurable", {}), "thread_id": thread_id}}


async def create_ecs_deep_agent(config: ECSDeepAgentConfig | None = None, checkpointer: Any = None,
                                **dependencies: Any) -> ECSDeepAgent:
    """The graph compiled with `checkpointer`, else PostgreSQL from config.database_url / DATABASE_URL,
    else in memory (each with a logged notice). `dependencies`: fields of graph.Dependencies (approvals,
    audit, chat_model, verify_timeout_s, verify_poll_s, lock, discovery_factory)."""
    from .graph import Dependencies, build_graph
    from .memory import aopen_memory

    config = config or ECSDeepAgentConfig()
    if checkpointer is None:
        checkpointer = (await aopen_memory(config.database_url)).saver
    compiled = build_graph(Dependencies(config=config, **dependencies)).compile(checkpointer=checkpointer)
    # the same construction as CompiledStateGraph.copy(), into the subclass
    return ECSDeepAgent(**{k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"})
