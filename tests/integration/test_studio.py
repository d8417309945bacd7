"""LangGraph Studio's path: `langgraph dev` serves langgraph.json's graph, driven with langgraph-sdk as Studio drives it.

The server runs from .venv-studio (`make studio`; langgraph-api cannot share the dev environment) in a subprocess whose
AWS is a fakeaws scenario in this process, so the test sees every write call. Missing .venv-studio: skip locally, fail
when REQUIRE_STUDIO=1 (`make test`).
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import boto3
import httpx
import pytest
from langgraph_sdk import get_client

from tests.conftest import ROOT, load_scenario
from tests.readme_snippets import python_blocks, run_block

pytestmark = pytest.mark.slow

LANGGRAPH = ROOT / ".venv-studio" / "bin" / "langgraph"
GRAPH = "ecs_deep_agent"  # the seed's name (langgraph.json)
STARTUP_WAIT_S = 180  # generous: the server imports the graph on a shared, busy machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rooted_config(folder: Path) -> Path:
    """The checkout's langgraph.json with its paths made absolute, in `folder`: the server keeps its threads in the
    folder it runs from (.langgraph_api), which then is not the checkout."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["graphs"] = {name: str(ROOT / spec) for name, spec in config["graphs"].items()}
    config["dependencies"] = [str(ROOT / dep) for dep in config["dependencies"]]
    config["env"] = str(ROOT / config["env"])
    (folder / "langgraph.json").write_text(json.dumps(config))
    return folder


def _wait_until_up(server: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + STARTUP_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"langgraph dev exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"langgraph dev did not answer within {STARTUP_WAIT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def studio(play_scenario, tmp_path):
    """start(scenario) -> (fakeaws, URL of `langgraph dev` serving the graph against it), writes allowed."""
    if not LANGGRAPH.exists():
        if os.environ.get("REQUIRE_STUDIO") == "1":
            pytest.fail(f"{LANGGRAPH} is missing (REQUIRE_STUDIO=1): run `make studio`")
        pytest.skip(f"{LANGGRAPH} is missing: `make studio` installs it")
    servers = []

    def start(scenario):
        fake = play_scenario(scenario)  # sets AWS_ENDPOINT_URL and the region in os.environ
        env = {**os.environ, "ECS_AGENT_MODEL": "offline", "ALLOW_WRITE": "true", "LANGSMITH_TRACING": "false",
               "LANGCHAIN_TRACING_V2": "false", "ECS_AGENT_CONFIG": str(tmp_path / "no-agent.yaml")}
        env.pop("DATABASE_URL", None)
        port = _free_port()
        log = tmp_path / "langgraph-dev.log"
        server = subprocess.Popen([str(LANGGRAPH), "dev", "--port", str(port), "--no-browser", "--no-reload"],
                                  cwd=_rooted_config(tmp_path), env=env, stdout=log.open("w"),
                                  stderr=subprocess.STDOUT)
        servers.append(server)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(server, url, log)
        return fake, url

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=60)


async def _run(client, thread_id: str, on_progress=lambda line: None, **request) -> tuple[list[str], list[dict]]:
    """One run streamed as Studio streams it: (progress lines, interrupt payloads)."""
    progress, interrupts = [], []
    async for part in client.runs.stream(thread_id, GRAPH, stream_mode=["updates", "custom"], **request):
        if part.event == "custom" and isinstance(part.data, dict) and part.data.get("progress"):
            progress.append(part.data["progress"])
            on_progress(part.data["progress"])
        elif part.event == "updates" and "__interrupt__" in (part.data or {}):
            interrupts += [i["value"] for i in part.data["__interrupt__"]]
        assert part.event != "error", part.data
    return progress, interrupts


def _say(text: str) -> dict:
    return {"input": {"messages": [{"role": "user", "content": text}]}}


def test_studio_streams_progress_stops_at_the_approval_and_resumes_approve_and_reject(studio):
    fake, url = studio(load_scenario("oom-after-deploy"))
    writes = lambda: [c for c in fake.calls if c["write"]]  # noqa: E731
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")

    async def conversation():
        client = get_client(url=url)
        approve, reject = (await client.threads.create())["thread_id"], (await client.threads.create())["thread_id"]

        progress, interrupts = await _run(client, approve, **_say("prod/api is crashing"))
        assert any(line.startswith("checking prod/api (us-east-1)") for line in progress), progress
        assert interrupts == []
        state = (await client.threads.get_state(approve))["values"]
        assert state["findings"]["root_cause"]["category"] == "container-oom"

        _, [pending] = await _run(client, approve, **_say("fix it"))
        assert pending["type"] == "approval"
        assert pending["steps"] == ["ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)"]
        _, [other] = await _run(client, reject, **_say("please roll back cluster prod service api"))
        assert other["plan_hash"] == pending["plan_hash"]  # the same plan for the same service
        assert writes() == []  # nothing is written before a decision

        _, again = await _run(client, reject, command={"resume": {"decision": "reject", "by": "bob"}})
        rejected = (await client.threads.get_state(reject))["values"]
        assert again == [] and rejected["approvals"][-1]["decision"] == "rejected"
        assert rejected["turn"]["outcome"] == "rejected" and writes() == []

        def alarm_clears_while_it_waits(line: str) -> None:  # the progress arrives while the verifier polls
            if line == "verify poll 1: 4/4 tasks running on api:61; waiting for: alarm api-memory-high OK":
                cloudwatch.set_alarm_state(AlarmName="api-memory-high", StateValue="OK", StateReason="recovered")

        progress, _ = await _run(client, approve, alarm_clears_while_it_waits,
                                 command={"resume": {"decision": "approve", "by": "alice"}})
        assert any(line.startswith("step 1/1 ok") for line in progress), progress
        assert progress[-1] == "verify poll 2: 4/4 tasks running on api:61; all checks pass", progress
        approved = (await client.threads.get_state(approve))["values"]
        assert approved["approvals"][-1]["decision"] == "approved" and approved["approvals"][-1]["decided_by"] == "alice"
        assert approved["verification"] is not None
        assert "step 1: ecs:UpdateService ok" in approved["messages"][-1]["content"]

    asyncio.run(conversation())
    [write] = writes()
    assert write["op"] == "UpdateService" and write["params"]["taskDefinition"].endswith("api:61")


def test_studio_lists_the_agent_config_fields_and_the_readme_client_snippet_runs_against_it(studio):
    _, url = studio(load_scenario("healthy-steady"))

    async def schemas():  # Studio lists the graph's assistants, then asks for the schemas of one
        client = get_client(url=url)
        [assistant] = await client.assistants.search(graph_id=GRAPH)
        return await client.assistants.get_schemas(assistant["assistant_id"])

    found = asyncio.run(schemas())
    fields = {"model_name", "allow_write", "allow_sensitive_data", "aws_region", "aws_profile", "database_url",
              "reports_bucket", "planton_token", "org_id", "env_name", "targets"}
    assert fields <= set(found["context_schema"]["properties"])
    assert fields <= set(found["config_schema"]["properties"])
    assert found["context_schema"]["title"] == "ECSDeepAgentConfig"

    [snippet] = [block for block in python_blocks() if "langgraph_sdk" in block]
    printed = run_block(snippet.replace("http://127.0.0.1:2024", url), {})  # the README's port is langgraph dev's own
    assert printed.startswith("checking prod/api (us-east-1): "), printed
