"""Conversational agent benchmark: model budget per automatic triage, checkpoint size, graph overhead.

    .venv/bin/python bench/agent_bench.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--no-write]

1. Model calls and input tokens per automatic triage, on every public scenario: the graph with
   ChatBedrockConverse pointed at a local Converse server (tests/converse_server.py) that counts
   the requests and their text (tokens estimated at 4 characters each).
2. Stored checkpoint bytes after 40 turns of 2 KB user messages (PostgreSQL tables of the thread),
   against the raw text of the conversation (user messages and replies).
3. Graph overhead per turn without the model (offline) and without AWS calls (questions answered
   from the findings), with the PostgreSQL checkpointer: p50 and p95 of the 39 follow-up turns.
Writes the "Conversational agent" section of BENCHMARKS.md (only that section).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402
from bench.triage_speed import aws_env, play  # noqa: E402  (also puts ../shared/tools on sys.path)
from tests import converse_server as cs  # noqa: E402

SECTION = "## Conversational agent"
SCENARIOS = Path(os.environ.get("ECS_AGENT_SHARED", ROOT.parent / "shared")) / "scenarios"
MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TURNS, MESSAGE_BYTES = 40, 2048
# neutral prose: no symptom or intent words, so every follow-up is a question answered from the findings
VOCABULARY = ("the", "customer", "order", "dashboard", "we", "saw", "before", "team", "when", "morning", "users",
              "page", "mobile", "region", "queue", "cache", "replica", "about", "was", "and", "but", "some", "many",
              "few", "minutes", "graph", "ticket", "owner", "payment", "invoice", "batch", "nightly", "colour", "table",
              "window", "number", "green", "blue", "office", "paper", "north", "south", "river", "garden", "coffee")
CALLS_TARGET, TOKENS_TARGET, RATIO_TARGET, P50_TARGET_MS = 2, 6000, 3.0, 50.0


def model_budget() -> list[dict]:
    from agents.aws_ecs_service import ECSDeepAgentConfig, create_ecs_deep_agent
    from agents.aws_ecs_service.conversation.model import make_chat_model

    rows = []
    for path in sorted(SCENARIOS.glob("*.json")):
        sc = json.loads(path.read_text())
        fake = play(sc, latency_ms=0)
        saved = dict(os.environ)
        os.environ.update(aws_env(fake.endpoint, sc.get("region", "us-east-1")))
        try:
            with cs.ConverseServer([cs.tool_use("ContextExtraction", {"intent": "diagnose"}),
                                    cs.text("explanation")]) as server:
                os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = server.endpoint
                config = ECSDeepAgentConfig(model_name=MODEL_ID, aws_region=sc.get("region", "us-east-1"))
                agent = asyncio.run(create_ecs_deep_agent(config=config, chat_model=make_chat_model(config)))
                target = sc["target"]
                asyncio.run(agent.ainvoke(
                    {"messages": [{"role": "user", "content": f"{target['service']} in cluster {target['cluster']} "
                                                              "is having issues"}]},
                    config={"configurable": {"thread_id": uuid.uuid4().hex}}))
                rows.append({"scenario": sc["id"], "calls": len(server.requests),
                             "tokens": server.input_chars() // cs.CHARS_PER_TOKEN})
        finally:
            os.environ.clear()
            os.environ.update(saved)
            fake.stop()
    return rows


def _table_bytes(conn, thread: str) -> int:
    total = 0
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        row = conn.execute(f"select coalesce(sum(pg_column_size(t.*)), 0) as n from {table} t where thread_id = %s",
                           (thread,)).fetchone()
        total += int(row["n"])
    return total


def conversation(database_url: str, durability: str) -> dict:
    """40 turns on one thread: a triage, then 39 questions of 2 KB answered from the findings."""
    from agents.aws_ecs_service.config import ECSDeepAgentConfig
    from agents.aws_ecs_service.conversation.graph import Dependencies, build_graph
    from agents.aws_ecs_service.conversation.memory import open_memory

    sc = json.loads((SCENARIOS / "oom-after-deploy.json").read_text())
    fake = play(sc, latency_ms=0)
    saved = dict(os.environ)
    os.environ.update(aws_env(fake.endpoint, sc.get("region", "us-east-1")))
    memory = open_memory(database_url)
    try:
        assert memory.kind == "postgres", memory.notice
        graph = build_graph(Dependencies(config=ECSDeepAgentConfig(model_name="offline"))).compile(
            checkpointer=memory.saver)
        thread = f"bench-{uuid.uuid4().hex[:8]}"
        cfg = {"configurable": {"thread_id": thread}}
        raw = 0
        durations = []
        words = random.Random(7)
        for turn in range(TURNS):
            # prose-like text (not a repeated string, which PostgreSQL would compress away)
            prose = " ".join(words.choice(VOCABULARY) for _ in range(MESSAGE_BYTES // 4))
            text = "prod/api is crashing" if turn == 0 else f"question {turn}: {prose}"[:MESSAGE_BYTES - 1] + "?"
            started = time.perf_counter()
            state = graph.invoke({"messages": [{"role": "user", "content": text}]}, cfg, durability=durability)
            if turn:
                durations.append((time.perf_counter() - started) * 1000)
            raw += len(text.encode()) + len(state["messages"][-1].content.encode())
        with memory.saver.conn.connection() as conn:
            stored = _table_bytes(conn, thread)
        durations.sort()
        return {"raw": raw, "stored": stored, "p50": statistics.median(durations),
                "p95": durations[int(len(durations) * 0.95) - 1]}
    finally:
        memory.close()
        os.environ.clear()
        os.environ.update(saved)
        fake.stop()


def section(budget: list[dict], conv: dict, per_node: dict) -> str:
    max_calls = max(r["calls"] for r in budget)
    max_tokens = max(r["tokens"] for r in budget)
    ratio = conv["stored"] / conv["raw"]

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = [SECTION, "",
             f"Measured {dt.date.today():%Y-%m-%d} by `bench/agent_bench.py` ({os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}; AWS played by fakeaws, Bedrock by a local Converse server that counts "
             f"requests; tokens estimated at {cs.CHARS_PER_TOKEN} characters each).", "",
             "| | measured | target |", "| --- | --- | --- |",
             f"| model calls per automatic triage (10 public scenarios) | max {max_calls} | <= {CALLS_TARGET}: "
             f"{met(max_calls <= CALLS_TARGET)} |",
             f"| input tokens per automatic triage | max {max_tokens}, median "
             f"{int(statistics.median(r['tokens'] for r in budget))} | <= {TOKENS_TARGET}: "
             f"{met(max_tokens <= TOKENS_TARGET)} |",
             f"| checkpoint bytes after {TURNS} turns of 2 KB messages (PostgreSQL, durability=\"exit\") | "
             f"{conv['stored'] / 1024:.0f} KiB "
             f"for {conv['raw'] / 1024:.0f} KiB of text = {ratio:.2f}x | <= {RATIO_TARGET:.0f}x: "
             f"{met(ratio <= RATIO_TARGET)} |",
             f"| same with LangGraph's default durability (a checkpoint after every node) | "
             f"{per_node['stored'] / 1024:.0f} KiB = {per_node['stored'] / per_node['raw']:.2f}x | (use exit) |",
             f"| graph overhead per turn, no model, PostgreSQL, durability=\"exit\" | p50 {conv['p50']:.1f} ms, p95 "
             f"{conv['p95']:.1f} ms | p50 <= {P50_TARGET_MS:.0f} ms: {met(conv['p50'] <= P50_TARGET_MS)} |",
             f"| same, default durability | p50 {per_node['p50']:.1f} ms, p95 {per_node['p95']:.1f} ms | |", "",
             "| scenario | model calls | input tokens |", "| --- | --- | --- |"]
    lines += [f"| {r['scenario']} | {r['calls']} | {r['tokens']} |" for r in budget]
    lines += ["", "Why the checkpoints stay small: the state keeps the last 2 messages plus a capped running "
              "summary (LangGraph stores a full copy of a channel each time it changes), a turn's scratch values "
              "share one channel, the evidence kept for the planner has no logs or metrics, and callers run the "
              "graph with `durability=\"exit\"` (one checkpoint per turn or approval prompt instead of one per "
              "node; `ecs-agent chat` does).", ""]
    return "\n".join(lines)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-write", action="store_true", help="print the section, do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    budget = model_budget()
    conv = conversation(args.database_url, "exit")
    per_node = conversation(args.database_url, "async")
    text = section(budget, conv, per_node)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS_MD, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
