"""Fuzzing the intake: the four EventBridge event kinds, mutated (missing fields, wrong types, huge strings,
unicode, nested junk), and arbitrary JSON. Whatever arrives, the intake Lambda answers normally: a poison event
is dropped with a logged reason (so neither EventBridge nor Lambda retries it), and an event that does open (or
join) an incident names a valid ECS cluster and service and a valid execution name.
"""
from __future__ import annotations

import copy
import io
import json
import uuid
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from agents.aws_ecs_service.domain.incident_keys import incident_id_for, is_incident_id
from agents.aws_ecs_service.incidents import events as ev
from agents.aws_ecs_service.incidents.intake import TEXT_LIMIT, Dropped, IncidentRequest, Normaliser
from tests.e2e.serverless_world import LambdaContextStub
from tests.unit.test_intake import (
    ACCOUNT,
    METRIC_MATH,
    SINGLE_METRIC,
    alarm,
    deployment_failed,
    service_action,
    task_stopped,
)

ECS_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
BASES = [deployment_failed(), service_action(), service_action("WARN", "SERVICE_TASK_START_IMPAIRED"),
         task_stopped(), task_stopped(stop_code="ServiceSchedulerInitiated", reason="Task failed ELB health checks"),
         alarm({"metrics": SINGLE_METRIC}), alarm({"metrics": METRIC_MATH}),
         alarm({"alarmRule": "ALARM(a) OR ALARM(b)"}, tags={"ClusterName": "prod", "ServiceName": "checkout"})]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
           | st.text(st.characters(codec="utf-8"), max_size=40))
huge = st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "é", "🚀", "\u202e", "/", "service/", ":", "\x00"]),
                 st.integers(1_000, 120_000))
junk = st.recursive(scalars | huge, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
# names ECS would never accept, where the intake reads cluster and service names
odd_names = st.sampled_from(["", "a" * 300, "prod/api", "ünïcødé", "api\nSYSTEM", "../../etc", "a b"]) | huge


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _mutate(event: dict[str, Any], path: tuple, how: str, value: Any) -> None:
    parent = event
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "nest":
        parent[last] = [parent[last], value]
    else:
        parent[last] = value


@st.composite
def mutated_events(draw) -> dict[str, Any]:
    """One of the four kinds, with a few fields deleted, replaced by junk, or wrapped in junk."""
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _mutate(event, path, draw(st.sampled_from(["delete", "replace", "nest"])), draw(junk))
    return event


@st.composite
def named_events(draw) -> dict[str, Any]:
    """Well-formed events whose cluster/service names are junk (ARNs, groups, dimensions, tags)."""
    kind = draw(st.sampled_from(["deployment", "task", "alarm"]))
    cluster, service = draw(odd_names | st.just("prod")), draw(odd_names)
    if kind == "deployment":
        return deployment_failed(resource=f"arn:aws:ecs:us-west-2:{ACCOUNT}:service/{cluster}/{service}")
    if kind == "task":
        return task_stopped(group=f"service:{service}", cluster_arn=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/{cluster}")
    return alarm({"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ECS", "name": "CPUUtilization",
                                                                      "dimensions": {"ClusterName": cluster,
                                                                                     "ServiceName": service}}}}]})


def check(found: IncidentRequest | Dropped) -> None:
    assert isinstance(found, IncidentRequest | Dropped)
    if isinstance(found, Dropped):
        assert found.reason and len(found.reason) <= TEXT_LIMIT
        return
    assert set(found.cluster) <= ECS_NAME_CHARS and set(found.service) <= ECS_NAME_CHARS
    assert 0 < len(found.cluster) <= 255 and 0 < len(found.service) <= 255
    opened = incident_id_for(found.target, found.trigger.at, found.trigger.event_id)
    assert is_incident_id(opened) and len(opened) <= 80
    assert len(found.trigger.summary) <= TEXT_LIMIT
    json.dumps(found.model_dump())  # the execution input serialises


@pytest.mark.attack("intake fuzz")
@FUZZ
@given(mutated_events())
def test_mutated_events_of_the_four_kinds_are_normalised_or_dropped(event):
    check(Normaliser().normalise(event))
    check(Normaliser(["prod", "default"]).normalise(event))


@pytest.mark.attack("intake fuzz")
@FUZZ
@given(named_events())
def test_junk_names_never_reach_an_execution(event):
    found = Normaliser().normalise(event)
    check(found)


@pytest.mark.attack("intake fuzz")
@FUZZ
@given(junk | st.dictionaries(st.sampled_from(["detail-type", "source", "detail", "id", "time", "region",
                                               "resources", "account", "version"]), junk, max_size=9))
def test_arbitrary_json_is_dropped_with_a_reason(event):
    found = Normaliser().normalise(event)
    check(found)
    kind = event.get("detail-type") if isinstance(event, dict) else None
    if not (isinstance(kind, str) and kind in ev.MODELS):  # not an event kind we act on: always dropped
        assert isinstance(found, Dropped)


@pytest.fixture
def intake_lambda(aws_env, monkeypatch, pg_schema_url):
    """functions.intake.handler against moto's Step Functions and a migrated PostgreSQL, its log lines captured."""
    import psycopg

    import functions.intake as intake
    from agents.aws_ecs_service.incidents import database
    from agents.aws_ecs_service.incidents.schema import migrate

    with psycopg.connect(pg_schema_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        migrate(conn)
    monkeypatch.setenv("DATABASE_URL", pg_schema_url)
    monkeypatch.setattr(database, "_cached", None)
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="incidents", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}),
        )["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        monkeypatch.setattr(intake, "_intake", None)
        logs = io.StringIO()
        # a service name of its own: Powertools keeps one handler per named logger
        monkeypatch.setattr(intake, "logger", Logger(service=f"intake-{uuid.uuid4().hex[:8]}", stream=logs))
        yield intake, sfn, arn, logs
    if database._cached is not None:
        database._cached.close()


@pytest.mark.attack("intake fuzz")
@FUZZ
@given(st.one_of(mutated_events(), named_events(), junk))
def test_the_intake_lambda_never_raises_and_logs_every_drop(intake_lambda, event):
    intake, sfn, arn, logs = intake_lambda
    logs.seek(0)
    logs.truncate()
    outcome = intake.handler(event, LambdaContextStub("intake"))  # returning normally: nothing retries it
    assert outcome["outcome"] in ("dropped", "started", "duplicate", "joined")
    # one JSON record per "\n": str.splitlines() would also cut a record at U+2028 and the like inside a field
    lines = [json.loads(line) for line in logs.getvalue().split("\n") if line]
    if outcome["outcome"] == "dropped":
        [line] = lines
        assert line["message"] == "event dropped" and line["reason"] == outcome["reason"]
    else:
        assert is_incident_id(outcome["incident_id"]) and lines[-1]["correlation_id"] == outcome["incident_id"]
        names = {e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
        assert outcome["incident_id"] in names  # opened or joined: the incident has its execution


@pytest.mark.attack("intake fuzz")
def test_a_failing_normaliser_drops_the_event_instead_of_raising(intake_lambda, monkeypatch):
    intake, _, _, logs = intake_lambda

    def broken(self, raw):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(Normaliser, "normalise", broken)
    outcome = intake.handler(deployment_failed(), LambdaContextStub("intake"))
    assert outcome["outcome"] == "dropped" and outcome["reason"] == "unreadable event (RecursionError)"
    assert "event dropped" in logs.getvalue()
