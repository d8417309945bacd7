"""Which listed service a sentence means: discovery/matching.py, and the contextualizer's use of it."""
from __future__ import annotations

from agents.aws_ecs_service.conversation import contextualizer as ctxr
from agents.aws_ecs_service.discovery.interface import ServiceRecord
from agents.aws_ecs_service.discovery.matching import STRONG_SCORE, match_services, services_mentioned


def _record(cluster: str, name: str, environment: str | None = None, target: str = "default") -> ServiceRecord:
    arn = f"arn:aws:ecs:us-east-1:123456789012:service/{cluster}/{name}"
    return ServiceRecord(id=arn, arn=arn, name=name, cluster=cluster, region="us-east-1",
                         account_id="123456789012", environment=environment, target=target)


RECORDS = [_record("prod", "api"), _record("staging", "api"), _record("prod", "checkout-api"),
           _record("shop", "orders", environment="Production"), _record("prod", "app")]


def _names(records: list[ServiceRecord]) -> list[str]:
    return [f"{r.cluster}/{r.name}" for r in records]


def test_environment_comes_from_the_tag_else_the_clusters_name():
    assert _names(match_services("api", RECORDS, environment="staging")) == ["staging/api"]
    assert _names(match_services("", RECORDS, environment="prd")) == [
        "prod/api", "prod/app", "prod/checkout-api", "shop/orders"]


def test_strong_matches_hide_look_alikes_and_min_score_drops_them_altogether():
    assert _names(match_services("api", RECORDS, cluster="prod")) == ["prod/api", "prod/checkout-api"]  # not app
    assert _names(match_services("apo", RECORDS, cluster="prod")) == ["prod/api", "prod/app"]  # only look-alikes
    assert match_services("apo", RECORDS, cluster="prod", min_score=STRONG_SCORE) == []


def test_services_mentioned_takes_whole_names_and_the_longest_one():
    assert _names(services_mentioned("show me the last errors of orders", RECORDS)) == ["shop/orders"]
    assert _names(services_mentioned("is checkout-api down?", RECORDS)) == ["prod/checkout-api"]  # not api
    assert _names(services_mentioned("api in production keeps timing out", RECORDS)) == ["prod/api"]
    assert services_mentioned("check it", RECORDS) == []  # "check" is not checkout-api


def test_contextualizer_resolves_one_fit_and_offers_look_alikes_without_picking():
    context, candidates = ctxr.resolve_target({"environment": "production"}, "my api in production is slow",
                                              lambda: RECORDS)
    assert candidates == [] and (context["cluster"], context["service"], context["target"]) == ("prod", "api",
                                                                                                 "default")
    assert ctxr.resolved_record(context) == RECORDS[0].model_copy(update={"arn": None})

    context, candidates = ctxr.resolve_target({"service": "apo", "environment": "staging"}, "apo service in staging",
                                              lambda: RECORDS)
    assert "service_id" not in context and [c["service"] for c in candidates] == ["api"]
    assert ctxr.clarifying_question(candidates, context) == "Did you mean staging/api?"
    assert ctxr.pick_candidate("yes", candidates) == candidates[0]


def test_a_new_target_drops_the_previous_services_ids():
    resolved = ctxr.resolved_to({"intent": "diagnose"}, ctxr.candidate(RECORDS[0]))
    assert ctxr.merge(resolved, {"symptoms": ["slow"]})["service_id"] == RECORDS[0].id
    moved = ctxr.merge(resolved, {"service": "worker"})
    assert not set(ctxr.RESOLVED_KEYS) & set(moved) and moved["service"] == "worker"
