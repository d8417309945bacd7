"""Every failure text AWS documents (tests/corpus/documented_failures.json) and public user reports with a clear
resolution (tests/corpus/user_reports.json), each placed where ECS shows it, must classify to its taxonomy id."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis import taxonomy
from tests.corpus.documented import DOCUMENTED, REPORTS, WHERE, classified, text


@pytest.mark.parametrize("entry", DOCUMENTED, ids=[f"{i}-{e['expected']}" for i, e in enumerate(DOCUMENTED)])
def test_documented_text_classifies_to_its_cause(entry):
    ok, found = classified(entry)
    assert ok, f"{text(entry)!r} -> {found}, expected {entry['expected']}"


@pytest.mark.parametrize("entry", REPORTS, ids=[f"{i}-{e['expected']}" for i, e in enumerate(REPORTS)])
def test_user_report_classifies_to_its_resolution(entry):
    ok, found = classified(entry)
    assert ok, f"{text(entry)!r} -> {found}, expected {entry['expected']}"


def test_corpus_entries_are_well_formed():
    ids = set(taxonomy.categories())
    for entry in DOCUMENTED + REPORTS:
        assert entry["expected"] in ids
        assert entry["source"].startswith("https://")
        assert entry["where"] in WHERE
    assert len({(e["where"], text(e)) for e in DOCUMENTED}) == len(DOCUMENTED)
