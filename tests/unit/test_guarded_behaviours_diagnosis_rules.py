"""The rule table's look-ups (rules.py), what the analyzers share (analyzers/base.py) and the classifier's result
(classifier.py), through their public functions.

Each test is named for the behaviour it protects.
"""
from __future__ import annotations

import re

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.base import (
    Signal,
    Tier,
    bounded,
    dedupe,
    lower,
    most_severe,
    signal_hypotheses,
    summarise,
)
from agents.aws_ecs_service.diagnosis.classifier import classify
from agents.aws_ecs_service.diagnosis.rules import (
    RULES,
    RULES_BY_ID,
    Rule,
    compile_rules,
    first_match,
    primary_rule,
    rules_for,
)
from agents.aws_ecs_service.diagnosis.taxonomy import Taxonomy, record
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import NOW, EvidenceBuilder, ago


def a_view(service: str = "api"):
    b = EvidenceBuilder(service=service)
    b.deployment(31)
    return read_view(b.build())


# ---- the rule table --------------------------------------------------------------------------------------------------

def test_rules_are_ordered_by_priority_and_each_field_has_its_own_in_that_order():
    assert [r.priority for r in RULES] == sorted(r.priority for r in RULES)
    assert [r.id for r in rules_for("stop_code")] == ["F35", "F36b", "F37c", "F37d", "F01b"]
    assert [r.id for r in rules_for("metric")] == ["M01", "M02"]
    assert rules_for("no-such-field") == ()


def test_rules_match_whatever_the_case_and_the_quotes_and_spaces():
    assert RULES_BY_ID["F35b"].search("YOUR SPOT   TASK was interrupted")
    assert RULES_BY_ID["F15"].search("ResourceInitializationError: can\u2019t find the specified secret")
    assert not RULES_BY_ID["F35b"].search(None)


def test_a_signal_rule_without_its_own_remediation_takes_its_causes():
    assert RULES_BY_ID["F04"].remediation == record("app-crash").remediation != RULES_BY_ID["F01"].remediation
    assert RULES_BY_ID["F01"].refine_with_logs[-1] == "app-crash" and RULES_BY_ID["F22"].refine_with_logs == (
        "dependency-unreachable",)
    assert RULES_BY_ID["F35"].refine_with_logs == ()


def test_a_causes_primary_rule_is_its_highest_priority_one():
    assert primary_rule("app-crash").id == "F04"
    assert primary_rule("image-not-found").id == "F07"
    assert primary_rule("cpu-saturation").id == "M01"


@pytest.mark.parametrize("where, text, rule", [
    ("stopped_reason", "Your Spot Task was interrupted.", "F35b"),
    ("stopped_reason", "Essential container in task exited", "F01b"),
    ("stop_code", "EssentialContainerExited", "F01b"),
    ("exit_code", "137", "F03"),
    ("exit_code", "1", "F01"),
    ("service_event", "was unable to place a task. Reason: Capacity is unavailable at this time.", "F26"),
])
def test_the_first_matching_rule_of_a_field_in_priority_order_wins(where, text, rule):
    found, match = first_match(where, text)
    assert found.id == rule and match.group(0)


@pytest.mark.parametrize("where, text", [("stopped_reason", ""), ("stopped_reason", None), ("stopped_reason", "   "),
                                         ("exit_code", "OK"), ("no-such-field", "137")])
def test_no_rule_matches_an_empty_text_or_a_field_without_rules(where, text):
    assert first_match(where, text) is None


# ---- what the analyzers share ------------------------------------------------------------------------------------------

def test_a_summary_fills_counts_the_service_and_exit_codes_and_speaks_of_tasks_without_a_total():
    view = a_view(service="billing")
    f01, f30 = RULES_BY_ID["F01"], RULES_BY_ID["F30"]
    assert summarise(f01, view, count=2, total=5, exit_codes="1/2") == \
        "2 of 5 stopped tasks exited on their own (essential container exit code 1/2)."
    assert summarise(f01, view, count=2) == "Tasks exited on their own (essential container exit code ?)."
    assert summarise(f30, view, count=2) == f30.summary


def test_signal_hypotheses_one_per_cause_most_signalled_first_confidence_growing_with_up_to_three_signals():
    view = a_view()
    capacity, throttled, quota = RULES_BY_ID["F26"], RULES_BY_ID["F34b"], RULES_BY_ID["F27"]
    signals = [Signal(quota, "quota 1", NOW), Signal(capacity, "cap 1"), Signal(capacity, "cap 2"),
               Signal(capacity, "cap 1"), Signal(capacity, "cap 3"), Signal(capacity, "cap 4"),
               Signal(capacity, "cap 5"), Signal(capacity, "cap 6"), Signal(throttled, "thr 1"),
               Signal(throttled, "thr 2")]
    cap, thr, quo = signal_hypotheses(signals, view)
    assert [h.cause for h in (cap, thr, quo)] == ["capacity-unavailable", "ecs-api-throttled", "quota-exceeded"]
    assert cap.confidence == pytest.approx(0.85 * (0.8 + 3 * 0.05))   # 7 signals count as 3
    assert thr.confidence == pytest.approx(0.85 * (0.8 + 2 * 0.05))
    assert quo.confidence == pytest.approx(0.9 * (0.8 + 1 * 0.05))
    assert cap.evidence == ["cap 1", "cap 2", "cap 3", "cap 4", "cap 5"]   # distinct, at most five
    assert (cap.tier, thr.tier, quo.tier) == (Tier.TRANSIENT, Tier.TRANSIENT, Tier.FAILURE)
    assert (cap.rule, cap.severity, len(cap.signals)) == (capacity, capacity.severity, 7)
    assert signal_hypotheses([], view) == []


def test_signal_hypotheses_of_as_many_signals_rank_by_the_rules_priority_and_take_the_causes_first_rule():
    view = a_view()
    f07b, f07, f35b = RULES_BY_ID["F07b"], RULES_BY_ID["F07"], RULES_BY_ID["F35b"]
    found = signal_hypotheses([Signal(f07b, "a"), Signal(f07, "b"), Signal(f35b, "c"), Signal(f35b, "d")], view,
                              unit="images")
    assert [(h.cause, h.rule.id) for h in found] == [("spot-interruption", "F35b"), ("image-not-found", "F07")]
    # a per-task summary without a task total says how many of what it counted
    assert found[0].summary == "Tasks were Spot tasks interrupted by AWS. (2 images)"


@pytest.mark.parametrize("severities, worst", [(["low", "critical", "info"], "critical"), (["info", "medium"], "medium"),
                                               (["high"], "high")])
def test_the_most_severe_of_severities(severities, worst):
    assert most_severe(severities) == worst


@pytest.mark.parametrize("severity, lowered", [("critical", "high"), ("high", "medium"), ("medium", "low"),
                                               ("low", "info"), ("info", "info")])
def test_a_severity_lowered_is_the_next_one_down_and_info_stays_info(severity, lowered):
    assert lower(severity) == lowered


@pytest.mark.parametrize("value, kept", [(0.0, 0.05), (0.05, 0.05), (0.5, 0.5), (0.123, 0.12), (0.99, 0.99),
                                         (1.2, 0.99), (-1, 0.05)])
def test_a_confidence_is_kept_between_005_and_099_to_two_places(value, kept):
    assert bounded(value) == kept


def test_dedupe_keeps_the_first_of_each_in_order():
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


# ---- the classifier's result -----------------------------------------------------------------------------------------

def test_the_result_names_the_service_the_window_the_status_and_the_root_causes_finding():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for age in (20, 15, 10):
        b.stopped(31, exit_code=1, age=age)
    r = classify(b.build())
    assert (r.target.region, r.target.cluster, r.target.service) == ("us-east-1", "prod", "api")
    assert (r.window.start, r.window.end) == (ago(120), NOW.isoformat())
    assert r.status == "degraded"
    root = r.findings[0]
    assert (r.root_cause.category, r.root_cause.confidence, r.root_cause.summary, r.root_cause.evidence) == (
        root.category, root.confidence, root.summary, root.evidence)


def test_a_result_without_a_window_says_so_with_empty_times():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    evidence = b.build()
    evidence["window"] = None
    r = classify(evidence)
    assert (r.window.start, r.window.end) == ("", "") and r.root_cause.category == "healthy"
    evidence["window"] = {"start": None, "end": ago(5)}
    assert (classify(evidence).window.start, classify(evidence).window.end) == ("", ago(5))


# ---- compiling the rule table from cause records ------------------------------------------------------------------------

def _taxonomy() -> Taxonomy:
    def cause(cid: str, remediation: str, rules: list[dict]) -> dict:
        return {"id": cid, "kind": "cause", "title": cid, "signals": "s", "action": "a", "remediation": remediation,
                "plan": "none", "manual_steps": [], "rules": rules}

    return Taxonomy.model_validate({
        "schema": "test", "symptoms": {}, "log_refinements": {"exit": ["missing-config", "app-crash"]},
        "categories": [
            cause("app-crash", "fix the app", [
                {"id": "X2", "where": ["exit_code"], "priority": 20, "pattern": "^1$", "severity": "critical",
                 "summary": "crashed", "refine_with_logs": "exit", "confidence": 0.7},
                {"id": "X1", "where": ["stopped_reason", "log"], "priority": 10, "pattern": "Boom", "severity": "high",
                 "summary": "boom", "remediation": "read the boom", "case_sensitive": True, "benign": True,
                 "transient": True, "wrapper": True, "ambiguous": True, "threshold": 90.0}]),
            cause("spot", "nothing", [
                {"id": "X0", "where": ["stop_code"], "priority": 5, "pattern": "^Spot$", "severity": "medium",
                 "summary": "spot"}]),
        ]})


def test_the_rule_table_compiles_every_field_of_its_cause_records_in_priority_order():
    x0, x1, x2 = compile_rules(_taxonomy())
    assert [r.id for r in (x0, x1, x2)] == ["X0", "X1", "X2"]
    assert x2 == Rule(id="X2", cause="app-crash", where=("exit_code",), pattern=re.compile("^1$", re.IGNORECASE),
                      priority=20, severity="critical", summary="crashed", remediation="fix the app",
                      confidence=0.7, refine_with_logs=("missing-config", "app-crash"))
    assert x1 == Rule(id="X1", cause="app-crash", where=("stopped_reason", "log"), pattern=re.compile("Boom"),
                      priority=10, severity="high", summary="boom", remediation="read the boom", benign=True,
                      transient=True, wrapper=True, ambiguous=True, confidence=0.85, threshold=90.0)
    assert (x0.cause, x0.remediation, x0.refine_with_logs, x0.threshold) == ("spot", "nothing", (), None)


def test_a_case_sensitive_rule_record_matches_only_its_own_case_and_the_others_any_case():
    x0, x1, _ = compile_rules(_taxonomy())
    assert x1.search("Boom!") and not x1.search("BOOM!")
    assert x0.search("SPOT") and x0.search("spot")


def test_signal_summaries_count_their_signals_and_a_per_task_summary_says_service_events_by_default():
    view = a_view()
    capacity, logger = RULES_BY_ID["F26"], RULES_BY_ID["F16"]
    cap, log = signal_hypotheses([Signal(capacity, f"c{n}") for n in range(3)] + [Signal(logger, "l")], view)
    assert cap.summary == "AWS has no capacity for the tasks right now (3 signals)."
    assert log.summary == "Tasks could not start their log driver (awslogs configuration). (1 service events)"


def test_a_summary_names_the_service_and_leaves_a_placeholder_it_does_not_know_empty():
    rule = Rule(id="T1", cause="app-crash", where=("log",), pattern=re.compile("x"), priority=1, severity="high",
                summary="{service}: {count} of {total} stopped tasks failed{unknown}.", remediation="r")
    assert summarise(rule, a_view(service="billing"), count=2, total=3) == "billing: 2 of 3 stopped tasks failed."
    assert summarise(rule, a_view(service="billing"), count=2) == "billing: Tasks failed."
