"""Every alarm of the stack reaches the people subscribed to the notification topic.

CloudWatch publishes an alarm action to SNS as the service principal cloudwatch.amazonaws.com, over
TLS: the topic's policy must allow that principal to publish, and the topic's KMS key must let it
encrypt. Read from the synthesized template, statement by statement.
"""
from __future__ import annotations

import json

import pytest

CLOUDWATCH = "cloudwatch.amazonaws.com"


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _allows(statement: dict, service: str, action: str) -> bool:
    return (statement["Effect"] == "Allow" and service in _list(statement.get("Principal", {}).get("Service", []))
            and any(a.lower() == action.lower() or a == "*" for a in _list(statement["Action"])))


def _topic_policy(views, topic: str) -> list[dict]:
    return [s for p in views.of_type("AWS::SNS::TopicPolicy").values() if {"Ref": topic} in p["Properties"]["Topics"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _alarms(views) -> dict[str, dict]:
    return views.of_type("AWS::CloudWatch::Alarm")


def test_the_stack_has_alarms_on_its_own_failures(views):
    names = " ".join(_alarms(views))
    for expected in ("DeadLetters", "ExecutionsFailed", "ExecutionsTimedOut", "intakeErrors", "Api5xx"):
        assert expected in names


@pytest.fixture(scope="module")
def alarm_topics(views) -> dict[str, str]:
    """alarm logical id -> the topic (logical id) its ALARM action publishes to."""
    out = {}
    for name, alarm in _alarms(views).items():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert views.resources[action["Ref"]]["Type"] == "AWS::SNS::Topic", name
        out[name] = action["Ref"]
    return out


def test_cloudwatch_may_publish_every_alarm_to_its_topic_and_only_for_this_accounts_alarms(views, alarm_topics):
    for alarm, topic in alarm_topics.items():
        grants = [s for s in _topic_policy(views, topic) if _allows(s, CLOUDWATCH, "sns:Publish")]
        assert grants, f"{alarm}: the topic policy lets CloudWatch publish nothing"
        for grant in grants:
            assert {"Ref": topic} in _list(grant["Resource"])
            condition = json.dumps(grant["Condition"])
            assert "aws:SourceArn" in condition and ":alarm:*" in condition and "aws:SourceAccount" in condition


def test_cloudwatch_may_use_the_topics_key(views, alarm_topics):
    for alarm, topic in alarm_topics.items():
        key = views.resources[topic]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        statements = views.resources[key]["Properties"]["KeyPolicy"]["Statement"]
        for action in ("kms:Decrypt", "kms:GenerateDataKey*"):
            assert any(_allows(s, CLOUDWATCH, action) for s in statements), (alarm, action)


def test_the_topic_still_refuses_anything_but_tls(views, alarm_topics):
    for topic in set(alarm_topics.values()):
        denies = [s for s in _topic_policy(views, topic) if s["Effect"] == "Deny"]
        assert denies and all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
