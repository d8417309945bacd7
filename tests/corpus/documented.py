"""The documented-failure corpus and the public user reports, placed where ECS shows each text.

    ok, found = classified(entry)   # does the entry's world classify to its expected taxonomy id?

Shared by tests/unit/test_documented_corpus.py and bench/diagnosis_corpus.py.
"""
from __future__ import annotations

import json
from pathlib import Path

from agents.aws_ecs_service.diagnosis import taxonomy
from agents.aws_ecs_service.diagnosis.classifier import classify
from tests.unit.evidence_builder import EvidenceBuilder, failing_deploy, placement_world

HERE = Path(__file__).resolve().parent
DOCUMENTED: list[dict] = json.loads((HERE / "documented_failures.json").read_text())["entries"]
REPORTS: list[dict] = json.loads((HERE / "user_reports.json").read_text())["entries"]
WHERE = ("stopped_reason", "container_reason", "service_event", "rollout_reason", "service_deployment_reason",
         "failed_sidecar")
STOPPED_AGES = (25, 15, 5)


def text(entry: dict) -> str:
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
    message, where = text(entry), entry["where"]
    if where == "rollout_reason":
        return failing_deploy(rollout="FAILED", reason=message).build()
    if where == "service_event":
        b = placement_world(service="api")
        for age in (19, 13, 7, 1):
            b.event(message, age=age)
        return b.build()
    b = _steady_ec2_service()
    if where == "service_deployment_reason":
        b.service_deployment(8, "ROLLBACK_SUCCESSFUL", reason=message, source=7)
    for age in STOPPED_AGES:
        if where == "stopped_reason":
            b.stopped(7, entry.get("stop_code", "TaskFailedToStart"), message, exit_code=entry.get("exit_code"),
                      age=age)
        elif where == "container_reason":
            b.stopped(7, entry.get("stop_code", "TaskFailedToStart"), entry.get("stopped_reason", "Task failed to start"),
                      exit_code=entry.get("exit_code"), container_reason=message, age=age)
        elif where == "failed_sidecar":  # the sidecar's image named in the report; the app container was fine
            b.stopped(7, "ServiceSchedulerInitiated", "Task failed container health checks", age=age, containers=[
                {"name": "api", "lastStatus": "STOPPED", "exitCode": 143, "healthStatus": "HEALTHY"},
                {"name": "ecs-service-connect-7Hq2", "image": message, "lastStatus": "STOPPED", "exitCode": 137,
                 "healthStatus": "UNHEALTHY"}])
    return b.build()


def classified(entry: dict) -> tuple[bool, str]:
    """(whether the entry's world classifies to its expected id, the root cause found). A symptom (a failing
    deployment) must be among the findings and never the root cause."""
    result = classify(world(entry))
    expected, root = entry["expected"], result.root_cause.category
    if taxonomy.categories()[expected].kind == "symptom":
        return expected in [f.category for f in result.findings] and root != expected, root
    return root == expected, root
