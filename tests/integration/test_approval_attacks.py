"""Attacks on the approval links and faults around them, through the real approval function (API Gateway proxy
events), the real ASL in moto's Step Functions interpreter, a fakeaws ECS world and real PostgreSQL.

tests/e2e/test_workflow.py already shows one forged link, one altered byte, a replay after the flow ended and
an expiry by the workflow's timeout; this module goes further: every signed field altered, many forgeries,
links moved between incidents, races between approve and reject, a service changed under an approved plan,
and PostgreSQL failing around a decision.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import threading
from urllib.parse import urlencode

import boto3
import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agents.aws_ecs_service.incidents import database
from agents.aws_ecs_service.incidents.approval_links import LinkClaims, sign, verify
from agents.aws_ecs_service.incidents.approval_store import PostgresApprovalStore
from tests.e2e.serverless_world import APPROVAL_KEY, ContainerPool, LambdaContextStub, execution_status, scenario_world

pytestmark = pytest.mark.postgres
KEY = APPROVAL_KEY.encode()
EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = ("incident_id", "plan_hash", "decision", "nonce", "expires_at")


class TaskCalls:
    """SendTaskSuccess/SendTaskFailure sent by the approval function, and how many Step Functions accepted."""

    def __init__(self, region: str):
        self.client = boto3.client("stepfunctions", region_name=region)
        self.sent: list[str] = []
        self.accepted: list[str] = []
        self.client.meta.events.register("after-call.sfn", self._after)

    def _after(self, http_response, model, **_):
        if model.name in ("SendTaskSuccess", "SendTaskFailure"):
            self.sent.append(model.name)
            if http_response.status_code < 300:
                self.accepted.append(model.name)


@pytest.fixture
def world(play_scenario, pg_schema_url, monkeypatch):
    with scenario_world(play_scenario, pg_schema_url, monkeypatch) as w:
        yield w


@pytest.fixture
def calls(world, monkeypatch):
    import functions.approval_api as approval_api

    found = TaskCalls(world.region)
    monkeypatch.setattr(approval_api, "_sfn", found.client)
    return found


def open_incident(world, at="2026-01-01T12:00:00Z"):
    started = world.intake(world.deployment_failed_event(f"ev-{at}", at))
    assert started["outcome"] == "started"
    _, links = world.email_links(started["incident_id"])
    return started, links


def settle_for_the_next(world, started):
    """The service's incident ends (its record settles) while its approval link is still out: the next signal
    opens a second incident of the same service, so two requests of one plan hash are pending at once."""
    with psycopg.connect(world.pg_url, autocommit=True) as conn:
        conn.execute("update ecs_agent_incidents set settled_at = now() where incident_id = %s",
                     (started["incident_id"],))


def request_row(world, incident_id):
    with psycopg.connect(world.pg_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("select * from ecs_agent_approvals where incident_id = %s", (incident_id,)).fetchone()


def audit_entries(world, incident_id=None):
    with psycopg.connect(world.pg_url) as conn:
        return [r[0] for r in conn.execute("select entry from ecs_agent_audit where %s::text is null or "
                                           "incident_id = %s::text order by id", (incident_id, incident_id))]


def claims(token) -> dict:
    return verify(KEY, token, now=0).model_dump()


def encode(body: dict) -> str:
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def assert_undecided(world, calls, started):
    assert request_row(world, started["incident_id"])["status"] == "pending"
    assert calls.sent == [] and world.writes() == []
    assert execution_status(world.sfn, started["execution_arn"]) == "RUNNING"


def finish(world, started, links):
    """Reject, so the execution ends before the world is torn down."""
    world.approval("POST", links["reject"], "decision=reject")
    world.wait_done(started["execution_arn"])


def post(world, token, decision="approve", name="Mallory"):
    return world.approval("POST", token, f"decision={decision}&name={name}")


# -- forged, altered, expired -------------------------------------------------------------------------------
@pytest.mark.attack("forged approval link")
def test_forged_links_are_refused_and_decide_nothing(world, calls):
    started, links = open_incident(world)
    genuine = claims(links["approve"])

    @EXAMPLES
    @given(key=st.binary(min_size=1, max_size=80).filter(lambda k: k != KEY),
           junk=st.one_of(st.none(), st.text(max_size=300),
                          st.from_regex(r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}")))
    def attempt(key, junk):
        # a well-formed claim for this very request, signed with another key; or a token that is no token at all
        for token in (sign(key, LinkClaims(**genuine)), junk or ""):
            for method in ("GET", "POST"):
                assert world.approval(method, token, "decision=approve")["statusCode"] == 403
        assert_undecided(world, calls, started)

    attempt()
    finish(world, started, links)


@pytest.mark.attack("altered approval link")
def test_every_signed_field_altered_is_refused(world, calls):
    started, links = open_incident(world)
    token = links["reject"]
    body, mac = token.split(".")
    original = claims(token)
    values = st.one_of(st.text(max_size=80), st.integers(min_value=-2**40, max_value=2**40),
                       st.sampled_from(["approve", "reject", original["incident_id"] + "x", 4102444800]))

    @EXAMPLES
    @given(field=st.sampled_from(FIELDS), value=values, flip=st.integers(min_value=0, max_value=len(mac) - 1))
    def attempt(field, value, flip):
        assume(value != original[field])
        altered = f"{encode({**original, field: value})}.{mac}"
        flipped_mac = f"{body}.{mac[:flip]}{'A' if mac[flip] != 'A' else 'B'}{mac[flip + 1:]}"
        for forged in (altered, flipped_mac):
            assert world.approval("POST", forged, "decision=approve")["statusCode"] == 403
        assert_undecided(world, calls, started)

    attempt()
    # A reject link's signed decision altered to approve is a forgery. (The POST body cannot override the link's
    # decision either: test_approve_posted_to_the_reject_link_and_a_bare_post_decide_nothing.)
    assert post(world, f"{encode({**original, 'decision': 'approve'})}.{mac}")["statusCode"] == 403
    finish(world, started, links)


@pytest.mark.attack("expired approval link")
@pytest.mark.parametrize("what_expired", ["the link", "the request"])
def test_expired_links_decide_nothing(world, calls, what_expired):
    """The third way, the workflow no longer waiting, is test_workflow.py::test_expiry_times_out_to_rejected…"""
    started, links = open_incident(world)
    if what_expired == "the link":  # signed by us, nonce current, but its own expiry passed
        past = int(dt.datetime.now().timestamp()) - 1
        token = sign(KEY, LinkClaims(**{**claims(links["approve"]), "expires_at": past}))
    else:  # the link's clock says yes, the database's request says it is over
        token = links["approve"]
        with psycopg.connect(world.pg_url) as conn:
            conn.execute("update ecs_agent_approvals set expires_at = now() - interval '1 second' "
                         "where incident_id = %s", (started["incident_id"],))
    assert post(world, token)["statusCode"] == 410
    assert_undecided(world, calls, started)
    with psycopg.connect(world.pg_url) as conn:
        conn.execute("update ecs_agent_approvals set expires_at = now() + interval '1 hour'")
    finish(world, started, links)


# -- replayed -----------------------------------------------------------------------------------------------
@pytest.mark.attack("replayed approval link")
def test_a_used_link_replayed_decides_nothing_more(world, calls):
    started, links = open_incident(world)
    assert post(world, links["approve"], name="Alice")["statusCode"] == 200
    for token, decision in [(links["approve"], "approve")] * 3 + [(links["reject"], "reject")] * 2:
        answer = post(world, token, decision)
        assert answer["statusCode"] == 409 and "approved by Alice" in answer["body"]
    assert world.approval("GET", links["reject"])["statusCode"] == 409
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert calls.sent == calls.accepted == ["SendTaskSuccess"]
    assert [w["op"] for w in world.writes()] == ["UpdateService"]


@pytest.mark.attack("replayed approval link")
def test_a_superseded_link_stops_working_when_the_request_is_renewed(world, calls):
    started, old = open_incident(world)
    request = request_row(world, started["incident_id"])
    # What a retried RequestApproval does: same plan, new token and nonce, a new email.
    with database.connect() as conn:
        PostgresApprovalStore(conn).request(started["incident_id"], request["plan_hash"], request["task_token"],
                                            "renewed-nonce", dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    for method in ("GET", "POST"):
        assert world.approval(method, old["approve"], "decision=approve")["statusCode"] == 410
    assert_undecided(world, calls, started)
    renewed = sign(KEY, LinkClaims(**{**claims(old["reject"]), "nonce": "renewed-nonce"}))
    assert post(world, renewed, "reject")["statusCode"] == 200
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED" and calls.accepted == ["SendTaskFailure"]


@pytest.mark.attack("approval form junk")
def test_junk_in_the_approval_form_is_answered_and_decides_at_most_once(world, calls):
    started, links = open_incident(world)
    names = st.one_of(st.text(max_size=3000), st.just("Eve\x00\r\nAdmin\u202e"))

    def send(name, decision, as_json):
        form = {"name": name, "decision": decision}
        body = json.dumps(form) if as_json else urlencode(form)
        kind = "application/json" if as_json else "application/x-www-form-urlencoded"
        return world.approval("POST", links.get(decision, links["approve"]), body, content_type=kind)["statusCode"]

    @EXAMPLES
    @given(name=names, decision=st.text(min_size=1, max_size=20).filter(lambda d: d not in links),
           as_json=st.booleans())
    def not_a_decision(name, decision, as_json):
        assert send(name, decision, as_json) == 400
        assert_undecided(world, calls, started)

    @EXAMPLES
    @given(name=names, decision=st.sampled_from(sorted(links)), as_json=st.booleans())
    def after_the_decision(name, decision, as_json):
        assert send(name, decision, as_json) == 409

    not_a_decision()
    # the deciding click carries a NUL, line breaks and a bidi override: recorded, cleaned, not a crash
    assert send("Eve\x00\r\nAdmin\u202e" + "x" * 3000, "approve", as_json=False) == 200
    after_the_decision()
    decided = request_row(world, started["incident_id"])
    assert decided["status"] == "approved" and calls.accepted == ["SendTaskSuccess"]
    assert decided["decided_by"] == "EveAdmin" + "x" * 72 + " (email link, from 198.51.100.7)"
    world.wait_done(started["execution_arn"])


# -- cross-incident -----------------------------------------------------------------------------------------
@pytest.mark.attack("cross-incident approval link")
def test_a_link_of_one_incident_cannot_decide_another(world, calls):
    a, links_a = open_incident(world, "2026-01-01T12:00:00Z")
    settle_for_the_next(world, a)
    b, links_b = open_incident(world, "2026-01-01T13:00:00Z")
    ca, cb = claims(links_a["approve"]), claims(links_b["approve"])
    # Same service, same world: the two plans are the same change, so they share a plan hash. Only the
    # incident id and the nonce tell the requests apart.
    assert ca["plan_hash"] == cb["plan_hash"] and ca["incident_id"] != cb["incident_id"]
    mac_a, mac_b = links_a["approve"].split(".")[1], links_b["approve"].split(".")[1]

    genuine_pairs = {(c["incident_id"], c["nonce"]) for c in (ca, cb)}

    @EXAMPLES
    @given(from_b=st.booleans(), moved=st.sets(st.sampled_from(["incident_id", "nonce", "expires_at"]), min_size=1),
           signed_by=st.sampled_from(["mac of A", "mac of B", "our key"]))
    def attempt(from_b, moved, signed_by):
        base, other = (cb, ca) if from_b else (ca, cb)
        mixed = {**base, **{f: other[f] for f in moved}}
        assume(mixed not in (ca, cb))
        if signed_by == "our key":  # even signed by us, one incident's nonce opens nothing of the other
            assume((mixed["incident_id"], mixed["nonce"]) not in genuine_pairs)
            token = sign(KEY, LinkClaims(**mixed))
        else:
            token = f"{encode(mixed)}.{mac_a if signed_by == 'mac of A' else mac_b}"
        assert post(world, token)["statusCode"] in (403, 410)
        for started in (a, b):
            assert request_row(world, started["incident_id"])["status"] == "pending"
        assert calls.sent == [] and world.writes() == []

    attempt()
    # A's genuine approval decides A only: B's identical plan stays unapproved and its workflow keeps waiting.
    assert post(world, links_a["approve"], name="Alice")["statusCode"] == 200
    assert world.wait_done(a["execution_arn"]) == "SUCCEEDED"
    assert request_row(world, b["incident_id"])["status"] == "pending"
    assert execution_status(world.sfn, b["execution_arn"]) == "RUNNING"
    assert [e["incident_id"] for e in audit_entries(world) if e["result"] == "ok"] == [a["incident_id"]]
    finish(world, b, links_b)


# -- concurrent approve and reject --------------------------------------------------------------------------
@pytest.mark.attack("concurrent approve and reject")
@pytest.mark.parametrize("clickers", [2, 8])
def test_concurrent_approve_and_reject_decide_once(world, calls, monkeypatch, clickers):
    import functions.approval_api as approval_api

    started, links = open_incident(world)
    containers = ContainerPool()  # one approval-function container (own connection) per click, as in Lambda
    monkeypatch.setattr(approval_api, "shared_connection", containers.connection)
    barrier = threading.Barrier(clickers)
    answers: list[tuple[str, int]] = []

    def click(i):
        decision = "approve" if i % 2 == 0 else "reject"
        with containers.container("approval-api"):
            barrier.wait()
            answers.append((decision, post(world, links[decision], decision, f"clicker-{i}")["statusCode"]))

    threads = [threading.Thread(target=click, args=(i,)) for i in range(clickers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    containers.close()
    assert containers.started == clickers
    assert sorted(code for _, code in answers) == [200] + [409] * (clickers - 1)
    winner = next(decision for decision, code in answers if code == 200)
    assert len(calls.sent) == 1 and calls.accepted == calls.sent
    assert calls.sent == ["SendTaskSuccess" if winner == "approve" else "SendTaskFailure"]
    assert request_row(world, started["incident_id"])["status"] == ("approved" if winner == "approve" else "rejected")
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert len(world.writes()) == (1 if winner == "approve" else 0)


# -- the service changed after the plan was approved --------------------------------------------------------
@pytest.mark.attack("approval of a changed target")
def test_an_approved_plan_for_a_service_that_changed_since_is_refused(world, calls):
    started, links = open_incident(world)
    t = world.scenario["target"]
    # Someone deploys by hand between the email and the click.
    ecs = boto3.client("ecs", region_name=world.region, endpoint_url=world.fake.endpoint)
    ecs.update_service(cluster=t["cluster"], service=t["service"], taskDefinition="api:61")
    assert post(world, links["approve"], name="Alice")["statusCode"] == 200
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert len(world.writes()) == 1  # the hand deploy only: the agent wrote nothing
    [entry] = audit_entries(world, started["incident_id"])
    assert entry["allowed"] is False and entry["result"] == "refused"
    assert "changed since the plan was made" in entry["reason"] and "re-plan" in entry["reason"]
    assert entry["before"]["taskDefinition"].endswith("api:61")
    status, document = world.incident_row(started["incident_id"])
    assert status == "failed" and any("re-plan" in e["text"] for e in document["timeline"])


# -- PostgreSQL failing around a decision -------------------------------------------------------------------
DEAD_DATABASE = "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1"


def remediate_again(world, started):
    """A duplicate delivery of the Remediate step after the flow ended (a Lambda retry that came late)."""
    import functions.workflow.remediate as remediate_fn

    state = {"incident_id": started["incident_id"], "target": {"region": world.region, **world.scenario["target"]}}
    return remediate_fn.handler({"state": state, "execution": started["execution_arn"]}, LambdaContextStub("remediate"))


@pytest.mark.attack("approval across a PostgreSQL outage")
@pytest.mark.parametrize("fault", ["restart", "down for two attempts"])
def test_an_approval_recorded_before_an_outage_is_applied_once_after_it(world, calls, monkeypatch, fault):
    started, links = open_incident(world)
    attempts = []

    def outage():  # runs as each Remediate attempt begins, after the approval was recorded and delivered
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            world.restart_database()
            if fault == "down for two attempts":
                monkeypatch.setenv("DATABASE_URL", DEAD_DATABASE)
        elif len(attempts) == 3:
            monkeypatch.setenv("DATABASE_URL", world.pg_url)

    world.router.before["remediate"] = outage
    assert post(world, links["approve"], name="Alice")["statusCode"] == 200
    assert world.wait_done(started["execution_arn"], timeout=90) == "SUCCEEDED"
    # a step opens its own connection, so a restart between steps costs nothing; while the database is down,
    # the attempts fail and are retried, not lost
    assert len(attempts) == (1 if fault == "restart" else 3)
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    assert world.incident_row(started["incident_id"])[0] == "resolved"
    # never twice: the link again (the approval function finds its connection dead and opens another), the step again
    assert post(world, links["approve"])["statusCode"] == 409
    del world.router.before["remediate"]
    assert remediate_again(world, started)["remediation"]["ok"] is True
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    results = [e["result"] for e in audit_entries(world, started["incident_id"])]
    assert results == ["ok", "skipped (already applied)"]
    assert calls.accepted == ["SendTaskSuccess"]


@pytest.mark.attack("approval across a PostgreSQL outage")
def test_a_click_while_the_database_is_down_gets_503_and_the_link_works_after(world, calls, monkeypatch):
    started, links = open_incident(world)
    world.restart_database()
    monkeypatch.setenv("DATABASE_URL", DEAD_DATABASE)
    for method in ("GET", "POST"):
        answer = world.approval(method, links["approve"], "decision=approve&name=Alice")
        assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "60"
        assert "Try again" in answer["body"]
    monkeypatch.setenv("DATABASE_URL", world.pg_url)
    assert_undecided(world, calls, started)
    assert post(world, links["approve"], name="Alice")["statusCode"] == 200
    assert post(world, links["approve"], name="Alice")["statusCode"] == 409
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert calls.accepted == ["SendTaskSuccess"] and [w["op"] for w in world.writes()] == ["UpdateService"]


@pytest.mark.attack("approval across a PostgreSQL outage")
def test_a_decision_committed_but_never_delivered_is_delivered_once_by_the_next_click(world, calls):
    """The database failed after committing the decision and before answering: the deciding invocation ended
    (503) without telling the workflow. The row is what that leaves behind."""
    started, links = open_incident(world)
    request = request_row(world, started["incident_id"])
    with psycopg.connect(world.pg_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        PostgresApprovalStore(conn).decide(started["incident_id"], request["plan_hash"], "approved",
                                           "Alice (email link)", "email-link", nonce=request["nonce"])
        # the deciding invocation ended two minutes ago: its decision, and its claim on the delivery, are that old
        conn.execute("update ecs_agent_approvals set decided_at = decided_at - interval '2 minutes', "
                     "delivery_claimed_at = delivery_claimed_at - interval '2 minutes'")
    assert execution_status(world.sfn, started["execution_arn"]) == "RUNNING"
    answer = post(world, links["approve"], name="Alice")  # the next click tells the workflow, instead of a 409
    assert answer["statusCode"] == 200 and "Recorded as Alice (email link)" in answer["body"]
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    for _ in range(3):
        assert post(world, links["approve"])["statusCode"] == 409
    assert calls.sent == calls.accepted == ["SendTaskSuccess"]
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    assert request_row(world, started["incident_id"])["delivered_at"] is not None


# -- the signed decision is the decision --------------------------------------------------------------------
@pytest.mark.attack("approval link decision flipped")
def test_approve_posted_to_the_reject_link_and_a_bare_post_decide_nothing(world, calls):
    started, links = open_incident(world)
    flipped = world.approval("POST", links["reject"], "decision=approve&name=Mallory")
    assert flipped["statusCode"] == 400 and "can only reject" in flipped["body"]
    flipped = world.approval("POST", links["approve"], json.dumps({"decision": "reject"}),
                             content_type="application/json")
    assert flipped["statusCode"] == 400 and "can only approve" in flipped["body"]
    for bare in (None, "", "name=Mallory"):
        assert world.approval("POST", links["approve"], bare)["statusCode"] == 400
    assert_undecided(world, calls, started)
    # the page of each link offers only that link's decision
    page = world.approval("GET", links["reject"])["body"]
    assert "value=reject" in page and "value=approve" not in page
    assert "account 123456789012" in page.lower() or "<b>Account:</b> 123456789012" in page
    finish(world, started, links)


@pytest.mark.attack("approval form junk")
@pytest.mark.parametrize("event", [
    {"body": "%%%not-base64%%%", "isBase64Encoded": True},
    {"body": base64.b64encode(b"\xff\xfe\xfd").decode(), "isBase64Encoded": True},
    {"body": "[" * 5000 + "]" * 5000, "content_type": "application/json"},
    {"body": '{"decision": ' + "[" * 100_000 + "]" * 100_000 + "}", "content_type": "application/json"},
    {"body": '["decision", "approve"]', "content_type": "application/json"},
    {"body": "{not json", "content_type": "application/json"},
], ids=["bad-base64", "not-utf8", "nested-list", "deeply-nested", "json-array", "broken-json"])
def test_malformed_bodies_are_a_4xx_never_a_crash(world, calls, event):
    import functions.approval_api as approval_api

    started, links = open_incident(world)
    raw = {"httpMethod": "POST", "pathParameters": {"token": links["approve"]},
           "headers": {"Content-Type": event.get("content_type", "application/x-www-form-urlencoded")},
           "requestContext": {"identity": {"sourceIp": "198.51.100.7"}}, "body": event["body"],
           "isBase64Encoded": event.get("isBase64Encoded", False)}
    answer = approval_api.handler(raw, LambdaContextStub("approval-api"))
    assert answer["statusCode"] == 400, answer
    assert_undecided(world, calls, started)
    finish(world, started, links)


@contextlib.contextmanager
def send_task_success_throttled(monkeypatch, calls):
    """Step Functions throttles every SendTaskSuccess inside, and the decider's retries do not pause."""
    from botocore.exceptions import ClientError

    from agents.aws_ecs_service.incidents import decisions

    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendTaskSuccess")
    with monkeypatch.context() as patched:
        patched.setattr(decisions, "RETRY_PAUSE_S", 0)
        patched.setattr(calls.client, "send_task_success", lambda **_: (_ for _ in ()).throw(throttled))
        yield


@pytest.mark.attack("approval delivery throttled")
def test_a_throttled_delivery_is_retried_and_a_second_click_delivers_instead_of_409(world, calls, monkeypatch):
    """The first click records the decision, but Step Functions throttles every SendTaskSuccess of that invocation:
    the page says so (202). The second click delivers it (200), once; the workflow applies the plan."""
    started, links = open_incident(world)
    with send_task_success_throttled(monkeypatch, calls):
        first = post(world, links["approve"], name="Alice")
    assert first["statusCode"] == 202 and "could not be told yet" in first["body"]
    row = request_row(world, started["incident_id"])
    assert (row["status"], row["delivered_at"], row["delivery_attempts"]) == ("approved", None, 1)
    assert "ThrottlingException" in row["delivery_error"]
    assert execution_status(world.sfn, started["execution_arn"]) == "RUNNING"
    second = post(world, links["approve"], name="Alice")
    assert second["statusCode"] == 200 and "Recorded as Alice" in second["body"]
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert [w["op"] for w in world.writes()] == ["UpdateService"]
    assert post(world, links["approve"])["statusCode"] == 409  # told once: now it is just decided
    status, document = world.incident_row(started["incident_id"])
    assert status == "resolved" and [a["decision"] for a in document["approvals"]] == ["approved"]


@pytest.mark.attack("approval delivery throttled")
def test_the_scheduled_deliverer_tells_the_workflow_a_decision_nobody_clicked_again(world, calls, monkeypatch):
    started, links = open_incident(world)
    with send_task_success_throttled(monkeypatch, calls):
        assert post(world, links["approve"], name="Alice")["statusCode"] == 202
    import functions.deliver_decisions as deliverer

    monkeypatch.setattr(deliverer, "_sfn", calls.client)
    outcome = deliverer.handler({"source": "aws.events", "detail-type": "Scheduled Event"},
                                LambdaContextStub("deliver-decisions"))
    assert outcome == {"delivered": 1, "not_delivered": 0, "skipped": 0}
    assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
    assert deliverer.handler({}, LambdaContextStub("deliver-decisions")) == {"delivered": 0, "not_delivered": 0,
                                                                              "skipped": 0}
