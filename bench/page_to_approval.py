"""Page to approval: from one ECS deployment-failure event to the approval email on SNS.

    .venv/bin/python bench/page_to_approval.py [--runs 5] [--latency-ms 0 50] [--no-write]

The serverless world of the e2e tests (tests/e2e/serverless_world.py): the intake function, the real ASL in moto's
Step Functions interpreter, the Triage/Plan/RequestApproval functions in-process, real PostgreSQL, ECS played by
fakeaws (the oom-after-deploy scenario). Every AWS call of every function waits --latency-ms first, as a call to
AWS takes time. "cold": the first incident in a fresh process state (the functions build their sessions and
clients); "warm": the service's next incident in the same containers (sessions and clients reused). Counted:
botocore clients created per incident. Writes the "Page to approval" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402
from bench.fake_aws_env import use_fake_aws  # noqa: E402
from bench.triage_speed import SHARED  # noqa: E402,F401  (puts ../shared/tools on sys.path)

SECTION = "## Page to approval"
SCENARIO = "oom-after-deploy"


def _alarm_event(world: Any, at: str) -> dict[str, Any]:
    t = world.scenario["target"]
    return {"version": "0", "id": f"alarm-{uuid.uuid4().hex[:8]}", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": "123456789012", "time": at, "region": world.region,
            "resources": [f"arn:aws:cloudwatch:{world.region}:123456789012:alarm:api-memory-high"],
            "detail": {"alarmName": "api-memory-high", "state": {"value": "ALARM", "reason": "Threshold Crossed"},
                       "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {
                           "namespace": "AWS/ECS", "name": "MemoryUtilization",
                           "dimensions": {"ClusterName": t["cluster"], "ServiceName": t["service"]}}}}]}}}


class ClientCount:
    """botocore clients created (each loads its service model): the cost the session pool saves on warm calls."""

    def __init__(self, mp: Any):
        import botocore.session

        self.count = 0
        create = botocore.session.Session.create_client

        def counted(session: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return create(session, *args, **kwargs)

        mp.setattr(botocore.session.Session, "create_client", counted)


def one_world(database_url: str, latency_ms: float) -> tuple[float, float, int, int]:
    """(cold s, warm s, clients created for the cold incident, for the warm one) in one fresh world."""
    import pytest
    from botocore.client import BaseClient
    from fakeaws import FakeAws
    from moto.moto_api._internal.models import moto_api_backend

    from tests.conftest import load_scenario
    from tests.e2e.serverless_world import scenario_world, sent_emails, wait_for

    played: list[Any] = []

    def play(scenario: Any, latency_ms: float = 0.0) -> Any:
        moto_api_backend.reset()
        fake = FakeAws(scenario if isinstance(scenario, dict) else load_scenario(scenario))
        fake.start()
        played.append(fake)
        os.environ["AWS_ENDPOINT_URL"] = fake.endpoint
        return fake

    with pytest.MonkeyPatch.context() as mp:
        call = BaseClient._make_api_call

        def after_latency(client: Any, operation: str, params: dict[str, Any]) -> Any:
            time.sleep(latency_ms / 1000)
            return call(client, operation, params)

        mp.setattr(BaseClient, "_make_api_call", after_latency)
        from agents.aws_ecs_service.aws import session

        mp.setattr(session, "_shared", {})  # a fresh process: no session built yet
        clients = ClientCount(mp)
        try:
            with scenario_world(play, database_url, mp, scenario=SCENARIO) as world:
                def emails() -> int:
                    return len([e for e in sent_emails(world.region) if "Approve:" in e["message"]])

                clients.count, started_at = 0, time.perf_counter()
                first = world.intake(world.deployment_failed_event("d1", "2026-01-01T12:00:00Z"))
                wait_for(lambda: emails() >= 1, timeout=120, interval=0.005, what="the first approval email")
                cold, cold_clients = time.perf_counter() - started_at, clients.count
                _, links = world.email_links(first["incident_id"])
                world.approval("POST", links["reject"], "decision=reject")
                world.wait_done(first["execution_arn"])

                clients.count, started_at = 0, time.perf_counter()
                world.intake(_alarm_event(world, dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
                wait_for(lambda: emails() >= 2, timeout=120, interval=0.005, what="the second approval email")
                warm, warm_clients = time.perf_counter() - started_at, clients.count
        finally:
            for fake in played:
                fake.stop()
    return cold, warm, cold_clients, warm_clients


def measure(database_url: str, latency_ms: float, runs: int) -> dict[str, Any]:
    import psycopg

    rows = []
    for _ in range(runs):
        schema = f"page_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'create schema "{schema}"')
        try:
            sep = "&" if "?" in database_url else "?"
            rows.append(one_world(f"{database_url}{sep}options=-csearch_path%3D{schema}", latency_ms))
        finally:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'drop schema "{schema}" cascade')
    return {"latency_ms": latency_ms, "runs": runs,
            "cold_ms": statistics.median(r[0] for r in rows) * 1000, "warm_ms": statistics.median(r[1] for r in rows)
            * 1000, "cold_clients": statistics.median(r[2] for r in rows),
            "warm_clients": statistics.median(r[3] for r in rows)}


def section(results: list[dict[str, Any]]) -> str:
    lines = [SECTION, "",
             f"Measured {dt.date.today().isoformat()} by `bench/page_to_approval.py` ({os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}): one `SERVICE_DEPLOYMENT_FAILED` event through the intake, the real ASL "
             "(moto's interpreter), Triage, Plan and RequestApproval in-process with real PostgreSQL, until the "
             "approval email is on the SNS topic; ECS played by fakeaws (oom-after-deploy). Medians of "
             f"{results[0]['runs']} fresh worlds each. Warm: the service's next incident in the same containers.", "",
             "| AWS latency per call | cold: event -> email | warm: event -> email | botocore clients built, cold / warm |",
             "| --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['latency_ms']:.0f} ms | {r['cold_ms']:.0f} ms | {r['warm_ms']:.0f} ms | "
                     f"{r['cold_clients']:.0f} / {r['warm_clients']:.0f} |")
    lines += ["", "Sessions and clients are built once per container and per (credentials, region) "
              "(`aws/session.py` SessionPool), so a warm container builds none for the next incident; the rest of "
              "the time is the triage's reads, moto's interpreter and PostgreSQL.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    ap.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    use_fake_aws("us-east-1")
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    results = [measure(args.database_url, latency, args.runs) for latency in args.latency_ms]
    text = section(results)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS_MD, text)
        print(f"updated {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
