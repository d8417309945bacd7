"""Redaction through its public entry points (redact_text, redact_evidence): every place a secret can sit in ECS
evidence, and what must stay readable. Each test is named for the behaviour it protects."""
from __future__ import annotations

import json

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, redact_evidence, redact_text

JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJvcmRlcnMtc3ZjIiwic2NvcGUiOiJhZG1pbiJ9."
       "Qm9ndXNTaWduYXR1cmVGb3JUZXN0aW5nT25seQ-_x")
REGISTRY_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-pull-AbCdEf"
SPLUNK_SECRET = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/splunk-hec"


@pytest.mark.parametrize("text", [
    f"401 from orders: session {JWT} rejected",       # no "token"/"Bearer" word next to it
    f"cookie sid={JWT}; Path=/",
    f'{{"assertion": "{JWT}"}}',
    f"({JWT})",
])
def test_a_json_web_token_is_masked_wherever_it_stands(text):
    out = redact_text(text)
    assert JWT.split(".")[1] not in out and JWT.split(".")[2] not in out and MASK in out


def test_text_around_a_masked_token_is_kept():
    assert redact_text(f"401 from orders: session {JWT} rejected") == f"401 from orders: session {MASK} rejected"


def _evidence(container: dict) -> dict:
    return {"schema": "ecs-evidence/v1",
            "task_definitions": {"arn:aws:ecs:us-east-1:123456789012:task-definition/api:7": {
                "family": "api", "containerDefinitions": [{"name": "api", **container}]}},
            "tasks": {"running": [], "stopped": []}}


def _container(out: dict) -> dict:
    return next(iter(out["task_definitions"].values()))["containerDefinitions"][0]


def test_private_registry_credentials_are_masked_and_the_setting_stays_visible():
    out = redact_evidence(_evidence({"image": "docker.io/acme/api:1.4",
                                     "repositoryCredentials": {"credentialsParameter": REGISTRY_SECRET}}))
    assert _container(out)["repositoryCredentials"] == {"credentialsParameter": MASK}
    assert "dockerhub-pull" not in json.dumps(out) and _container(out)["image"] == "docker.io/acme/api:1.4"


def test_log_driver_secret_options_are_masked_and_their_names_kept():
    out = redact_evidence(_evidence({"logConfiguration": {
        "logDriver": "splunk", "options": {"splunk-url": "https://splunk.example:8088"},
        "secretOptions": [{"name": "splunk-token", "valueFrom": SPLUNK_SECRET},
                          {"name": "splunk-ca", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:ca-Zz9"}]}}))
    log = _container(out)["logConfiguration"]
    assert log["secretOptions"] == [{"name": "splunk-token", "valueFrom": MASK}, {"name": "splunk-ca", "valueFrom": MASK}]
    assert log["options"] == {"splunk-url": "https://splunk.example:8088"} and log["logDriver"] == "splunk"
    assert "splunk-hec" not in json.dumps(out) and "ca-Zz9" not in json.dumps(out)


def test_environment_and_secrets_of_every_container_of_every_revision_are_masked():
    evidence = _evidence({"environment": [{"name": "MODE", "value": "blue"}],
                          "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db-url"}]})
    evidence["task_definitions"]["arn:aws:ecs:us-east-1:123456789012:task-definition/api:6"] = {
        "family": "api", "containerDefinitions": [
            {"name": "api", "environment": [{"name": "MODE", "value": "green"}]},
            {"name": "sidecar", "secrets": [{"name": "KEY", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/k"}]}]}
    blob = json.dumps(redact_evidence(evidence))
    for value in ("blue", "green", "parameter/db-url", "parameter/k"):
        assert value not in blob
    for name in ("MODE", "DB", "KEY", "sidecar"):
        assert name in blob


def test_overrides_of_stopped_and_running_tasks_are_masked():
    evidence = _evidence({})
    override = {"containerOverrides": [{"name": "api", "environment": [{"name": "ONE_OFF", "value": "s3cr3t-run"}],
                                        "secrets": [{"name": "X", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}]}]}
    evidence["tasks"] = {"running": [{"taskArn": "t1", "overrides": override}],
                         "stopped": [{"taskArn": "t2", "overrides": json.loads(json.dumps(override))}]}
    out = redact_evidence(evidence)
    for group in ("running", "stopped"):
        assert out["tasks"][group][0]["overrides"]["containerOverrides"][0]["environment"] == [
            {"name": "ONE_OFF", "value": MASK}]
        assert out["tasks"][group][0]["overrides"]["containerOverrides"][0]["secrets"] == [{"name": "X", "valueFrom": MASK}]


def test_a_structure_under_a_secret_named_key_is_searched_not_blanked():
    """Only string values under a secret-sounding key are replaced; a nested document keeps its shape."""
    out = redact_evidence({"alarms": [{"AlarmName": "api-token-errors", "tokenConfig": {"issuer": "https://idp",
                                                                                          "ttl": 300},
                                       "password": "hunter2-hunter2", "token_count": 12}]})
    alarm = out["alarms"][0]
    assert alarm["tokenConfig"] == {"issuer": "https://idp", "ttl": 300}
    assert alarm["password"] == MASK and alarm["token_count"] == 12 and alarm["AlarmName"] == "api-token-errors"


def test_free_text_anywhere_in_the_evidence_is_redacted():
    out = redact_evidence({"logs": [{"events": [{"message": f"auth {JWT}"}, ["2026-01-01", "password=abcd1234 x"]]}],
                           "service": {"events": [{"message": "AKIAIOSFODNN7EXAMPLE used"}]}})
    blob = json.dumps(out)
    assert JWT.split(".")[2] not in blob and "abcd1234" not in blob and "AKIAIOSFODNN7EXAMPLE" not in blob
    assert out["logs"][0]["events"][1][0] == "2026-01-01"


def test_redacted_evidence_is_marked_and_a_copy():
    evidence = _evidence({"environment": [{"name": "MODE", "value": "blue"}]})
    out = redact_evidence(evidence)
    assert out["redacted"] is True and "redacted" not in evidence
    assert _container(evidence)["environment"] == [{"name": "MODE", "value": "blue"}]


def test_evidence_without_task_definitions_or_tasks_is_redacted_too():
    assert redact_evidence({"logs": []}) == {"logs": [], "redacted": True}
    out = redact_evidence({"task_definitions": {"x": {}}, "tasks": {"running": [{"taskArn": "t"}]}})
    assert out["tasks"]["running"] == [{"taskArn": "t"}]


def test_entries_without_a_value_are_left_as_they_are():
    out = redact_evidence(_evidence({"environment": [{"name": "EMPTY"}], "secrets": [{"name": "NOREF"}],
                                     "repositoryCredentials": {}, "logConfiguration": {"secretOptions": [{"name": "s"}]}}))
    c = _container(out)
    assert c["environment"] == [{"name": "EMPTY"}] and c["secrets"] == [{"name": "NOREF"}]
    assert c["repositoryCredentials"] == {} and c["logConfiguration"]["secretOptions"] == [{"name": "s"}]
