"""Faults the agent meets during someone else's outage, each tried against the real code paths.

- AWS throttling and 5xx on every read call of a triage: a burst is absorbed by the adaptive retries; a
  read that keeps failing leaves a partial triage whose result says what it could not read.
- PostgreSQL restarted (pg_terminate_backend) or down in the middle of a conversation.
- Bedrock throttled, failing or timing out: the findings are delivered anyway.
- The verified service flapping: the verification is bounded and says so.
- A Lambda timeout in the middle of remediation: re-invoking the step writes nothing twice and the audit
  log shows one write.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import uuid
from functools import partial
from typing import Any

import psycopg
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import bucket
from botocore.retries.standard import ExponentialBackoff

from agents.aws_ecs_service.aws.session import RETRY_CONFIG, AwsContext, SessionPool
from agents.aws_ecs_service.diagnosis.engine import run_triage
from agents.aws_ecs_service.diagnosis.errors import AwsAccessError
from agents.aws_ecs_service.domain.write_policy import WriteScope
from agents.aws_ecs_service.operations.triage import describe_findings
from agents.aws_ecs_service.reports.triage_report import render_triage_report
from tests import converse_server as cs

# ---- AWS: throttling and 5xx on every read ----------------------------------------------------------

# Every read call a triage of oom-after-deploy makes (the clean run checks the list is complete).
TRIAGE_READS = ("DescribeServices", "ListTasks", "DescribeTasks", "ListServiceDeployments", "DescribeTaskDefinition",
                "GetMetricData", "DescribeAlarms", "GetLogEvents", "BatchGetImage")
RETRIES = RETRY_CONFIG.retries["max_attempts"]  # botocore's max_attempts counts the retries, not the first try


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_kwargs):
        yield self.data


class AwsFaults:
    """A botocore `before-send` hook on a context's clients: the chosen operations fail their first `times`
    attempts (None: every attempt) with throttling or a 503, in each service's own wire protocol. The
    clients' adaptive retries and the call counter see every attempt, as they would with AWS."""

    def __init__(self, ctx: AwsContext, kind: str, times: int | None, operations=TRIAGE_READS):
        self.kind, self.times, self.operations = kind, times, set(operations)
        self.failed: dict[str, int] = {}
        for name in ("ecs", "logs", "cloudwatch", "ecr"):
            client = ctx.client(name)
            client.meta.events.register("before-send", partial(self._answer, client.meta.service_model.protocol))

    def _answer(self, protocol: str, request, event_name: str, **_kwargs) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        failed = self.failed.get(operation, 0)
        if operation not in self.operations or (self.times is not None and failed >= self.times):
            return None
        self.failed[operation] = failed + 1
        throttled = self.kind == "throttle"
        status = 400 if throttled else 503
        code = "ThrottlingException" if throttled else "ServiceUnavailableException"
        if protocol == "json":
            headers, body = {"x-amzn-RequestId": "fault"}, json.dumps({"__type": code, "message": "Rate exceeded"
                                                                       if throttled else "Service unavailable"}).encode()
        else:  # smithy-rpc-v2-cbor (CloudWatch): an empty body, the query-compatible error code in a header
            headers, body = {"smithy-protocol": "rpc-v2-cbor"}, b""
            if throttled:
                headers["x-amzn-query-error"] = "Throttling;Sender"
        return AWSResponse(request.url, status, headers, _Body(body))


class _FasterFloorBucket(bucket.TokenBucket):
    def __init__(self, max_rate, clock, min_rate=20.0):
        super().__init__(max_rate, clock, min_rate)


@pytest.fixture
def fast_backoff(monkeypatch):
    """Retries back off from 10 ms (AWS: 1 s after throttling, 50 ms after a 5xx), and the adaptive rate limiter
    slows a throttled client to 20 requests/s at worst instead of 0.5, so the suite stays fast. The attempts,
    the limiter itself and the give-up point are botocore's own (with AWS, a persistently throttled triage
    takes a minute or two longer)."""
    for scale in ("throttling_base_scale", "non_throttling_base_scale"):
        monkeypatch.setitem(ExponentialBackoff._DEFAULT_BACKOFF_CONFIG, scale, 0.01)
    monkeypatch.setattr(bucket, "TokenBucket", _FasterFloorBucket)


@pytest.fixture
def faulty_triage(play_scenario, fast_backoff):
    def run(kind: str | None = None, times: int | None = None, operations=TRIAGE_READS):
        play_scenario("oom-after-deploy", read_only=True)
        ctx = AwsContext(region="us-east-1")
        faults = AwsFaults(ctx, kind, times, operations) if kind else None
        result, evidence = run_triage(ctx, "prod", "api")
        return result, evidence, ctx, faults

    return run


@pytest.mark.attack("aws throttling and 5xx")
@pytest.mark.parametrize("kind", ["throttle", "5xx"])
def test_a_burst_on_every_read_call_is_retried_and_the_triage_is_whole(faulty_triage, kind):
    clean, _, clean_ctx, _ = faulty_triage()
    assert {op.split(":")[1] for op in clean_ctx.counter.by_operation} == set(TRIAGE_READS)

    result, evidence, ctx, faults = faulty_triage(kind, times=2)
    assert set(faults.failed) == set(TRIAGE_READS) and set(faults.failed.values()) == {2}
    assert result.root_cause.category == clean.root_cause.category == "container-oom"
    assert result.suggested_actions == clean.suggested_actions
    assert result.could_not_read == clean.could_not_read  # nothing more is missing than without faults
    for operation, calls in ctx.counter.by_operation.items():  # the two failed attempts were retried
        assert calls == clean_ctx.counter.by_operation[operation] + 2, operation


SECONDARY_READS = [op for op in TRIAGE_READS if op not in ("DescribeServices", "ListTasks", "DescribeTasks")]
# without the task definitions the agent cannot tell where the logs are: those two fail in separate runs
SECONDARY_GROUPS = [[op for op in SECONDARY_READS if op != "DescribeTaskDefinition"], ["DescribeTaskDefinition"]]


def _unread(operation: str, kind: str) -> str:
    """How could_not_read names an operation that kept failing (CloudWatch's wire protocol has its own codes)."""
    service = {"GetMetricData": "cloudwatch", "DescribeAlarms": "cloudwatch", "GetLogEvents": "logs",
               "BatchGetImage": "ecr"}.get(operation, "ecs")
    cloudwatch = service == "cloudwatch"
    code = {"throttle": "Throttling" if cloudwatch else "ThrottlingException",
            "5xx": "503" if cloudwatch else "ServiceUnavailableException"}[kind]
    return f"{service}:{operation}: {code}"


@pytest.mark.attack("aws throttling and 5xx")
@pytest.mark.parametrize("kind", ["throttle", "5xx"])
@pytest.mark.parametrize("operations", SECONDARY_GROUPS, ids=["all-but-task-definitions", "task-definitions"])
def test_reads_that_keep_failing_leave_a_partial_triage_that_says_what_it_could_not_read(faulty_triage, kind,
                                                                                          operations):
    result, evidence, ctx, faults = faulty_triage(kind, times=None, operations=operations)
    assert set(faults.failed) == set(operations)
    assert [op for op, n in faults.failed.items() if n % (RETRIES + 1)] == []  # each call gave up after its retries
    assert {_unread(op, kind) for op in operations} <= set(result.could_not_read)
    assert result.root_cause.category == "container-oom"  # the stopped tasks name the cause without those reads
    report = render_triage_report(result, evidence)
    for op in operations:
        assert f"Could not read {_unread(op, kind).rsplit(':', 1)[0]}" in report, op
    assert f"(after {RETRIES} retries)" in report


@pytest.mark.attack("aws throttling and 5xx")
@pytest.mark.parametrize("kind", ["throttle", "5xx"])
def test_task_reads_that_keep_failing_leave_a_triage_that_does_not_claim_health(play_scenario, fast_backoff, kind):
    play_scenario("healthy-steady", read_only=True)
    ctx = AwsContext(region="us-east-1")
    AwsFaults(ctx, kind, None, ["ListTasks"])
    result, _ = run_triage(ctx, "prod", "api")
    assert [g for g in result.could_not_read if g.startswith("ecs:ListTasks")]
    assert result.root_cause.category == "healthy" and result.root_cause.confidence <= 0.4
    assert "not a clean bill of health" in result.root_cause.summary
    assert "I could not read everything" in describe_findings(result.to_json_dict())


@pytest.mark.attack("aws throttling and 5xx")
def test_the_service_itself_unreadable_ends_with_one_clear_line(faulty_triage):
    with pytest.raises(AwsAccessError, match=rf"ecs:DescribeServices failed \(after {RETRIES} retries\): "
                                             r"ThrottlingException: Rate exceeded"):
        faulty_triage("throttle", times=None, operations=["DescribeServices"])


# ---- PostgreSQL: restarted or down in the middle of a conversation ---------------------------------

class TcpProxy:
    """127.0.0.1:<port> forwarded to PostgreSQL; `down()` refuses new connections and cuts the open ones, as a
    stopped server does; `up()` listens on the same port again."""

    def __init__(self, target_port: int = 5432):
        self.target_port = target_port
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.up()

    def up(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        self._listener.listen(16)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def down(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it: close() alone does not
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def url(self, database_url: str) -> str:
        return database_url.replace(f"127.0.0.1:{self.target_port}", f"127.0.0.1:{self.port}", 1)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def terminate_backends(admin_url: str, where: str, *params: Any) -> int:
    """pg_terminate_backend: what a restart (or failover) does to the connections the agent holds."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        rows = admin.execute(f"select pg_terminate_backend(pid) from pg_stat_activity where {where}",
                             params).fetchall()
    assert rows and all(ok for (ok,) in rows)
    return len(rows)


@pytest.fixture
def chat_api_calls():
    from tests.integration.test_chat_api import call, open_thread, say

    return call, open_thread, say


@pytest.mark.postgres
@pytest.mark.attack("postgres restart")
def test_the_chat_api_carries_on_when_postgres_restarts_mid_conversation(play_scenario, chat_db, postgres_url,
                                                                        chat_api_calls):
    from agents.aws_ecs_service.incidents import database

    call, open_thread, say = chat_api_calls
    play_scenario("oom-after-deploy")
    thread_id = open_thread()
    first = say(thread_id, "prod/api keeps crashing")
    pid = database._cached.info.backend_pid
    terminate_backends(postgres_url, "pid = %s", pid)

    second = say(thread_id, "fix it")  # 200: the container reconnects instead of answering 503
    assert database._cached.info.backend_pid != pid
    assert second["pending_approval"]["incident_id"] == first["incident_id"]  # the thread's memory is intact


@pytest.mark.postgres
@pytest.mark.attack("postgres down")
def test_the_chat_api_answers_503_while_postgres_is_down_then_resumes_the_thread(play_scenario, chat_db,
                                                                                monkeypatch, fresh_container,
                                                                                chat_api_calls):
    call, open_thread, say = chat_api_calls
    play_scenario("oom-after-deploy")
    proxy = TcpProxy()
    monkeypatch.setenv("DATABASE_URL", proxy.url(chat_db))
    fresh_container()
    thread_id = open_thread()
    first = say(thread_id, "prod/api keeps crashing")

    proxy.down()
    status, body = call("POST", f"/threads/{thread_id}/messages", {"message": "fix it"})
    assert status == 503 and "database is unreachable" in body["message"]
    status, _ = call("GET", f"/threads/{thread_id}")
    assert status == 503

    proxy.up()
    second = say(thread_id, "fix it")
    assert second["pending_approval"]["incident_id"] == first["incident_id"]


@pytest.mark.postgres
@pytest.mark.attack("postgres restart")
def test_a_library_conversation_carries_on_when_postgres_restarts(play_scenario, pg_schema_url, postgres_url):
    from agents.aws_ecs_service import ECSDeepAgentConfig
    from agents.aws_ecs_service.conversation.graph import Dependencies, build_graph
    from agents.aws_ecs_service.conversation.memory import open_memory

    play_scenario("oom-after-deploy")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    memory = open_memory(f"{pg_schema_url}&application_name={name}")
    try:
        graph = build_graph(Dependencies(config=ECSDeepAgentConfig(model_name="offline"))).compile(
            checkpointer=memory.saver)
        thread = {"configurable": {"thread_id": name}}
        first = graph.invoke({"messages": [{"role": "user", "content": "prod/api keeps crashing"}]}, thread)
        assert terminate_backends(postgres_url, "application_name = %s", name) >= 1
        second = graph.invoke({"messages": [{"role": "user", "content": "fix it"}]}, thread)
        assert second["__interrupt__"] and second["incident_id"] == first["incident_id"]
    finally:
        memory.close()


@pytest.mark.postgres
@pytest.mark.attack("postgres down")
def test_the_chat_command_says_the_database_is_down_and_goes_on_after(play_scenario, pg_schema_url, monkeypatch,
                                                                      tmp_path):
    from agents.aws_ecs_service.conversation import memory
    from agents.aws_ecs_service.interfaces.chat_cli import run_chat

    play_scenario("oom-after-deploy")
    proxy = TcpProxy()
    monkeypatch.setenv("DATABASE_URL", proxy.url(pg_schema_url))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(memory, "POOL_TIMEOUT_S", 1)
    down = "agent> The conversation store (PostgreSQL) is unreachable right now"
    out: list[str] = []
    said: list[str] = []

    def type_in(_prompt: str) -> str:
        turn = len(said)
        if turn in (1, 2):  # the database goes away before the second message and is back before the third
            (proxy.down if turn == 1 else proxy.up)()
        if turn == 0:
            text = "prod/api keeps crashing"
        elif turn < 3 or (out[-1].startswith(down) and turn < 12):
            # after the outage the user says it again until the pool is back: its reconnection backs off from
            # 1 s while the database is down, and here a turn waits 1 s for a connection where the agent waits 10
            text = "what is the status of prod/api?"
        else:
            text = "exit"
        said.append(text)
        return text

    assert run_chat(input_fn=type_in, print_fn=out.append, sqlite_path=str(tmp_path / "unused.sqlite")) == 0
    replies = [line for line in out if line.startswith("agent> ")]
    assert out[0] == "[conversation memory: PostgreSQL]"
    assert "Root cause: container-oom" in replies[0]
    assert replies[1].startswith(down)  # a clear notice, not a traceback, and the chat goes on
    assert replies[-1].startswith("agent> prod/api: ACTIVE, desired 4")
    assert all(r.startswith(down) for r in replies[1:-1])


# ---- Bedrock: throttled, failing or timing out ------------------------------------------------------

UNAVAILABLE = "explanation is unavailable right now: {}"


def service_unavailable(code: str = "ServiceUnavailableException", status: int = 503) -> dict[str, Any]:
    return {"_status": status, "_error": code, "message": "Bedrock is unavailable."}


@pytest.mark.attack("bedrock 5xx")
@pytest.mark.parametrize("code, status", [("ServiceUnavailableException", 503), ("InternalServerException", 500)])
def test_a_failing_model_still_delivers_the_findings(play_scenario, bedrock, code, status):
    fake = play_scenario("oom-after-deploy")
    server = bedrock([service_unavailable(code, status)])
    reply = cs.ModelChat().say("prod/api keeps crashing")["messages"][-1].content
    assert "Root cause: container-oom" in reply and "Roll back api to api:61" in reply
    assert UNAVAILABLE.format(code) in reply
    assert len(server.requests) == 4  # two calls, one retry each
    assert [c for c in fake.calls if c["write"]] == []


@pytest.mark.attack("bedrock throttled")
def test_a_throttled_model_still_answers_a_question_from_the_read_tools(play_scenario, bedrock):
    play_scenario("app-crash-import-error")
    bedrock([cs.throttle()])
    reply = cs.ModelChat().say("show me the last errors of orders")["messages"][-1].content
    assert reply.startswith("The newest error lines of prod/orders") and "ImportError" in reply
    assert UNAVAILABLE.format("ThrottlingException") in reply


@pytest.mark.attack("bedrock timeout")
def test_a_model_timing_out_on_a_later_explanation_keeps_the_conversation_going(play_scenario, bedrock):
    play_scenario("oom-after-deploy")
    server = bedrock([cs.tool_use("ContextExtraction", {}), cs.text("Memory was halved in api:62."),
                      cs.throttle(), cs.throttle(), cs.slow(2, cs.text("too late"))])
    say = cs.ModelChat(timeout_s=0.5).say
    assert "Memory was halved in api:62." in say("prod/api keeps crashing")["messages"][-1].content
    state = say("explain it for my manager")
    reply = state["messages"][-1].content
    assert state["preferences"]["tone"] == "business" and "is not working properly" in reply
    assert UNAVAILABLE.format("ReadTimeoutError") in reply
    assert len(server.requests) == 6  # bounded: one retry per call


# ---- the verified service flapping -------------------------------------------------------------------

def _loop_with_flapping(play_scenario, monkeypatch, running_per_poll: list[int], alarm_ok_from_poll: int | None = None,
                        **verify_args):
    """cpu-saturated scaled 3 -> 4 through the guard, verified with its CPU alarm as the trigger. Before each poll
    the service's runningCount becomes the next value of `running_per_poll` (the last one repeats); the alarm
    goes back to OK from poll `alarm_ok_from_poll` (never when None). The verifier waits on a fake clock, returned
    with the verification: how long it waited is exact."""
    import boto3

    from agents.aws_ecs_service.operations import verifier
    from tests.conftest import load_scenario
    from tests.fake_clock import FakeClock
    from tests.integration.test_remediation_loop import run_loop

    scenario = load_scenario("cpu-saturated")
    fake = play_scenario(scenario)
    svc = fake.ecs.services[("prod", "api")]
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")

    def before_next_poll(line: str) -> None:
        if line.startswith("step 1/1 ok"):
            svc["runningCount"] = running_per_poll[0]
        elif line.startswith("verify poll "):
            upcoming = int(line.split()[2].rstrip(":")) + 1
            svc["runningCount"] = running_per_poll[min(upcoming - 1, len(running_per_poll) - 1)]
            if upcoming == alarm_ok_from_poll:
                cloudwatch.set_alarm_state(AlarmName="api-cpu-high", StateValue="OK", StateReason="below")

    clock = FakeClock()
    monkeypatch.setattr(verifier, "time", clock)
    _, entries, verification, lines = run_loop(fake, scenario, on_line=before_next_poll, trigger_alarm="api-cpu-high",
                                               **verify_args)
    assert [e.result for e in entries] == ["ok"]
    return verification, lines, clock


@pytest.mark.attack("verifier flapping")
def test_a_service_that_keeps_flapping_fails_verification_in_bounded_time_and_says_so(play_scenario, monkeypatch):
    verification, lines, clock = _loop_with_flapping(play_scenario, monkeypatch, [4, 3] * 50, timeout_s=1.5,
                                                     poll_s=0.05)
    assert not verification.ok and sum(clock.slept) == pytest.approx(1.5)  # waited its timeout, not a moment more
    assert 4 <= verification.polls <= 20  # polled on, with backoff, until the deadline: never forever
    stable = next(c for c in verification.checks if c.name == "stable across polls")
    assert not stable.ok and "running == desired" in stable.detail and stable.after >= 2
    assert verification.next_step.startswith("escalate: human needed (the service is flapping: running == desired")


@pytest.mark.attack("verifier flapping")
def test_one_good_poll_after_flapping_is_not_enough(play_scenario, monkeypatch):
    verification, lines, _ = _loop_with_flapping(play_scenario, monkeypatch, [4, 3, 4], alarm_ok_from_poll=3,
                                                 timeout_s=5, poll_s=0.05)
    assert verification.ok and verification.polls == 4  # flapped on poll 2: two all-pass polls in a row needed
    assert [line for line in lines if line.startswith("verify poll 3: ")][0].endswith("; waiting for: stable across polls")
    assert next(c for c in verification.checks if c.name == "stable across polls").ok


@pytest.mark.attack("verifier flapping")
def test_the_workflow_keeps_the_flapping_count_between_its_one_poll_invocations(play_scenario):
    import boto3

    from agents.aws_ecs_service.operations.verifier import Stability, verify
    from tests.conftest import load_scenario
    from tests.integration.test_remediation_loop import run_loop

    scenario = load_scenario("cpu-saturated")
    fake = play_scenario(scenario)
    plan, _, _, _ = run_loop(fake, scenario, timeout_s=0)
    triage, _ = run_triage(AwsContext(region="us-east-1"), "prod", "api")
    cloudwatch, svc = boto3.client("cloudwatch", region_name="us-east-1"), fake.ecs.services[("prod", "api")]
    state, results = None, []
    # one Verify invocation per row, the state machine carrying `state` (JSON) from one to the next
    for running, alarm in ((4, "ALARM"), (3, "ALARM"), (4, "ALARM"), (3, "ALARM"), (4, "OK"), (4, "OK")):
        svc["runningCount"] = running
        cloudwatch.set_alarm_state(AlarmName="api-cpu-high", StateValue=alarm, StateReason="test")
        stability = Stability.from_state(json.loads(json.dumps(state)) if state else None)
        results.append(verify(AwsContext(region="us-east-1"), plan, triage, dt.datetime.now(dt.UTC), timeout_s=0,
                              trigger_alarm="api-cpu-high", stability=stability))
        state = stability.to_state()
    assert [r.ok for r in results] == [False, False, False, False, False, True]
    assert results[3].next_step.startswith("escalate: human needed (the service is flapping")
    assert state["flaps"] == {"running == desired": 2}


# ---- a Lambda timeout in the middle of remediation ----------------------------------------------------

# What Lambda answers when it stops an invocation at its timeout (the error Step Functions sees).
SandboxTimedout = type("Sandbox.Timedout", (Exception,), {})


def cut_off_after_the_write(monkeypatch, times: int = 1) -> list[str]:
    """The invocation is stopped right after the guard's AWS call returned, before anything else runs: the
    worst moment (the change is made, its outcome not yet recorded)."""
    from agents.aws_ecs_service.aws.policy_guard import PolicyGuard

    write, cut = PolicyGuard._write, []

    def write_then_time_out(self, *args, **kwargs):
        write(self, *args, **kwargs)
        if len(cut) < times:
            cut.append("cut")
            raise SandboxTimedout("Task timed out after 300.00 seconds")

    monkeypatch.setattr(PolicyGuard, "_write", write_then_time_out)
    return cut


@pytest.mark.attack("lambda timeout mid-remediation")
def test_a_retry_after_a_timeout_that_cut_off_the_write_writes_nothing_twice(play_scenario, monkeypatch, tmp_path):
    from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
    from agents.aws_ecs_service.aws.policy_guard import SKIPPED, PolicyGuard
    from agents.aws_ecs_service.domain.plan import Approval
    from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
    from agents.aws_ecs_service.operations.planner import build_plans
    from agents.aws_ecs_service.operations.remediator import remediate

    fake = play_scenario("oom-after-deploy")
    result, evidence = run_triage(AwsContext(region="us-east-1"), "prod", "api")
    plan = build_plans(result, evidence, "inc-cut")[0]
    approvals = LocalApprovalStore(tmp_path / "approvals.json")
    approvals.record(Approval(plan_hash=plan.plan_hash, incident_id="inc-cut", decision="approved",
                              decided_by="alice", decided_at=dt.datetime.now(dt.UTC).isoformat()))

    def invocation():  # a fresh process each time: the audit file is all that survives
        guard = PolicyGuard(SessionPool().for_target, WriteScope.of(True), approvals, LocalAuditLog(tmp_path / "audit.jsonl"))
        return remediate(plan, guard, "workflow")

    cut_off_after_the_write(monkeypatch)
    with pytest.raises(SandboxTimedout):
        invocation()
    assert [e.result for e in LocalAuditLog(tmp_path / "audit.jsonl").list()] == ["pending"]

    [retry] = invocation()
    assert retry.allowed and retry.result == SKIPPED and "cut off after its write" in retry.reason
    assert [w["op"] for w in fake.calls if w["write"]] == ["UpdateService"]
    audit = LocalAuditLog(tmp_path / "audit.jsonl").list()
    assert [e.result for e in audit] == ["ok", SKIPPED]  # one write, recorded by the retry
    assert "recorded by the retry" in audit[0].reason and audit[0].after["taskDefinition"].endswith("api:61")


@pytest.mark.attack("lambda timeout mid-remediation")
def test_a_retry_after_a_timeout_before_the_write_writes_once(play_scenario, monkeypatch, tmp_path):
    from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
    from agents.aws_ecs_service.aws.policy_guard import PolicyGuard
    from agents.aws_ecs_service.domain.plan import Approval
    from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
    from agents.aws_ecs_service.operations.planner import build_plans
    from agents.aws_ecs_service.operations.remediator import remediate

    fake = play_scenario("scaled-to-zero")
    result, evidence = run_triage(AwsContext(region="us-east-1"), "prod", "api")
    plan = build_plans(result, evidence, "inc-cut")[0]
    approvals = LocalApprovalStore()
    approvals.record(Approval(plan_hash=plan.plan_hash, incident_id="inc-cut", decision="approved",
                              decided_by="alice", decided_at=dt.datetime.now(dt.UTC).isoformat()))
    audit_path = tmp_path / "audit.jsonl"

    def timed_out_before_sending(self, *args, **kwargs):
        raise SandboxTimedout("Task timed out after 300.00 seconds")

    with monkeypatch.context() as patched:
        patched.setattr(PolicyGuard, "_write", timed_out_before_sending)
        with pytest.raises(SandboxTimedout):
            remediate(plan, PolicyGuard(SessionPool().for_target, WriteScope.of(True), approvals, LocalAuditLog(audit_path)),
                      "workflow")
    [entry] = remediate(plan, PolicyGuard(SessionPool().for_target, WriteScope.of(True), approvals, LocalAuditLog(audit_path)),
                        "workflow")
    assert entry.result == "ok"
    assert [(w["op"], w["params"]["desiredCount"]) for w in fake.calls if w["write"]] == [("UpdateService", 1)]
    assert [e.result.split(":")[0] for e in LocalAuditLog(audit_path).list()] == ["error", "ok"]


@pytest.mark.postgres
@pytest.mark.attack("lambda timeout mid-remediation")
def test_the_workflow_retries_a_timed_out_remediation_and_the_audit_shows_one_write(play_scenario, pg_schema_url,
                                                                                     monkeypatch):
    from tests.e2e.serverless_world import history_states, s3_reports, scenario_world

    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as world:
        cut = cut_off_after_the_write(monkeypatch)
        started = world.intake(world.deployment_failed_event())
        _, links = world.email_links()
        assert world.approval("POST", links["approve"], "decision=approve&name=Alice")["statusCode"] == 200
        assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"

        assert cut == ["cut"] and world.router.calls.count("remediate") == 2  # timed out once, retried once
        assert [w["op"] for w in world.writes()] == ["UpdateService"]
        with psycopg.connect(world.pg_url) as conn:
            rows = [r[0] for r in conn.execute("select entry from ecs_agent_audit order by id")]
        assert [(r["operation"], r["result"]) for r in rows] == [("ecs:UpdateService", "ok"),
                                                                 ("ecs:UpdateService", "skipped (already applied)")]
        states = history_states(world.sfn, started["execution_arn"])
        assert states.count("Remediate") == 1 and {"Verify", "Report"} <= set(states)
        status, _ = world.incident_row(started["incident_id"])
        assert status == "resolved"
        summary = s3_reports(world.region, world.bucket, started["incident_id"])["report_summary.md"]
        assert "recorded by the retry" in summary
