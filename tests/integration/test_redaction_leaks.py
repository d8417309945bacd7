"""Secrets planted in a played AWS world never leave the agent unless allowSensitiveData is on.

Real-looking AWS access keys (AKIA/ASIA), a secret access key, an STS session token, a JWT, database
URLs with passwords, a log driver token and task-definition `environment` values are put in log lines,
service events, stopped reasons, alarm text and the task definition. Then: `ecs-agent triage` writes
triage_report.md, triage.json and evidence.json and prints its summary; the conversation talks to a
local Bedrock endpoint; the intake logs what it drops. None of them carries a secret. With
allowSensitiveData on, the evidence and the report keep them (the flag is honoured); the model
still gets redacted text, because nothing it does needs a secret.
"""
from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from aws_lambda_powertools import Logger

from agents.aws_ecs_service.cli import main
from agents.aws_ecs_service.diagnosis.redaction import MASK
from agents.aws_ecs_service.incidents.intake import Dropped, IncidentRequest, Normaliser
from tests import converse_server as cs
from tests.conftest import load_scenario
from tests.e2e.serverless_world import LambdaContextStub
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
    "splunk token": "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70",
    "env value": "sk_live_51HqLyjWDarjtT1zdp7dcQx",
    "env db url password": "Env0nlyPassw0rd",
}
S = SECRETS


def secret_world() -> dict:
    """oom-after-deploy with secrets wherever a careless application or operator puts them."""
    sc = load_scenario("oom-after-deploy")
    lines = [f"ERROR boto3 auth failed for key {S['access key id']} secret={S['secret access key']}",
             f"ERROR sts creds {S['session key id']} token {S['session token']}",
             f"ERROR GET /admin Authorization: Bearer {S['jwt']} -> 500",
             f"ERROR could not connect to postgres://orders:{S['postgres password']}@db.prod.internal:5432/orders",
             f"ERROR cache redis://:{S['redis password']}@cache.internal:6379/0 timed out"]
    for stream in sc["logs"]:
        stream["events"] += [["-44m", line] for line in lines]
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
    play_scenario(secret_world())
    monkeypatch.delenv("ALLOW_SENSITIVE_DATA", raising=False)
    files, logs = triage(tmp_path, capsys, caplog)
    for name, text in {**files, "log output": logs}.items():
        assert not leaked(text), f"{name} leaks {leaked(text)}"
    evidence = json.loads(files["evidence.json"])
    assert evidence["redacted"] is True
    # what was read is still there, minus the secrets: names, hosts, the error itself
    blob = files["evidence.json"]
    for kept in ("STRIPE_KEY", "DATABASE_URL", "splunk-token", "db.prod.internal", "could not connect to postgres"):
        assert kept in blob
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
    assert not {"env value", "splunk token", "session token", "postgres password"} - set(leaked(files["evidence.json"]))


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
    state = say("show me the last errors of prod/api")
    assert state["messages"][-1].content == "They fail to reach postgres."
    assert len(server.requests) == 5
    sent = "\n".join(cs.request_text(r["body"]) for r in server.requests)
    assert "could not connect to postgres" in sent  # the log lines did reach the model...
    assert not leaked(sent)  # ...without their secrets
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
