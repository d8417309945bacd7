"""Shared fixtures: scenario worlds played by ../shared/tools/fakeaws.py, and PostgreSQL.

Tests may read ../shared (product code never does).

The `slow` marker (`make test-fast` runs `-m "not slow"`): a test that uses a fixture of SLOW_FIXTURES (it starts a
server or builds something) is marked here; other slow tests (subprocesses, Step Functions polling, over ~1 s) carry
the marker in their own file.
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from agents.aws_ecs_service.diagnosis.secret_text import clear_cache

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ECS_AGENT_SHARED", ROOT.parent / "shared"))
SCENARIOS = SHARED / "scenarios"
sys.path.insert(0, str(SHARED / "tools"))

# Tests never talk to real AWS or Bedrock.
os.environ.setdefault("ECS_AGENT_MODEL", "offline")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

# Fixture -> why every test that uses it (directly or through another fixture) is slow.
SLOW_FIXTURES = {
    "play_scenario": "starts a fakeaws HTTP server",
    "bedrock": "starts a Converse HTTP server",
    "synth": "synthesizes the CDK stack (tests/infra/conftest.py)",
    "read_only_views": "synthesizes the CDK stack a second time (tests/infra/conftest.py)",
    "bundle": "pip-bundles the arm64 Lambda asset (tests/infra/test_lambda_asset.py)",
}


@pytest.fixture(autouse=True)
def _cold_redaction_caches():
    """Every test masks with the code, not with an answer cached by an earlier test: mutation testing forks each
    mutant's run from a process whose caches the unmutated suite has filled."""
    clear_cache()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not SLOW_FIXTURES.keys().isdisjoint(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def scenario_files() -> list[Path]:
    return sorted(SCENARIOS.glob("*.json"))


def load_scenario(name: str) -> dict:
    path = SCENARIOS / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text())


@pytest.fixture
def aws_env(monkeypatch):
    """Clean AWS environment with fake credentials (no profile, no real endpoint)."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # the process's session pool keeps clients across invocations, as a warm Lambda container does; each test is a
    # new container (its endpoints and credentials differ)
    from agents.aws_ecs_service.aws import session

    monkeypatch.setattr(session, "_shared", {})
    return monkeypatch


@pytest.fixture
def play_scenario(aws_env):
    """play_scenario(name_or_dict, read_only=False, latency_ms=0) -> FakeAws with .endpoint; AWS_ENDPOINT_URL set."""
    from fakeaws import FakeAws

    started = []

    def _play(scenario, read_only: bool = False, latency_ms: float = 0.0):
        sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
        # moto's backends are process-wide: without a reset, logs/metrics/alarms of earlier tests leak in
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        fake = FakeAws(sc, latency_ms=latency_ms, read_only=read_only)
        fake.start()
        started.append(fake)
        aws_env.setenv("AWS_ENDPOINT_URL", fake.endpoint)
        aws_env.setenv("AWS_REGION", sc.get("region", "us-east-1"))
        aws_env.setenv("AWS_DEFAULT_REGION", sc.get("region", "us-east-1"))
        return fake

    yield _play
    for fake in started:
        fake.stop()


def _postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL URL. Missing server: skip locally, fail when REQUIRE_POSTGRES=1 (CI)."""
    url = _postgres_url()
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable server"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {url}: {exc}")
    return url


@pytest.fixture
def pg_schema_url(postgres_url):
    """A fresh schema per test (search_path), dropped afterwards, so tests don't see each other's tables."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'drop schema "{schema}" cascade')


@pytest.fixture
def bedrock(monkeypatch):
    """start(script) -> tests.converse_server.ConverseServer; ChatBedrockConverse finds it through
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME."""
    from tests.converse_server import ConverseServer

    servers = []

    def start(script):
        server = ConverseServer(script).__enter__()
        servers.append(server)
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.endpoint)
        return server

    yield start
    for server in servers:
        server.__exit__()
