"""Every failure text AWS documents (tests/corpus/documented_failures.json) and public user reports with a clear
resolution (tests/corpus/user_reports.json), each placed where ECS shows it, must classify to its taxonomy id."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.aws_ecs_service.diagnosis import taxonomy
from agents.aws_ecs_service.diagnosis.classifier import classify
from tests.unit.evidence_builder import EvidenceBuilder, failing_deploy, placement_world

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
DOCUMENTED = json.loads((CORPUS / "documented_failures.json").read_text())["entries"]
REPORTS = json.loads((CORPUS / "user_reports.json").read_text())["entries"]
STOPPED_AGES = (25, 15, 5)


def _text(entry: dict) -> str:
    return f"{entry['error_name']}: {entry['text']}" if entry.get("error_name") else entry["text"]


def _steady_ec2_service() -> EvidenceBuilder:
    b = EvidenceBuilder(desired=3, running=2, launch_type="EC2")
    b.instance().instance()
    b.deployment(7, age=60 * 24 * 3)
    b.running_task(7)
    b.running_task(7)
    return b


def world(entry: dict) -> dict:
    """The evidence of a service where ECS shows `entry`'s text where the entry says it appears."""
    text, where = _text(entry), entry["where"]
    if where == "rollout_reason":
        return failing_deploy(rollout="FAILED", reason=text).build()
    if where == "service_event":
        b = placement_world(service="api")
        for age in (19, 13, 7, 1):
            b.event(text, age=age)
        return b.build()
    b = _steady_ec2_service()
    if where == "service_deployment_reason":
        b.service_deployment(8, "ROLLBACK_SUCCESSFUL", reason=text, source=7)
    for age in STOPPED_AGES:
        if where == "stopped_reason":
            b.stopped(7, entry.get("stop_code", "TaskFailedToStart"), text, exit_code=entry.get("exit_code"), age=age)
        elif where == "container_reason":
            b.stopped(7, entry.get("stop_code", "TaskFailedToStart"), entry.get("stopped_reason", "Task failed to start"),
                      exit_code=entry.get("exit_code"), container_reason=text, age=age)
        elif where == "failed_sidecar":  # the sidecar's image named in the report; the app container was fine
            b.stopped(7, "ServiceSchedulerInitiated", "Task failed container health checks", age=age, containers=[
                {"name": "api", "lastStatus": "STOPPED", "exitCode": 143, "healthStatus": "HEALTHY"},
                {"name": "ecs-service-connect-7Hq2", "image": text, "lastStatus": "STOPPED", "exitCode": 137,
                 "healthStatus": "UNHEALTHY"}])
    return b.build()


def check(entry: dict) -> None:
    result = classify(world(entry))
    expected = entry["expected"]
    if taxonomy.categories()[expected].kind == "symptom":
        assert expected in [f.category for f in result.findings], result.findings
        assert result.root_cause.category != expected
    else:
        assert result.root_cause.category == expected, result.root_cause


@pytest.mark.parametrize("entry", DOCUMENTED, ids=[f"{i}-{e['expected']}" for i, e in enumerate(DOCUMENTED)])
def test_documented_text_classifies_to_its_cause(entry):
    check(entry)


@pytest.mark.parametrize("entry", REPORTS, ids=[f"{i}-{e['expected']}" for i, e in enumerate(REPORTS)])
def test_user_report_classifies_to_its_resolution(entry):
    check(entry)


def test_corpus_entries_are_well_formed():
    ids = set(taxonomy.categories())
    for entry in DOCUMENTED + REPORTS:
        assert entry["expected"] in ids
        assert entry["source"].startswith("https://")
        assert entry["where"] in ("stopped_reason", "container_reason", "service_event", "rollout_reason",
                                  "service_deployment_reason", "failed_sidecar")
    assert len({(e["where"], _text(e)) for e in DOCUMENTED}) == len(DOCUMENTED)
