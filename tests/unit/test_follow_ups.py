"""The follow-ups' pure parts: which follow-up a message asks, evidence cut around the decisive token, the log
excerpt around the matched line, the closest names, and read gaps named by their cause."""
from __future__ import annotations

import re

import pytest

from agents.aws_ecs_service.conversation import follow_ups
from agents.aws_ecs_service.diagnosis.analyzers.tasks import classify_task
from agents.aws_ecs_service.diagnosis.signals import clip
from agents.aws_ecs_service.discovery.interface import ServiceRecord
from agents.aws_ecs_service.discovery.matching import STRONG_SCORE, match_services
from agents.aws_ecs_service.operations.service_now import excerpt, matched_line
from agents.aws_ecs_service.operations.triage import describe_findings, unread_causes


@pytest.mark.parametrize(("text", "kind"), [
    ("is it healthy now?", "health"), ("is prod/api back up?", "health"), ("still broken?", "health"),
    ("what changed?", "changes"), ("what changed between the two revisions?", "changes"),
    ("compare api:61 and api:62", "changes"),
    ("show me the logs", "logs"), ("logs", "logs"), ("can I see the logs of orders", "logs"),
    ("what happened?", "timeline"), ("help", "help"), ("what can you do?", "help"),
    ("is anything broken in prod?", "sweep"), ("which services are failing?", "sweep"),
    ("show more", "more"), ("more lines", "more"),
    ("something is off", "trouble"), ("something seems wrong with billing", "trouble"),
    ("My API service is slow, we have a demo at 2 PM", None), ("fix it", None), ("check prod/api", None),
    ("show me the last errors of orders", None), ("it started after yesterday's 3 PM deploy", None),
])
def test_the_follow_up_a_message_asks_for(text, kind):
    assert follow_ups.asked(text) == kind


def test_a_vague_trouble_report_or_what_happened_without_an_incident_of_that_service_is_a_triage():
    thread = {"incident_id": "chat-1", "findings": {"target": {"cluster": "prod", "service": "api"}}}
    assert follow_ups.intent_for("trouble", thread, {}) == "diagnose"
    assert follow_ups.intent_for("timeline", {}, {}) == "diagnose"
    assert follow_ups.intent_for("timeline", thread, {}) == "question"
    assert follow_ups.intent_for("timeline", thread, {"cluster": "prod", "service": "api"}) == "question"
    assert follow_ups.intent_for("timeline", thread, {"cluster": "prod", "service": "billing"}) == "diagnose"
    assert not follow_ups.answers_itself("trouble", {}, {}) and follow_ups.answers_itself("health", {}, {})


PULL_403 = ("CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref "
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-api-with-a-long-name:release-2026-12-07-build"
            "-4711-hotfix-for-the-checkout-flow-and-more: " + "retrying after backoff; " * 12 + "unexpected status "
            "from HEAD request: 403 Forbidden")


def test_an_evidence_line_keeps_the_token_the_rule_decided_on_past_the_cut():
    assert len(PULL_403) > 500
    verdict = classify_task({"taskArn": "arn:aws:ecs:us-east-1:1:task/prod/abcdef1234", "stopCode": "TaskFailedToStart",
                             "stoppedReason": PULL_403, "containers": [{"name": "app"}]})
    line = verdict.line()
    assert verdict.cause == "image-pull-access-denied"
    assert line.endswith("403 Forbidden") and line.startswith("task/abcdef12: …") and len(line) < 330
    assert "403" not in clip(PULL_403, 300)  # cut from the start, it would be lost


def test_a_short_match_far_in_is_shown_with_the_text_before_it():
    text = "x" * 400 + " ERROR token " + "y" * 400
    cut = clip(text, 100, keep=re.compile("ERROR token"))
    assert "ERROR token" in cut and cut.startswith("…x") and cut.endswith("y…") and len(cut) <= 100


def test_replies_show_whole_evidence_lines_and_say_how_many_more_there_are():
    long_line = "task/abcdef12: " + PULL_403[-280:]
    triage = {"target": {"cluster": "prod", "service": "api"}, "status": "down",
              "root_cause": {"category": "image-pull-access-denied", "confidence": 0.9, "summary": "The pull was refused.",
                             "evidence": [long_line, "b", "c", "d", "e"]}, "findings": []}
    text = describe_findings(triage)
    assert f"  · {long_line}" in text and "403 Forbidden" in text
    assert '  (2 more evidence lines: say "show more")' in text
    assert follow_ups.more_evidence(triage).count("  · ") == 5


def test_read_gaps_are_named_by_their_cause():
    assert unread_causes(["logs:GetLogEvents: ResourceNotFoundException", "ecs:ListTasks: ThrottlingException",
                          "ec2:DescribeSubnets: UnauthorizedOperation", "ecr:DescribeImages: Weird"]) == [
        "logs:GetLogEvents: no such log group or stream",
        "ecs:ListTasks: AWS kept failing after retries (ThrottlingException)",
        "ec2:DescribeSubnets: access denied (UnauthorizedOperation) — the agent's role lacks this read",
        "ecr:DescribeImages: Weird"]


def test_the_excerpt_is_around_the_matched_line_marked_and_redacted():
    messages = ["INFO booting", "password=hunter2secret connecting", "INFO retry 1", "INFO retry 2",
                "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling GetItem",
                "INFO shutting down", "INFO bye", "INFO after"]
    index, _pattern = matched_line(messages)
    assert index == 4
    lines = excerpt(messages, before=3, after=2)
    assert lines[0].startswith("  ") and "hunter2secret" not in lines[0] and "password=" in lines[0]
    assert lines[3].startswith("> botocore.exceptions.ClientError") and lines[-1] == "  INFO bye"
    assert len(lines) == 6


def test_a_low_level_line_never_counts_as_the_matched_one():
    messages = ["WARN connection refused, retrying", "ok", "all good"]
    assert matched_line(messages) is None
    assert excerpt(messages, before=1, after=0) == ["  ok", "  all good"]  # the last lines instead


def _record(cluster: str, name: str, region: str = "us-east-1") -> ServiceRecord:
    arn = f"arn:aws:ecs:{region}:123456789012:service/{cluster}/{name}"
    return ServiceRecord(id=arn, arn=arn, name=name, cluster=cluster, region=region, account_id="123456789012",
                         target="default")


RECORDS = [_record("prod", "payments"), _record("prod", "billing"), _record("staging", "payments"),
           _record("prod", "payments", region="eu-west-1")]


def test_closest_names_come_from_the_same_cluster_and_region_first():
    found = follow_ups.closest("paymentz", "prod", "us-east-1", RECORDS)
    assert [(r.cluster, r.name, r.region) for r in found] == [("prod", "payments", "us-east-1")]
    found = follow_ups.closest("paymentz", "nope", "us-east-1", RECORDS)  # no such cluster: anywhere in the region
    assert [(r.cluster, r.name) for r in found] == [("prod", "payments"), ("staging", "payments")]


def test_a_look_alike_spelling_is_never_a_strong_match():
    assert match_services("biling", RECORDS, min_score=STRONG_SCORE) == []
    assert [r.name for r in match_services("biling", RECORDS)] == ["billing"]
    assert [r.name for r in match_services("billing", RECORDS, min_score=STRONG_SCORE)] == ["billing"]


def test_listing_problems_name_their_cause():
    assert follow_ups.listing_problem("default/us-east-1: Unable to locate credentials").startswith(
        "I could not list the ECS services: no usable AWS credentials (default/us-east-1: Unable to locate")
    assert "Planton Cloud is unreachable" in follow_ups.listing_problem("cannot reach Planton Cloud at http://x: boom")
