"""Chat API load: concurrent conversations over HTTP against the chat function, PostgreSQL real, model offline.

    .venv/bin/python bench/chat_load.py [--conversations 50] [--containers 10] [--aws-latency-ms 0]
                                        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--no-write]

The chat function runs behind tests/local_chat_api.py's LocalApi: API Gateway proxy events, each request in
one of --containers worker processes that take one request at a time, as Lambda's execution environments do
(10 = the stack's default reserved concurrency for the chat function). AWS is a fakeaws world (the
oom-after-deploy scenario) and the model is offline, so latency excludes the model. Containers are warmed
first; the numbers are warm-container numbers. Each conversation, all started at once:

    POST /threads with a first message (triage) -> follow-up in business terms -> "fix it" (approval asked)
    -> GET the thread -> reject the plan (the graph resumes) -> reject again (409 expected)

Every conversation is about the same service, so they all work on its one open incident: the first rejection of
its plan decides it, and the others' first rejection is a 409 (already rejected) as well.

An error is any answer other than the expected status. Writes the "Chat API load" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402
from bench.triage_speed import SHARED, aws_env, play  # noqa: E402  (also puts ../shared/tools on sys.path)
from tests.local_chat_api import LocalApi, chat_environment, migrate_all  # noqa: E402

SECTION = "## Chat API load"
SCENARIO = "oom-after-deploy"
REQUESTS_PER_CONVERSATION = 6


class Conversation:
    """One user's conversation; records (route, latency s, ok) per request."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.results: list[tuple[str, float, bool]] = []
        self.failures: list[str] = []

    def _call(self, method: str, route: str, thread: str, expected: int | tuple[int, ...],
              body: dict | None = None) -> dict[str, Any]:
        path = route.replace("{id}", thread)
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base_url + path, json=body, timeout=120)
            status, payload = response.status_code, response.json()
        except (requests.RequestException, ValueError) as exc:
            status, payload = 0, {"message": str(exc)}
        ok = status in (expected if isinstance(expected, tuple) else (expected,))
        self.results.append((f"{method} {route}", time.perf_counter() - started, ok))
        if not ok:
            self.failures.append(f"{method} {path}: {status} {str(payload)[:200]}")
        return payload if ok else {}

    def run(self) -> None:
        opened = self._call("POST", "/threads", "", 201, {"message": "prod/api keeps crashing since the deploy"})
        thread = opened.get("thread_id")
        if not thread:
            return
        self._call("POST", "/threads/{id}/messages", thread, 200, {"message": "explain it in business terms"})
        asked = self._call("POST", "/threads/{id}/messages", thread, 200, {"message": "fix it"})
        plan_hash = (asked.get("pending_approval") or {}).get("plan_hash") or "0" * 32
        self._call("GET", "/threads/{id}", thread, 200)
        decision = {"decision": "reject", "plan_hash": plan_hash}
        self._call("POST", "/threads/{id}/approvals", thread, (200, 409), decision)  # one incident, one decision
        self._call("POST", "/threads/{id}/approvals", thread, 409, decision)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _spread(seconds: list[float]) -> dict[str, float]:
    return {"n": len(seconds), "p50_ms": _percentile(seconds, 0.5) * 1000, "p95_ms": _percentile(seconds, 0.95) * 1000}


def run_load(database_url: str, conversations: int, containers: int) -> dict[str, Any]:
    """Run the conversations against a LocalApi; the caller has set the environment (AWS endpoint, chat env)."""
    migrate_all(database_url)
    with LocalApi(containers=containers, quiet=True) as api:
        # one first turn per container at once (each is slow: imports, clients), so every container is warm
        warm = [threading.Thread(target=requests.post, args=(f"{api.url}/threads",), kwargs={
            "json": {"message": "prod/api keeps crashing"}, "timeout": 120}) for _ in range(containers)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        api.handler_seconds.clear()
        users = [Conversation(api.url) for _ in range(conversations)]
        threads = [threading.Thread(target=u.run) for u in users]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        handler = list(api.handler_seconds)
    client = [(route, seconds) for u in users for route, seconds, _ in u.results]
    failures = [f for u in users for f in u.failures]
    routes = list(dict.fromkeys(route for route, _ in client))
    return {"conversations": conversations, "containers": containers, "requests": len(client),
            "errors": len(failures), "failures": failures[:5], "wall_s": wall, "per_s": len(client) / wall,
            "all": {"client": _spread([s for _, s in client]), "handler": _spread([s for _, s in handler])},
            "routes": {r: {"client": _spread([s for route, s in client if route == r]),
                           "handler": _spread([s for route, s in handler if route == r])} for r in routes}}


def section(result: dict[str, Any], alone: dict[str, Any], aws_latency_ms: float) -> str:
    def row(name: str, spread: dict[str, dict[str, float]], single: dict[str, dict[str, float]]) -> str:
        c, h = spread["client"], spread["handler"]
        return (f"| {name} | {c['n']} | {c['p50_ms']:.0f} ms / {c['p95_ms']:.0f} ms | "
                f"{h['p50_ms']:.0f} ms / {h['p95_ms']:.0f} ms | {single['handler']['p50_ms']:.0f} ms |")

    return "\n".join([
        SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/chat_load.py` ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}): {result['conversations']} conversations at once over HTTP, each "
        f"{REQUESTS_PER_CONVERSATION} requests (open with a triage, follow-up, \"fix it\", read the thread, reject, "
        f"reject again = 409), against the chat function in {result['containers']} warm worker processes (one "
        f"request at a time each, as a Lambda container serves them; {result['containers']} stands for the "
        "concurrency Lambda grants the function, which the stack leaves unreserved unless `chatConcurrency` is set), "
        f"real PostgreSQL, AWS played by fakeaws at {aws_latency_ms:.0f} ms per call, model offline (latency "
        "excludes the model). Client latency includes waiting for a free container; handler time is the function's "
        "own, and here the containers, fakeaws and the clients share the machine's CPUs (in Lambda each container has "
        "its own). The last column is one conversation alone in one container.", "",
        f"Requests: {result['requests']} in {result['wall_s']:.1f} s ({result['per_s']:.1f}/s); errors (any answer "
        f"but the expected status): {result['errors']}.", "",
        "| route | requests | client p50 / p95 | handler p50 / p95 | handler, alone |",
        "| --- | --- | --- | --- | --- |",
        *[row(route, spread, alone["routes"][route]) for route, spread in result["routes"].items()],
        row("all", result["all"], alone["all"]), ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--aws-latency-ms", type=float, default=0.0)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-write", action="store_true", help="print the section, do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    sc = json.loads((SHARED / "scenarios" / f"{SCENARIO}.json").read_text())
    fake = play(sc, latency_ms=args.aws_latency_ms)
    saved = dict(os.environ)
    os.environ.update({**aws_env(fake.endpoint, sc.get("region", "us-east-1")), **chat_environment(args.database_url)})
    try:
        alone = run_load(args.database_url, 1, 1)
        result = run_load(args.database_url, args.conversations, args.containers)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        fake.stop()
    text = section(result, alone, args.aws_latency_ms)
    print(text)
    for failure in result["failures"]:
        print(f"  error: {failure}")
    if not args.no_write:
        write_section(BENCHMARKS_MD, text)
    return 1 if result["errors"] or alone["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
