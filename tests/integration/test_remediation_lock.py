"""One remediation at a time per service: two executions applying the service's approved plan at the same time (the
incident's own workflow and a chat-approved one) through the real Remediate function (each invocation with its own
database connection) against a slow fakeaws world. The lock rows and the audit log in PostgreSQL show that the
writes never overlapped and the change was made once."""
from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from agents.aws_ecs_service.domain.incident_keys import incident_id_for
from agents.aws_ecs_service.domain.plan import SKIPPED, Approval, Plan
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.approval_store import PostgresApprovalStore
from agents.aws_ecs_service.incidents.remediation_lock import PostgresRemediationLock
from agents.aws_ecs_service.incidents.schema import migrate
from agents.aws_ecs_service.operations.remediator import ServiceBusy
from tests.e2e.serverless_world import LambdaContextStub

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # fakeaws servers, holders killed in subprocesses
SLOW_AWS_S = 0.3  # per ECS call while remediating: a write takes ~1 s, plenty of time to overlap


def _conn(url):
    return psycopg.connect(url, autocommit=True, row_factory=dict_row, prepare_threshold=None)


class Service:
    """The oom-after-deploy service (fakeaws) and the workflow's step functions."""

    def __init__(self, fake, scenario, url):
        self.fake, self.url = fake, url
        self.target = ServiceTarget.from_names(scenario["account"], scenario["region"], scenario["target"]["cluster"],
                                               scenario["target"]["service"])

    def step(self, name, event):
        return importlib.import_module(f"functions.workflow.{name}").handler(event, LambdaContextStub(name))

    def approved_incident(self, hour):
        """Triage and plan an incident opened at `hour`, then approve its plan: the event Remediate gets."""
        at = dt.datetime(2026, 1, 1, hour, 5, tzinfo=dt.UTC).isoformat()
        iid = incident_id_for(self.target, at, f"event-{hour}")
        state = {"incident_id": iid, "target": self.target.model_dump(mode="json"),
                 "trigger": {"kind": "deployment-failed", "summary": "circuit breaker", "event_id": f"event-{hour}",
                             "at": at}}
        event = {"state": state, "execution": self.execution(iid)}
        state = self.step("plan", {**event, "state": self.step("triage", event)})
        with _conn(self.url) as conn:
            PostgresApprovalStore(conn).record(Approval(
                plan_hash=state["plan"]["hash"], incident_id=iid, decision="approved", decided_by="alice",
                decided_at=dt.datetime.now(dt.UTC).isoformat(), channel="email-link"))
        return {**event, "state": state}

    @staticmethod
    def execution(name):
        return f"arn:aws:states:us-east-1:123456789012:execution:ecs-incidents:{name}"

    def second_execution(self, event):
        """The same approved plan applied by another execution (a chat hand-off's) at the same time."""
        return {**event, "execution": self.execution(f"{event['state']['incident_id']}-approved")}

    def remediate_together(self, *events):
        barrier = threading.Barrier(len(events))
        results = {}

        def run(event):
            barrier.wait()
            results[event["execution"]] = self.step("remediate", event)["remediation"]

        threads = [threading.Thread(target=run, args=(e,)) for e in events]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def audit(self):
        with _conn(self.url) as conn:
            return [r["entry"] for r in conn.execute("select entry from ecs_agent_audit order by id")]

    def holds(self):
        with _conn(self.url) as conn:
            return conn.execute("select * from ecs_agent_remediation_locks order by acquired_at").fetchall()

    def writes(self):
        return [c for c in self.fake.calls if c["write"]]


@pytest.fixture
def service(play_scenario, pg_schema_url, monkeypatch):
    import boto3

    from tests.conftest import load_scenario

    scenario = load_scenario("oom-after-deploy")
    fake = play_scenario(scenario)
    boto3.client("s3", region_name=scenario["region"]).create_bucket(Bucket="reports")
    for key, value in {"DATABASE_URL": pg_schema_url, "ALLOW_WRITE": "true", "REPORTS_BUCKET": "reports",
                       "ALLOWED_CLUSTERS": scenario["target"]["cluster"], "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_NAMESPACE": "Test"}.items():
        monkeypatch.setenv(key, value)
    with _conn(pg_schema_url) as conn:
        migrate(conn)
    return Service(fake, scenario, pg_schema_url)


def _at(entry):
    return dt.datetime.fromisoformat(entry["at"])


@pytest.mark.attack("two remediations of one service at once")
def test_the_second_remediation_waits_and_the_writes_never_overlap(service):
    first = service.approved_incident(12)
    second = service.second_execution(first)
    service.fake.latency = SLOW_AWS_S
    outcome = service.remediate_together(first, second)

    assert [w["op"] for w in service.writes()] == ["UpdateService"]
    audit = service.audit()
    # the second found the step applied, and its result in place: no second write
    assert [e["result"] for e in audit] == ["ok", SKIPPED]
    assert all(o["ok"] for o in outcome.values())
    holds = service.holds()
    assert [h["holder"] for h in holds] == [f"workflow {e['actor'].removeprefix('workflow ')}" for e in audit]
    assert all(h["released_at"] for h in holds)
    assert holds[0]["released_at"] <= holds[1]["acquired_at"]  # the holds do not overlap ...
    for hold, entry in zip(holds, audit, strict=True):  # ... and each attempt happened inside its own hold
        assert hold["acquired_at"] <= _at(entry) <= hold["released_at"]
    # the second read the service only after the first had changed it
    assert audit[1]["before"]["taskDefinition"].endswith("api:61")


@pytest.mark.attack("two remediations of one service at once")
def test_the_second_remediation_is_refused_and_audited_when_the_wait_runs_out(service, monkeypatch):
    first = service.approved_incident(12)
    second = service.second_execution(first)
    monkeypatch.setenv("REMEDIATION_LOCK_WAIT_S", "0")
    service.fake.latency = SLOW_AWS_S
    outcome = service.remediate_together(first, second)

    assert [w["op"] for w in service.writes()] == ["UpdateService"]
    [hold] = service.holds()
    ok, refused = sorted(service.audit(), key=lambda e: e["result"] != "ok")
    assert ok["actor"] == hold["holder"] and refused["actor"] != hold["holder"]
    assert refused["allowed"] is False and refused["result"] == "refused" and refused["before"] == {}
    assert f"({hold['holder']})" in refused["reason"] and "in progress" in refused["reason"]
    assert hold["acquired_at"] <= _at(refused) <= hold["released_at"]
    assert outcome[refused["actor"].removeprefix("workflow ")]["ok"] is False
    assert outcome[hold["holder"].removeprefix("workflow ")]["ok"] is True


def _plan(incident, service="api"):
    return Plan(incident_id=incident, target=ServiceTarget.from_names("123456789012", "us-east-1", "prod", service),
                root_cause="container-oom", title="t", summary="s")


_DIE_HOLDING = """
import os, sys
import psycopg
from psycopg.rows import dict_row
from agents.aws_ecs_service.incidents.remediation_lock import PostgresRemediationLock
from agents.aws_ecs_service.domain.plan import Plan
from agents.aws_ecs_service.domain.target import ServiceTarget
url, incident, holder, ttl = sys.argv[1:]
conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
plan = Plan(incident_id=incident, target=ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api"),
            root_cause="container-oom", title="t", summary="s")
held = PostgresRemediationLock(conn, wait_s=0, ttl_s=float(ttl)).hold(plan, holder)
held.__enter__()
os._exit(0)  # killed while applying: no finally, no release
"""


def die_holding(url, incident, holder, ttl_s):
    """A remediate function that took the service's lease and was killed (a Lambda timeout)."""
    subprocess.run([sys.executable, "-c", _DIE_HOLDING, url, incident, holder, str(ttl_s)], check=True,
                   cwd=Path(__file__).resolve().parents[2], timeout=60)


@pytest.mark.attack("remediation lock holder died")
def test_a_killed_holder_blocks_others_but_its_own_retry_takes_the_lease_back(pg_schema_url):
    with _conn(pg_schema_url) as conn:
        migrate(conn)
        die_holding(pg_schema_url, "inc-a", "workflow exec-a", ttl_s=300)
        with pytest.raises(ServiceBusy, match="incident inc-a"):
            with PostgresRemediationLock(conn, wait_s=0.3, ttl_s=300, poll_s=0.05).hold(_plan("inc-b"), "exec-b"):
                pass
        lock = PostgresRemediationLock(conn, wait_s=0, ttl_s=300)  # no waiting: taken at once, or ServiceBusy
        with lock.hold(_plan("inc-c", service="web"), "workflow exec-c"):  # another service is not blocked
            pass
        with lock.hold(_plan("inc-a"), "workflow exec-a"):  # the killed step's retry
            pass
        with lock.hold(_plan("inc-b"), "workflow exec-b"):  # released by the retry: free again
            pass


@pytest.mark.attack("remediation lock holder died")
def test_a_killed_holders_lease_ends_at_its_expiry(pg_schema_url):
    with _conn(pg_schema_url) as conn:
        migrate(conn)
        die_holding(pg_schema_url, "inc-a", "workflow exec-a", ttl_s=1)
        with PostgresRemediationLock(conn, wait_s=30, ttl_s=300, poll_s=0.05).hold(_plan("inc-b"), "exec-b"):
            pass  # taken once the dead holder's lease expired (or ServiceBusy after a generous 30 s)
        rows = conn.execute("select incident_id, released_at, expires_at from ecs_agent_remediation_locks "
                            "order by id").fetchall()
        assert [r["incident_id"] for r in rows] == ["inc-a", "inc-b"]
        assert rows[0]["released_at"] == rows[0]["expires_at"]  # recorded as ended by its expiry
