"""`ecs-agent mcp` driven by the MCP SDK's own client over stdio, against a fakeaws scenario."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the MCP server in a subprocess, over stdio and on a local HTTP port

EXPECTED_TOOLS = {"describe_service", "recent_stopped_tasks", "recent_service_logs", "triage", "propose_plan",
                  "list_aws_credentials", "get_aws_credential", "extract_aws_credentials_for_sdk",
                  "list_aws_ecs_services", "get_aws_ecs_service"}
WRITE_WORDS = ("update", "stop_task", "run_task", "apply", "remediate", "scale", "rollback", "delete", "create",
               "put", "execute", "approve")


def _server_params() -> StdioServerParameters:
    # the endpoint and fake credentials play_scenario set reach the subprocess through its environment
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env.update(ECS_AGENT_MODEL="offline", ECS_AGENT_CONFIG=str(ROOT / "tests" / "no-such-agent.yaml"))
    return StdioServerParameters(command=sys.executable, args=["-m", "agents.aws_ecs_service.interfaces.cli", "mcp"],
                                 env=env, cwd=str(ROOT))


def _json(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def _session(steps):
    async def run():
        async with Client(_server_params(), read_timeout_seconds=60) as client:
            return await steps(client)
    return anyio.run(run)


def test_tools_are_read_only_and_triage_finds_the_cause(play_scenario):
    fake = play_scenario("oom-after-deploy", read_only=True)

    async def steps(client):
        tools = (await client.list_tools()).tools
        triage = _json(await client.call_tool("triage", {"cluster": "prod", "service": "api"}))
        described = _json(await client.call_tool("describe_service", {"cluster": "prod", "service": "api"}))
        stopped = _json(await client.call_tool("recent_stopped_tasks",
                                               {"cluster": "prod", "service": "api", "limit": 5}))
        logs = _json(await client.call_tool("recent_service_logs", {"cluster": "prod", "service": "api",
                                                                    "since": "2h"}))
        plans = _json(await client.call_tool("propose_plan", {"cluster": "prod", "service": "api"}))
        missing = await client.call_tool("triage", {"cluster": "prod", "service": "no-such-service"})
        return tools, triage, described, stopped, logs, plans, missing

    tools, triage, described, stopped, logs, plans, missing = _session(steps)

    names = {t.name for t in tools}
    assert names == EXPECTED_TOOLS
    assert not [n for n in names if any(word in n for word in WRITE_WORDS)]
    assert all(t.annotations and t.annotations.read_only_hint for t in tools)

    assert triage["schema"] == "ecs-triage/v1"
    assert triage["target"]["service_arn"] == "arn:aws:ecs:us-east-1:123456789012:service/prod/api"
    assert triage["root_cause"]["category"] == "container-oom"
    assert described["service"] == "api" and described["deployments"]
    assert stopped["tasks"] and any(c["exit_code"] == 137 or "OutOfMemory" in (t["stopped_reason"] or "")
                                    for t in stopped["tasks"] for c in t["containers"])
    assert logs["streams"] and all(s["task_status"] == "STOPPED" for s in logs["streams"])
    assert any("cache size 812MB exceeds soft limit" in line for s in logs["streams"] for line in s["lines"])
    assert plans["root_cause"] == "container-oom" and plans["plans"][0]["steps"]
    assert missing.is_error and "no-such-service" in missing.content[0].text
    assert [c for c in fake.calls if c["write"]] == []  # nothing changed AWS


def test_discovery_over_mcp_then_triage_by_service_id(play_scenario):
    play_scenario("oom-after-deploy", read_only=True)

    async def steps(client):
        listed = _json(await client.call_tool("list_aws_ecs_services", {}))
        service_id = next(s["id"] for s in listed["services"] if s["name"] == "api")
        ready = await client.call_tool("extract_aws_credentials_for_sdk", {"credential_id": "default"})
        triage = _json(await client.call_tool("triage", {"service_id": service_id}))
        return listed, ready, triage

    listed, ready, triage = _session(steps)
    assert any(s["name"] == "api" and s["cluster"] == "prod" for s in listed["services"])
    text = ready.content[0].text
    assert text.startswith("credentials ready for account") and "testing" not in text
    assert triage["root_cause"]["category"] == "container-oom"


def test_streamable_http_on_a_local_port(aws_env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = _server_params()
    server = subprocess.Popen([params.command, *params.args, "--http", "--port", str(port)], cwd=params.cwd,
                              env={**os.environ, **params.env}, stderr=subprocess.DEVNULL)

    async def list_tools():
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            return {t.name for t in (await client.list_tools()).tools}

    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert anyio.run(list_tools) == EXPECTED_TOOLS
                break
            except (OSError, ExceptionGroup, httpx.HTTPError):  # not listening yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
