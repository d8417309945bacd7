"""Secrets planted in a played AWS world never leave the agent unless allowSensitiveData is on.

Real-looking AWS access keys (AKIA/ASIA), a secret access key, an STS session token, a JWT, database URLs
with passwords (one holding `@` and `/`), a GitHub token as a clone URL's user, Slack and Stripe tokens,
`DB_PASS=`, an `x-api-key:` header, a quoted password with spaces, a private key logged one line per event,
and, in the task definition, environment values, a log driver token, `--password` in the command, a token
in the entryPoint's shell string, `curl -u user:pw` in the health check and secret docker labels. They are
put in log lines, service events, stopped reasons, alarm text and the task definition. Then: `ecs-agent
triage` writes triage_report.md, triage.json and evidence.json and prints its summary; the workflow writes
its reports and evidence to S3, its incident and evidence to PostgreSQL and its approval email to SNS; the
verifier reports new stopped tasks; the MCP log tool answers; the conversation talks to a local Bedrock
endpoint; the intake logs what it drops. None of them carries a secret, and the diagnosis is the one the
unredacted evidence gives. With allowSensitiveData on, the evidence and the report keep them (the flag is
honoured); the model still gets redacted text, because nothing it does needs a secret.
"""
from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
import time
import uuid

import psycopg
import pytest
from aws_lambda_powertools import Logger

from agents.aws_ecs_service.diagnosis.redaction import MASK
from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser
from agents.aws_ecs_service.interfaces.cli import main
from tests import converse_server as cs
from tests.conftest import load_scenario
from tests.e2e.serverless_world import LambdaContextStub, s3_reports, scenario_world, sent_emails
from tests.unit.redaction_corpus import RSA_BODY
from tests.unit.test_intake import task_stopped

SECRETS = {
    "access key id": "AKIAQYLPMN5HHHFPZAM2",
    "session key id": "ASIAY34FZKBOKMUTVV7A",
    "secret access key": "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",
    "session token": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7kQ2Zt9",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcGkiLCJyb2xlIjoiYWRtaW4ifQ."
           "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "postgres password": "Zx9pQ2rT7vWk",
    "redis password": "r3disPa55word",
    "url password with @ and /": "Or9@de/rs5",
    "github token": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "slack token": "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "stripe key": "sk_live_51HqLyjWDarjtT1zdp7dcQxYz",
    "DB_PASS": "Hunt3r2-Pass",
    "x-api-key": "5f4dcc3b5aa765d61d8327deb882cf99",
    "quoted password": "correct horse battery staple",
    "private key line 1": RSA_BODY[0],
    "private key line 2": RSA_BODY[1],
    "private key line 3": RSA_BODY[2],
    "splunk token": "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70",
    "env value": "sk_live_51HqLyjWDarjtT1zdp7dcQx",
    "env db url password": "Env0nlyPassw0rd",
    "command password": "CmdPw-93kd",
    "entryPoint token": "ep_2k9Xq7Lm",
    "health check password": "Hc-Pw42x9",
    "docker label": "Tr0ub4dor-3",
    "docker label token": "glpat-Xy9zAbCdEf0123456789",
}
S = SECRETS


def secret_world() -> dict:
    """oom-after-deploy with secrets wherever a careless application or operator puts them."""
    sc = load_scenario("oom-after-deploy")
    lines = [f"ERROR boto3 auth failed for key {S['access key id']} secret={S['secret access key']}",
             f"ERROR sts creds {S['session key id']} token {S['session token']}",
             f"ERROR GET /admin Authorization: Bearer {S['jwt']} -> 500",
             f"ERROR could not connect to postgres://orders:{S['postgres password']}@db.prod.internal:5432/orders",
             f"ERROR cache redis://:{S['redis password']}@cache.internal:6379/0 timed out",
             f"ERROR mysql://orders:{S['url password with @ and /']}@db.prod.internal:3306/orders refused",
             f"WARN git clone https://{S['github token']}@github.com/org/config.git failed",
             f"ERROR slack {S['slack token']}: not_authed; stripe {S['stripe key']}: expired",
             f"INFO env DB_PASS={S['DB_PASS']} DB_HOST=db.prod.internal",
             f"ERROR upstream call x-api-key: {S['x-api-key']} -> 403",
             f'ERROR login password="{S["quoted password"]}" rejected',
             "ERROR loading TLS key -----BEGIN RSA PRIVATE KEY-----", *RSA_BODY[:3], "-----END RSA PRIVATE KEY-----"]
    for stream in sc["logs"]:
        stream["events"] += [[f"-{2700 - i}s", line] for i, line in enumerate(lines)]
    api = next(s for s in sc["ecs"]["services"] if s["serviceName"] == "api")
    api["events"].insert(0, {"createdAt": "-3m", "message": f"(service api) has started 1 tasks: (task 1a) with "
                                                             f"AWS_ACCESS_KEY_ID={S['access key id']}"})
    alarm = sc["cloudwatch"]["alarms"][0]
    alarm["AlarmDescription"] = f"page with token {S['jwt']}"
    alarm["reason"] = f"Threshold Crossed (probe used postgres://probe:{S['postgres password']}@db:5432/x)"
    td62 = next(t for t in sc["ecs"]["taskDefinitions"] if t["family"] == "api" and t["revision"] == 62)
    container = td62["containerDefinitions"][0]
    container["environment"] = [{"name": "STRIPE_KEY", "value": S["env value"]},
                                {"name": "DATABASE_URL", "value": f"postgres://u:{S['env db url password']}@h/db"},
                                {"name": "AWS_SECRET_ACCESS_KEY", "value": S["secret access key"]}]
    container["logConfiguration"]["options"]["splunk-token"] = S["splunk token"]
    container["command"] = ["serve", "--db-password", S["command password"], "--port", "8080"]
    container["entryPoint"] = ["sh", "-c", f"export API_TOKEN={S['entryPoint token']}; exec \"$@\"", "--"]
    container["healthCheck"] = {"command": ["CMD-SHELL", f"curl -f -u monitor:{S['health check password']} "
                                                         "http://localhost:8080/health || exit 1"], "interval": 30}
    container["dockerLabels"] = {"com.example.db-password": S["docker label"], "team": "payments",
                                 "deploy.note": f"pushed with {S['docker label token']}"}
    stopped = next(t for t in sc["ecs"]["tasks"] if t["lastStatus"] == "STOPPED")
    stopped["containers"][0]["reason"] += f" (last request carried Bearer {S['jwt']})"
    return sc


def leaked(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def triage(tmp_path, capsys, caplog) -> tuple[dict[str, str], str]:
    out = tmp_path / "out"
    # everything the agent logs, and INFO from the libraries (botocore's DEBUG prints raw AWS answers: never in prod)
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="agents"):
        code = main(["triage", "--cluster", "prod", "--service", "api", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr()
    files = {p.name: p.read_text() for p in out.iterdir()}
    assert set(files) == {"triage_report.md", "triage.json", "evidence.json"}
    return files, printed.out + printed.err + caplog.text


@pytest.mark.attack("secret leak")
def test_triage_outputs_and_logs_carry_no_secret(play_scenario, monkeypatch, tmp_path, capsys, caplog):
    fake = play_scenario(secret_world())
    monkeypatch.delenv("ALLOW_SENSITIVE_DATA", raising=False)
    files, logs = triage(tmp_path, capsys, caplog)
    for name, text in {**files, "log output": logs}.items():
        assert not leaked(text), f"{name} leaks {leaked(text)}"
    evidence = json.loads(files["evidence.json"])
    assert evidence["redacted"] is True
    # what was read is still there, minus the secrets: names, hosts, the error itself, every id the diagnosis joins on
    blob = files["evidence.json"]
    for kept in ("STRIPE_KEY", "DATABASE_URL", "splunk-token", "db.prod.internal", "could not connect to postgres",
                 "--db-password", "monitor:", "com.example.db-password", "-----BEGIN RSA PRIVATE KEY-----",
                 "github.com/org/config.git"):
        assert kept in blob
    world_arns = {t["taskArn"] for t in fake.ecs.tasks}
    tasks = evidence["tasks"]["running"] + evidence["tasks"]["stopped"]
    assert tasks and {t["taskArn"] for t in tasks} <= world_arns
    streams = {s["stream"] for s in evidence["logs"]}
    assert streams and streams <= {s["stream"] for s in load_scenario("oom-after-deploy")["logs"]}
    assert blob.count(MASK) >= len(SECRETS)
    assert json.loads(files["triage.json"])["root_cause"]["category"] == "container-oom"
    assert "were redacted" in files["triage_report.md"]


@pytest.mark.attack("secret leak")
def test_allow_sensitive_data_is_honoured(play_scenario, monkeypatch, tmp_path, capsys, caplog):
    play_scenario(secret_world())
    monkeypatch.setenv("ALLOW_SENSITIVE_DATA", "true")
    files, _ = triage(tmp_path, capsys, caplog)
    evidence = json.loads(files["evidence.json"])
    assert "redacted" not in evidence
    assert not {"env value", "splunk token", "session token", "postgres password", "private key line 2",
                "command password"} - set(leaked(files["evidence.json"]))


@pytest.mark.attack("secret leak")
@pytest.mark.parametrize("allow_sensitive_data", [False, True], ids=["default", "allowSensitiveData"])
def test_model_input_carries_no_secret(play_scenario, bedrock, allow_sensitive_data):
    play_scenario(secret_world())
    server = bedrock([cs.tool_use("ContextExtraction", {"intent": "diagnose"}), cs.text("Memory was halved."),
                      cs.tool_use("ContextExtraction", {"intent": "question"}),
                      cs.tool_uses(("recent_errors", {"cluster": "prod", "service": "api", "minutes": 120}),
                                   ("service_status", {"cluster": "prod", "service": "api"})),
                      cs.text("They fail to reach postgres.")])
    say = cs.ModelChat(allow_sensitive_data=allow_sensitive_data).say
    say("prod/api keeps crashing")
    state = say(f"show me the last errors of prod/api (our key is {S['access key id']}, DB_PASS={S['DB_PASS']})")
    assert state["messages"][-1].content == "They fail to reach postgres."
    assert len(server.requests) == 5
    sent = "\n".join(cs.request_text(r["body"]) for r in server.requests)
    assert "could not connect to postgres" in sent  # the log lines did reach the model...
    assert not leaked(sent)  # ...without their secrets, nor the ones the user typed
    if not allow_sensitive_data:  # what the user is shown is theirs to allow
        assert not leaked(json.dumps(state["findings"])) and not leaked(state["messages"][-1].content)


@pytest.mark.attack("secret leak")
def test_intake_summaries_and_drop_reasons_carry_no_secret(monkeypatch):
    import functions.intake as intake

    event = task_stopped(reason=f"Essential container in task exited: DATABASE_URL=postgres://u:"
                                f"{S['postgres password']}@db/x")
    found = Normaliser().normalise(event)
    assert isinstance(found, IncidentRequest) and not leaked(found.model_dump_json())

    replaced = task_stopped(stop_code="ServiceSchedulerInitiated",
                            reason=f"Task replaced, token={S['splunk token']} {S['access key id']}")
    logs = io.StringIO()
    monkeypatch.setattr(intake, "logger", Logger(service=f"intake-{uuid.uuid4().hex[:8]}", stream=logs))
    monkeypatch.setattr(intake, "_intake", None)
    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:aws:states:eu-west-1:111122223333:stateMachine:x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    outcome = intake.handler(replaced, LambdaContextStub("intake"))
    assert outcome["outcome"] == "dropped" and isinstance(Normaliser().normalise(replaced), Dropped)
    assert "event dropped" in logs.getvalue() and not leaked(logs.getvalue()) and not leaked(json.dumps(outcome))


@pytest.mark.attack("secret leak")
@pytest.mark.postgres
def test_workflow_reports_database_and_email_carry_no_secret(play_scenario, pg_schema_url, monkeypatch, caplog):
    """Intake -> Triage -> Plan -> approval email -> approve -> Remediate -> Verify -> Report, on the secret world:
    every object in S3, every incident column in PostgreSQL, every email and every log line is clean."""
    world_spec = secret_world()
    monkeypatch.setattr("tests.conftest.load_scenario", lambda name: copy.deepcopy(world_spec))
    monkeypatch.delenv("ALLOW_SENSITIVE_DATA", raising=False)
    with caplog.at_level(logging.INFO), scenario_world(play_scenario, pg_schema_url, monkeypatch) as world:
        started = world.intake(world.deployment_failed_event())
        _, links = world.email_links(started["incident_id"])
        assert world.approval("POST", links["approve"], "decision=approve&name=Alice")["statusCode"] == 200
        assert world.wait_done(started["execution_arn"]) == "SUCCEEDED"
        reports = s3_reports(world.region, world.bucket, started["incident_id"])
        emails = json.dumps(sent_emails(world.region))
        with psycopg.connect(world.pg_url) as conn:
            rows = json.dumps(conn.execute("select * from ecs_agent_incidents").fetchall(), default=str)
    assert {"evidence.json", "triage.json", "triage_report.md", "report_summary.md"} <= set(reports)
    assert json.loads(reports["triage.json"])["root_cause"]["category"] == "container-oom"
    assert "-----BEGIN RSA PRIVATE KEY-----" in reports["evidence.json"] and MASK in rows
    # every record with its structured fields (Powertools' `extra`), as the functions' JSON log lines carry them
    logs = json.dumps([vars(r) for r in caplog.records], default=str)
    assert "approval decided" in logs
    for name, text in {**reports, "emails": emails, "database": rows, "log output": logs}.items():
        assert not leaked(text), f"{name} leaks {leaked(text)}"


@pytest.mark.attack("secret leak")
def test_verification_of_new_stops_carries_no_secret(play_scenario):
    """Tasks that stop again after the fix are quoted by the verifier (report, incident record, chat reply)."""
    from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
    from agents.aws_ecs_service.aws.policy_guard import PolicyGuard
    from agents.aws_ecs_service.aws.session import AwsContext, SessionPool
    from agents.aws_ecs_service.diagnosis.engine import run_triage
    from agents.aws_ecs_service.domain.plan import Approval
    from agents.aws_ecs_service.domain.write_policy import WriteScope
    from agents.aws_ecs_service.operations.approvals import LocalApprovalStore
    from agents.aws_ecs_service.operations.planner import build_plans
    from agents.aws_ecs_service.operations.remediator import remediate
    from agents.aws_ecs_service.operations.verifier import verify

    fake = play_scenario(secret_world())
    ctx = AwsContext(region="us-east-1")
    result, evidence = run_triage(ctx, "prod", "api")
    plan = build_plans(result, evidence, "inc-1")[0]
    approvals = LocalApprovalStore()
    approvals.record(Approval(plan_hash=plan.plan_hash, incident_id="inc-1", decision="approved", decided_by="alice",
                              decided_at=dt.datetime.now(dt.UTC).isoformat()))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert [e.result for e in remediate(plan, PolicyGuard(SessionPool().for_target, WriteScope.of(True),
                                                          approvals, LocalAuditLog()), "t", print)] == ["ok"]
    fake.ecs.add_task({"taskDefinition": plan.steps[0].params["taskDefinition"].rsplit("/", 1)[-1],
                       "group": "service:api", "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                       "stoppedReason": f"Essential container in task exited (DB_PASS={S['DB_PASS']})",
                       "createdAt": time.time() - 1, "stoppedAt": time.time(), "cluster": "prod",
                       "containers": [{"name": "api", "exitCode": 137, "lastStatus": "STOPPED", "reason":
                                       f"OutOfMemoryError: Container killed due to memory usage "
                                       f"(token {S['jwt']})"}]})
    verification = verify(ctx, plan, result, since, timeout_s=0, poll_s=0.05)
    failing = next(c for c in verification.checks if c.name == "no new container-oom stops")
    assert not failing.ok and "OutOfMemoryError" in failing.detail
    assert not leaked(verification.model_dump_json())


@pytest.mark.attack("secret leak")
def test_mcp_service_logs_mask_a_key_logged_one_line_per_event(play_scenario, monkeypatch):
    from agents.aws_ecs_service.config import ECSDeepAgentConfig
    from agents.aws_ecs_service.discovery.factory import build_discovery
    from agents.aws_ecs_service.operations.read_tools import ReadTools

    play_scenario(secret_world())
    monkeypatch.delenv("ALLOW_SENSITIVE_DATA", raising=False)
    config = ECSDeepAgentConfig(model_name="offline", aws_region="us-east-1")
    answer = ReadTools.for_discovery(config, build_discovery(config)).recent_service_logs("prod", "api", since="2h", limit=200)
    lines = [line for stream in answer["streams"] for line in stream["lines"]]
    assert "-----END RSA PRIVATE KEY-----" in lines and any("could not connect to postgres" in li for li in lines)
    assert not leaked(json.dumps(answer))
