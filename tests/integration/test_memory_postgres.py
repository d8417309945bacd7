"""Conversation memory: a thread continued in a new process from PostgreSQL, and the fallback notices."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.aws_ecs_service.conversation import memory as memory_module
from agents.aws_ecs_service.conversation.memory import NO_DATABASE, open_memory

ROOT = Path(__file__).resolve().parents[2]

# One turn per process: the first process leaves the thread waiting for approval, the second one resumes it.
TURN = r"""
import asyncio, json, sys
from langgraph.types import Command
from agents.aws_ecs_service import ECSDeepAgentConfig, create_ecs_deep_agent

async def main():
    agent = await create_ecs_deep_agent(config=ECSDeepAgentConfig.load(allow_write=True), verify_timeout_s=1,
                                        verify_poll_s=0.2)
    cfg = {"configurable": {"thread_id": sys.argv[1]}}
    if sys.argv[2] == "resume":
        state = await agent.ainvoke(Command(resume={"decision": "approve", "by": "carol"}), config=cfg)
    else:
        for text in sys.argv[2:]:
            state = await agent.ainvoke({"messages": [{"role": "user", "content": text}]}, config=cfg)
    print(json.dumps({"kind": type(agent.checkpointer).__name__, "interrupt": bool(state.get("__interrupt__")),
                      "audit": state.get("audit") or [], "summary": state.get("summary") or [],
                      "context": state.get("context")}))

asyncio.run(main())
"""


def _turn(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", TURN, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_thread_resumed_in_a_new_process_from_postgres(play_scenario, pg_schema_url):
    fake = play_scenario("oom-after-deploy")
    env = {**os.environ, "DATABASE_URL": pg_schema_url, "ECS_AGENT_MODEL": "offline"}

    first = _turn(env, "thread-pg-1", "prod/api keeps crashing", "roll it back")
    assert first["kind"] == "AsyncPostgresSaver" and first["interrupt"]
    assert [c for c in fake.calls if c["write"]] == []

    second = _turn(env, "thread-pg-1", "resume")
    assert second["context"]["service"] == "api" and len(second["summary"]) == 4  # the earlier turns came back
    [entry] = second["audit"]
    assert entry["allowed"] and entry["result"] == "ok" and "carol" in entry["actor"]
    assert [c["op"] for c in fake.calls if c["write"]] == ["UpdateService"]


@pytest.mark.postgres
def test_postgres_saver_uses_no_prepared_statements(pg_schema_url):
    memory = open_memory(pg_schema_url)
    try:
        assert memory.kind == "postgres"
        with memory.saver.conn.connection() as conn:
            assert conn.prepare_threshold is None and conn.autocommit
    finally:
        memory.close()


def test_notice_when_database_url_is_missing(monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with caplog.at_level(logging.WARNING):
        memory = open_memory()
    assert memory.kind == "memory" and NO_DATABASE in memory.notice and NO_DATABASE in caplog.text


@pytest.mark.slow  # the pool waits a second for a server that is not there
def test_notice_when_postgres_fails_then_sqlite_survives_a_restart(caplog, tmp_path, monkeypatch):
    monkeypatch.setattr(memory_module, "POOL_TIMEOUT_S", 1)  # the pool's wait is what a missing server costs
    bad = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"
    path = tmp_path / "conversations.sqlite"
    with caplog.at_level(logging.WARNING):
        memory = open_memory(bad, sqlite_path=path)
    assert memory.kind == "sqlite" and "Failed to create PostgreSQL checkpointer" in caplog.text

    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict):
        n: int

    def build(saver):
        g = StateGraph(S)
        g.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
        g.add_edge(START, "inc")
        g.add_edge("inc", END)
        return g.compile(checkpointer=saver)

    cfg = {"configurable": {"thread_id": "t"}}
    build(memory.saver).invoke({"n": 1}, cfg)
    memory.close()
    reopened = open_memory(bad, sqlite_path=path)
    try:
        assert build(reopened.saver).get_state(cfg).values["n"] == 2
    finally:
        reopened.close()
