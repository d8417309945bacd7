"""Secrets never survive redaction; names and diagnostic text do."""
import json

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, redact_evidence, redact_text

SECRETS = {
    "access key": ("using AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    "session key id": ("creds ASIAY34FZKBOKMUTVV7A loaded", "ASIAY34FZKBOKMUTVV7A"),
    "secret key": ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    "bare secret key": ("got wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY back", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    "db url": ("connect postgres://app:S3cr3t!pw@db.internal:5432/app failed", "S3cr3t!pw"),
    "jwt": ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    "bearer": ("Authorization: Bearer 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    "password kv": ("DB_PASSWORD=hunter2hunter2 starting", "hunter2hunter2"),
    "json password": ('{"password": "correct-horse-battery"}', "correct-horse-battery"),
    "api key": ("STRIPE_API_KEY: sk_live_51HqLyjWDarjtT1zdp7dc", "sk_live_51HqLyjWDarjtT1zdp7dc"),
    "url without user": ("redis connect redis://:r3dis-Pa55word@cache.internal:6379/0 refused", "r3dis-Pa55word"),
    "session token": ("using IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7kQ2 for s3",
                      "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7kQ2"),
    "private key": ("key: -----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA7bq9 -----END RSA PRIVATE KEY----- loaded",
                    "MIIEpAIBAAKCAQEA7bq9"),
}


@pytest.mark.attack("secret leak")
@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secret_is_masked(name):
    text, secret = SECRETS[name]
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


@pytest.mark.parametrize("text", [
    "Essential container in task exited",
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/abc is not "
    "authorized to perform: secretsmanager:GetSecretValue on resource: "
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v3.3.0: not found",
    "KeyError: 'DATABASE_URL'",
    "OutOfMemoryError: Container killed due to memory usage",
])
def test_diagnostic_text_is_kept(text):
    assert redact_text(text) == text


def test_task_definition_values_redacted_names_kept():
    evidence = {
        "task_definitions": {"arn:td/api:2": {"containerDefinitions": [{
            "name": "api",
            "environment": [{"name": "DATABASE_URL", "value": "postgres://u:pw12345@h/db"},
                            {"name": "FEATURE", "value": "on"}],
            "secrets": [{"name": "STRIPE_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:stripe"}],
        }]}},
        "tasks": {"running": [{"overrides": {"containerOverrides": [
            {"name": "api", "environment": [{"name": "TOKEN", "value": "abc123xyz"}]}]}}], "stopped": []},
        "logs": [{"events": [{"message": "login with password=letmein99"}]}],
    }
    out = redact_evidence(evidence)
    blob = json.dumps(out)
    for secret in ("pw12345", '"on"', "secret:stripe", "abc123xyz", "letmein99"):
        assert secret not in blob
    for name in ("DATABASE_URL", "FEATURE", "STRIPE_KEY", "TOKEN"):
        assert name in blob
    assert out["redacted"] is True
    # the input is not modified
    assert evidence["logs"][0]["events"][0]["message"] == "login with password=letmein99"


@pytest.mark.attack("secret leak")
def test_values_under_secret_named_keys_are_masked_anywhere():
    evidence = {"task_definitions": {"arn:td/api:2": {"containerDefinitions": [{
        "name": "api",
        "logConfiguration": {"logDriver": "splunk", "options": {"splunk-url": "https://splunk.example:8088",
                                                                "splunk-token": "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70"}},
        "dockerLabels": {"com.example.db-password": "Tr0ub4dor&3", "team": "payments"},
    }]}}}
    blob = json.dumps(redact_evidence(evidence))
    assert "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70" not in blob and "Tr0ub4dor&3" not in blob
    assert "https://splunk.example:8088" in blob and "payments" in blob and "splunk-token" in blob
