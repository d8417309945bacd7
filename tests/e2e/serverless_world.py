"""A local serverless world for the workflow tests: moto's Step Functions interpreter runs the real ASL,
Lambda invokes are routed to our handlers in-process, ECS is a fakeaws scenario, Postgres is real.

moto runs no Lambda code without Docker (use_docker=False selects its LambdaSimpleBackend, which echoes the
event), so that backend's `invoke` is replaced by a router that
calls `functions.<module>.handler` and answers as Lambda does (x-amz-function-error on exceptions).
With a ContainerPool the router also scales like Lambda: each concurrent invocation runs in a container of
its own (the pool counts them, and can give each its own database connection).
Every AWS API call of the process is logged with the function that made it (`World.ecs_calls_by`): the
routed step handlers by their name, other handlers inside `World.as_function(name)`.
"""
from __future__ import annotations

import importlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.client import BaseClient
from moto.awslambda_simple.models import LambdaSimpleBackend
from psycopg.rows import dict_row

from agents.aws_ecs_service.incidents import database
from agents.aws_ecs_service.incidents.schema import migrate

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "functions" / "workflow" / "state_machine.asl.json"
ACCOUNT = "123456789012"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
APPROVAL_BASE_URL = "https://approvals.example.test/v1"
APPROVAL_KEY = "k" * 64
LINK = re.compile(r"(https://approvals\.example\.test/v1/approvals/(\S+))")
# The function whose code is running (a context variable: the threads of its pools inherit it).
CALLER: ContextVar[str] = ContextVar("caller", default="unattributed")
READ_VERBS = ("Describe", "List", "Get")
STEP_MODULES = {
    "TriageFunctionArn": "functions.workflow.triage",
    "PlanFunctionArn": "functions.workflow.plan",
    "RequestApprovalFunctionArn": "functions.workflow.request_approval",
    "RemediateFunctionArn": "functions.workflow.remediate",
    "VerifyFunctionArn": "functions.workflow.verify",
    "ReportFunctionArn": "functions.workflow.report",
}


@dataclass
class LambdaContextStub:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "local"
    remaining_ms: int = 60_000  # what the function has left when the handler starts (its timeout, by default)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.function_name}"


def function_arn(region: str, module: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{module.rsplit('.', 1)[-1].replace('_', '-')}"


class ContainerPool:
    """Lambda's scaling, in-process: an invocation takes an idle container of its function or starts a new one,
    and each container keeps its own database connection (what `shared_connection` gives inside one)."""

    def __init__(self):
        self._idle: dict[str, list[dict[str, Any]]] = {}
        self._all: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self.busy = self.peak_busy = 0

    @contextmanager
    def container(self, function: str) -> Iterator[None]:
        with self._lock:
            idle = self._idle.setdefault(function, [])
            box = idle.pop() if idle else None
            if box is None:
                box = {"conn": None}
                self._all.append(box)
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
        self._local.box = box
        try:
            yield
        finally:
            self._local.box = None
            with self._lock:
                self.busy -= 1
                self._idle[function].append(box)

    @property
    def started(self) -> int:
        return len(self._all)

    def connection(self) -> psycopg.Connection:
        box = self._local.box
        if box["conn"] is None or box["conn"].closed or box["conn"].broken:
            box["conn"] = database.connect()
        return box["conn"]

    def close(self) -> None:
        for box in self._all:
            if box["conn"] is not None:
                box["conn"].close()


class LambdaRouter:
    """Stands in for moto's LambdaSimpleBackend.invoke; records each call.

    `before[name]` runs just before that function's handler (inside the invocation: raising fails it).
    """

    def __init__(self, region: str, containers: ContainerPool | None = None):
        self.routes = {function_arn(region, m).rsplit(":", 1)[-1]: m for m in STEP_MODULES.values()}
        self.calls: list[str] = []
        self.fail_next: dict[str, Exception] = {}
        self.before: dict[str, Callable[[], None]] = {}
        self.containers = containers
        self.aws_calls: list[tuple[str, str, str]] = []  # (function, AWS service, operation)

    def __call__(self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                 response_headers: Any) -> bytes:
        name = re.sub(r":\d+$|:live$", "", function_name).rsplit(":", 1)[-1]
        module = importlib.import_module(self.routes[name])
        self.calls.append(name)
        event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
        try:
            if name in self.before:
                self.before[name]()
            if name in self.fail_next:
                raise self.fail_next.pop(name)
            caller = CALLER.set(name)
            try:
                with self.containers.container(name) if self.containers else nullcontext():
                    result = module.handler(event, LambdaContextStub(name))
            finally:
                CALLER.reset(caller)
            payload = json.dumps(result)
        except Exception as exc:  # noqa: BLE001 - Lambda turns any exception into a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
        response_headers["Content-Length"] = str(len(payload))
        return payload.encode()


def create_state_machine(sfn: Any, region: str) -> str:
    definition = ASL.read_text()
    for key, module in STEP_MODULES.items():
        definition = definition.replace("${" + key + "}", function_arn(region, module))
    assert "${" not in definition
    return sfn.create_state_machine(name="ecs-incidents", definition=definition,
                                    roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def sent_emails(region: str) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    topic_messages = sns_backends[ACCOUNT][region].topics
    out = []
    for topic in topic_messages.values():
        for sent in topic.sent_notifications:
            out.append({"id": sent[0], "message": sent[1], "subject": sent[2]})
    return out


def execution_status(sfn: Any, arn: str) -> str:
    return sfn.describe_execution(executionArn=arn)["status"]


def history_states(sfn: Any, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def s3_reports(region: str, bucket: str, incident_id: str) -> dict[str, str]:
    s3 = boto3.client("s3", region_name=region)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"incidents/{incident_id}/").get("Contents", [])
    return {o["Key"].rsplit("/", 1)[-1]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
            for o in listed}


@dataclass
class Runtime:
    region: str
    sfn: Any
    state_machine_arn: str
    bucket: str
    router: LambdaRouter


@contextmanager
def local_runtime(mp: pytest.MonkeyPatch, region: str, database_url: str, router: LambdaRouter,
                  **env: str) -> Iterator[Runtime]:
    """The functions' AWS resources in moto (call inside mock_aws(config=MOTO_CONFIG)), their environment,
    Lambda invokes routed to the handlers, a migrated database, fresh module state (cached clients, connection)."""
    import functions.approval_api as approval_api
    import functions.intake as intake

    mp.setattr(LambdaSimpleBackend, "invoke", lambda self, *a: router(self, *a))
    make_api_call = BaseClient._make_api_call

    def logged_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        router.aws_calls.append((CALLER.get(), client.meta.service_model.service_name, operation))
        return make_api_call(client, operation, params)

    mp.setattr(BaseClient, "_make_api_call", logged_call)
    submit = ThreadPoolExecutor.submit  # a function's worker threads (evidence collection) work for it, too
    mp.setattr(ThreadPoolExecutor, "submit", lambda pool, fn, /, *a, **kw: submit(pool, copy_context().run, fn, *a, **kw))
    sfn = boto3.client("stepfunctions", region_name=region)
    arn = create_state_machine(sfn, region)
    boto3.client("s3", region_name=region).create_bucket(Bucket="reports", **({} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}))
    topic = boto3.client("sns", region_name=region).create_topic(Name="approvals")["TopicArn"]
    secret = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="approval-key", SecretString=APPROVAL_KEY)["ARN"]
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        migrate(conn)
    settings = {"DATABASE_URL": database_url, "STATE_MACHINE_ARN": arn, "REPORTS_BUCKET": "reports",
                "NOTIFICATION_TOPIC_ARN": topic, "APPROVAL_KEY_SECRET_ARN": secret,
                "APPROVAL_BASE_URL": APPROVAL_BASE_URL, "ALLOW_WRITE": "true", "ECS_AGENT_MODEL": "offline",
                "VERIFY_WAIT_S": "1", "VERIFY_MAX_POLLS": "15", "APPROVAL_TTL_S": "120",
                "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Test", **env}
    for key, value in settings.items():
        mp.setenv(key, value)
    mp.setattr(intake, "_intake", None)
    mp.setattr(approval_api, "_sfn", None)
    mp.setattr(database, "_cached", None)
    try:
        yield Runtime(region, sfn, arn, "reports", router)
    finally:
        if database._cached is not None:
            database._cached.close()
        if router.containers:
            router.containers.close()


class World:
    """A fakeaws scenario behind the local runtime: send events, click approval links, look at the results."""

    def __init__(self, fake, scenario, runtime: Runtime, pg_url: str, application_name: str):
        self.fake, self.scenario, self.pg_url, self.application_name = fake, scenario, pg_url, application_name
        self.router, self.sfn, self.state_machine_arn = runtime.router, runtime.sfn, runtime.state_machine_arn
        self.bucket, self.region = runtime.bucket, runtime.region

    def deployment_failed_event(self, event_id="e1", at="2026-01-01T12:00:00Z"):
        t = self.scenario["target"]
        return {"version": "0", "id": event_id, "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                "account": ACCOUNT, "time": at, "region": self.region,
                "resources": [f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{t['cluster']}/{t['service']}"],
                "detail": {"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                           "deploymentId": "ecs-svc/1", "updatedAt": at,
                           "reason": "ECS deployment circuit breaker: tasks failed to start."}}

    def intake(self, event):
        import functions.intake as intake

        return intake.handler(event, LambdaContextStub("intake"))

    def approval(self, method, token, body=None, source_ip="198.51.100.7",
                 content_type="application/x-www-form-urlencoded"):
        """The approval function behind API Gateway (REST proxy integration)."""
        import functions.approval_api as approval_api

        event = {"httpMethod": method, "resource": "/approvals/{token}", "path": f"/approvals/{token}",
                 "pathParameters": {"token": token}, "headers": {"Content-Type": content_type},
                 "requestContext": {"identity": {"sourceIp": source_ip}}, "body": body, "isBase64Encoded": False}
        return approval_api.handler(event, LambdaContextStub("approval-api"))

    def email_links(self, incident_id=None):
        """The approve/reject tokens of the newest approval email (of one incident, if given)."""
        def emails():
            return [e for e in sent_emails(self.region)
                    if incident_id is None or f"Incident: {incident_id}" in e["message"]]

        found = wait_for(emails, timeout=30, what="approval email")
        links = dict(zip(("approve", "reject"), LINK.findall(found[-1]["message"]), strict=False))
        return found[-1], {k: v[1] for k, v in links.items()}

    def wait_done(self, arn, timeout=120):
        try:
            return wait_for(lambda: (s := execution_status(self.sfn, arn)) != "RUNNING" and s, timeout=timeout,
                            what="execution end")
        except AssertionError as timed_out:  # say where it stopped, or a hang is undiagnosable
            events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            raise AssertionError(f"{timed_out}; last events: {[e['type'] for e in events[-6:]]}, states entered: "
                                 f"{history_states(self.sfn, arn)}") from None

    def writes(self):
        return [c for c in self.fake.calls if c["write"]]

    @contextmanager
    def as_function(self, name: str) -> Iterator[None]:
        """Run a handler called by the test itself (not routed by moto) as function `name`."""
        caller = CALLER.set(name)
        try:
            yield
        finally:
            CALLER.reset(caller)

    def ecs_calls_by(self, writes: bool) -> dict[str, list[str]]:
        """function -> the ECS operations it called (writes: the changing ones; else the reads)."""
        found: dict[str, list[str]] = {}
        for function, service, operation in self.router.aws_calls:
            if service == "ecs" and operation.startswith(READ_VERBS) != writes:
                found.setdefault(function, []).append(operation)
        return found

    def restart_database(self):
        """What a PostgreSQL restart does to this world's clients: every connection dies under them (only these:
        other tests share the server)."""
        with psycopg.connect(self.pg_url, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s "
                          "and pid <> pg_backend_pid()", (self.application_name,))

    def incident_row(self, incident_id):
        with psycopg.connect(self.pg_url) as conn:
            return conn.execute("select status, document from ecs_agent_incidents where incident_id = %s",
                                (incident_id,)).fetchone()


@contextmanager
def scenario_world(play_scenario, pg_url: str, mp: pytest.MonkeyPatch, scenario: str = "oom-after-deploy",
                   latency_ms: float = 0.0, **env: str) -> Iterator[World]:
    """ECS is the scenario's world (fakeaws); every other service is moto in-process (the backends fakeaws
    seeded); the workflow is the real ASL; PostgreSQL is real."""
    from moto import mock_aws

    from tests.conftest import load_scenario

    application_name = f"world-{uuid.uuid4().hex[:8]}"
    pg_url = f"{pg_url}{'&' if '?' in pg_url else '?'}application_name={application_name}"
    with mock_aws(config=MOTO_CONFIG):
        sc = load_scenario(scenario)
        fake = play_scenario(sc, latency_ms=latency_ms)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.setenv("AWS_ENDPOINT_URL_ECS", fake.endpoint)
        router = LambdaRouter(sc["region"])
        with local_runtime(mp, sc["region"], pg_url, router, ALLOWED_CLUSTERS=sc["target"]["cluster"],
                           **env) as runtime:
            yield World(fake, sc, runtime, pg_url, application_name)
