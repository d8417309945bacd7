"""`ecs-agent sweep` and the fresh reads behind the follow-ups, against moto: exact services only (a same-named
service in another region is never swept), ranked, bounded in services and in AWS calls."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.interfaces.cli import main
from agents.aws_ecs_service.operations.service_now import health_now, revision_changes
from agents.aws_ecs_service.operations.sweep import cluster_jobs, sweep
from tests.moto_ecs import EcsService


@pytest.fixture
def world(aws_env):
    """prod/api and prod/billing (scaled to zero) in us-east-1; another prod/api in us-west-2."""
    with mock_aws():
        session = boto3.session.Session()
        east = EcsService(session, "us-east-1")
        east.ecs.create_service(cluster="prod", serviceName="billing", taskDefinition="billing", desiredCount=0)
        yield east, EcsService(session, "us-west-2")


def test_sweep_cli_checks_every_service_of_the_cluster_in_its_region_only(world, capsys):
    east, west = world
    assert main(["sweep", "--cluster", "prod", "--region", "us-east-1", "--format", "json"]) == 0
    swept = json.loads(capsys.readouterr().out)
    arns = [s["service_arn"] for s in swept["services"]]
    assert sorted(arns) == sorted([east.target.service_arn,
                                   "arn:aws:ecs:us-east-1:123456789012:service/prod/billing"])
    assert west.target.service_arn not in arns
    assert {s["region"] for s in swept["services"]} == {"us-east-1"} and swept["listed"] == 2
    assert all(s["status"] == "down" for s in swept["services"])  # api runs 0 of 4, billing is scaled to zero
    assert swept["api_calls"] == sum(s["api_calls"] for s in swept["services"]) > 0


def test_sweep_text_ranks_the_worst_first_and_names_what_it_did_not_check(world, capsys):
    assert main(["sweep", "--cluster", "prod", "--region", "us-east-1", "--max-services", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Swept prod (us-east-1, account 123456789012): 1 of 2 services checked, 1 with a problem")
    assert "  1. prod/api is down:" in text
    assert "not checked: prod/billing (over the sweep's 1 services)" in text


def test_the_call_budget_stops_new_triages(world):
    east, _west = world
    ctx = AwsContext(region="us-east-1")
    result = sweep(cluster_jobs(ctx, "prod"), workers=1, max_calls=1)
    checked, unchecked = result.services[0], result.services[1]
    assert checked.status == "down" and checked.api_calls > 1
    assert unchecked.status == "not checked" and unchecked.summary == "the sweep's budget of 1 AWS calls was spent"


def test_an_unknown_cluster_is_named_not_swept_as_empty(world, capsys):
    assert main(["sweep", "--cluster", "nope", "--region", "us-east-1"]) == 2
    assert "cluster 'nope' not found in us-east-1" in capsys.readouterr().err


def test_health_now_and_what_changed_read_the_service_as_it_is(world):
    east, _west = world
    ctx = AwsContext(region="us-east-1")
    now = health_now(ctx, "prod", "api")
    assert not now.healthy and now.verdict == "not yet: 0 of 4 tasks running on api:3"
    assert now.service_arn == east.target.service_arn

    diff = revision_changes(ctx, "prod", "api")
    assert (diff.before, diff.after) == ("api:2", "api:3")
    assert diff.changes == ["container app: image api:v2 -> api:v3"]
    named = revision_changes(ctx, "prod", "api", "what changed between api:1 and api:3?")
    assert (named.before, named.after, named.changes) == ("api:1", "api:3", ["container app: image api:v1 -> api:v3"])
