"""One record per cause (taxonomy.json): the classifier, the planner and the contextualizer all read it."""
from __future__ import annotations

import json

from agents.aws_ecs_service.conversation import contextualizer
from agents.aws_ecs_service.diagnosis import taxonomy
from agents.aws_ecs_service.diagnosis.result import RootCause, TriageResult, Window
from agents.aws_ecs_service.diagnosis.rules import RULES
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.operations.planner import build_plans
from tests.conftest import SHARED
from tests.unit.evidence_builder import NOW, failing_deploy

SHARED_TAXONOMY = SHARED / "taxonomy.json"


def test_every_record_says_what_fixes_its_cause():
    for record in taxonomy.categories().values():
        assert record.title and record.remediation and record.manual_steps, record.id
        assert record.plan in ("rollback", "scale-out", "restore-capacity", "none")
        assert set(record.symptoms) <= set(taxonomy.load().symptoms), record.id
        assert all(rule.id for rule in record.rules)


def test_the_shared_taxonomy_ids_keep_their_kind():
    shared = json.loads(SHARED_TAXONOMY.read_text())["categories"]
    for category in shared:
        assert taxonomy.categories()[category["id"]].kind == category["kind"]


def test_rules_belong_to_the_record_they_are_written_in():
    for rule in RULES:
        assert rule.id in {r.id for r in taxonomy.record(rule.cause).rules}
        assert rule.remediation  # the rule's own, or its cause's


def _triage(cause: str) -> TriageResult:
    return TriageResult(target=ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api"),
                        window=Window(start=NOW.isoformat(), end=NOW.isoformat()), status="degraded",
                        root_cause=RootCause(category=cause, confidence=0.9, summary=f"{cause} found"))


def test_the_planner_follows_the_records_plan_kind():
    evidence = failing_deploy(new=12, old=11).build()
    rollback = build_plans(_triage("sidecar-failed"), evidence, "inc-1")
    assert rollback[0].option == "rollback"
    (manual,) = build_plans(_triage("vpc-dns-resolution"), evidence, "inc-1")
    assert manual.steps == [] and manual.manual_steps == [
        s.format() for s in taxonomy.record("vpc-dns-resolution").manual_steps]


def test_the_contextualizer_reads_symptom_words_from_the_records():
    found = contextualizer.extract("prod/api won't start, stuck in pending since the 3 pm deploy")
    assert "not starting" in found["symptoms"]
    pointing = {c for c in taxonomy.cause_ids() if "not starting" in taxonomy.record(c).symptoms}
    assert pointing <= set(found["likely_categories"])
    assert "agent-disconnected" in pointing
