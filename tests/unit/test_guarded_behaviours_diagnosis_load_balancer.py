"""Load balancer target health (analyzers/load_balancer.py) through its public functions: the signals of targets
that are not healthy, the target groups' health checks as evidence, and when unhealthy targets are only a warning.
"""
from __future__ import annotations

from typing import Any

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier
from agents.aws_ecs_service.diagnosis.analyzers.load_balancer import (
    LoadBalancerAnalyzer,
    health_check_lines,
    some_targets_healthy,
    target_health_signals,
)
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import ACCOUNT, REGION, EvidenceBuilder, failing_deploy

WEB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web-tg/73e2"
ADMIN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/admin-tg/11aa"
MISMATCH = ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]")
WEB_CHECK = "target group web-tg: health check HTTP port traffic-port path /health, success codes 200"


def group(arn: str = WEB, name: str | None = "web-tg", **settings: Any) -> dict[str, Any]:
    g = {"TargetGroupArn": arn, "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
         "HealthCheckPath": "/health", "Matcher": {"HttpCode": "200"}, **settings}
    if name:
        g["TargetGroupName"] = name
    return g


def target(state: str | None, reason: str | None = None, description: str | None = None, ip: str = "10.0.1.15",
           port: int | None = 8080) -> dict[str, Any]:
    health = {key: value for key, value in (("State", state), ("Reason", reason), ("Description", description))
              if value is not None}
    where = {"Id": ip} | ({"Port": port} if port is not None else {})
    return {"Target": where, "TargetHealth": health}


def balancers(health: dict[str, list[dict[str, Any]]], groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"target_groups": [group()] if groups is None else groups, "target_health": health}


def document(lb: dict[str, Any] | None, b: EvidenceBuilder | None = None, service_lbs: list[dict[str, Any]] | None = None,
             network_mode: str | None = None) -> dict[str, Any]:
    doc = (b or steady()).build()
    if lb is not None:
        doc["load_balancers"] = lb
    if service_lbs is not None:
        doc["service"]["loadBalancers"] = service_lbs
    if network_mode:
        doc["task_definitions"][doc["current_task_definition"]]["networkMode"] = network_mode
    return doc


def steady(running: int | None = None) -> EvidenceBuilder:
    b = EvidenceBuilder(desired=2, running=running)
    b.deployment(31)
    return b


def signals(lb: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(s.rule.id, s.line) for s in target_health_signals(read_view(document(lb)))]


# ---- target_health_signals ------------------------------------------------------------------------------------

def test_an_unhealthy_target_with_a_health_check_reason_is_a_signal_naming_the_group_and_target():
    assert signals(balancers({WEB: [target(*MISMATCH)]})) == [
        ("E01", "target group web-tg: target 10.0.1.15:8080 unhealthy Target.ResponseCodeMismatch Health checks "
                "failed with these codes: [404]")]


@pytest.mark.parametrize("health", [
    target("healthy"),
    target("healthy", "Target.Timeout", "Request timed out"),  # a healthy target is skipped whatever it says
    target("initial", "Elb.RegistrationInProgress", "Target registration is in progress"),
    target("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"),
    target(None, "Target.Timeout", "Request timed out"),
    {"Target": {"Id": "10.0.1.15"}},
])
def test_a_target_that_is_healthy_or_only_in_transition_is_no_signal(health):
    assert signals(balancers({WEB: [health]})) == []


def test_a_target_without_reason_or_description_still_reads_as_its_state_and_code():
    assert signals(balancers({WEB: [target("unhealthy", "Target.Timeout")]})) == \
        [("E01", "target group web-tg: target 10.0.1.15:8080 unhealthy Target.Timeout")]
    assert signals(balancers({WEB: [target("unused", "Target.NotInUse", port=None, ip="10.0.1.9")]})) == \
        [("E01", "target group web-tg: target 10.0.1.9:? unused Target.NotInUse")]
    no_target = {"TargetHealth": {"State": "unhealthy", "Reason": "Target.Timeout"}}
    assert signals(balancers({WEB: [no_target]})) == [("E01", "target group web-tg: target ?:? unhealthy Target.Timeout")]


def test_a_group_not_described_is_named_by_its_arn():
    assert signals(balancers({WEB: [target("unhealthy", "Target.Timeout")]}, groups=[])) == \
        [("E01", "target group 73e2: target 10.0.1.15:8080 unhealthy Target.Timeout")]
    nameless = [group(name=None)]
    assert signals(balancers({WEB: [target("unhealthy", "Target.Timeout")]}, groups=nameless)) == \
        [("E01", "target group 73e2: target 10.0.1.15:8080 unhealthy Target.Timeout")]


def test_a_long_description_is_clipped_to_200_characters():
    ((_, line),) = signals(balancers({WEB: [target("unhealthy", "Target.Timeout", "x" * 400)]}))
    text = line.removeprefix("target group web-tg: target 10.0.1.15:8080 ")
    assert len(text) == 200 and text.startswith("unhealthy Target.Timeout xxx") and text.endswith("x…")


def test_every_unhealthy_target_of_every_group_is_a_signal_groups_in_arn_order():
    health = {WEB: [target("unhealthy", "Target.Timeout"), target("healthy", ip="10.0.1.16"),
                    target("unhealthy", "Target.FailedHealthChecks", ip="10.0.1.17")],
              ADMIN: [target("unhealthy", "Target.Timeout", ip="10.0.2.5")]}
    got = signals(balancers(health, groups=[group(), group(ADMIN, "admin-tg")]))
    assert [line for _, line in got] == [
        "target group admin-tg: target 10.0.2.5:8080 unhealthy Target.Timeout",
        "target group web-tg: target 10.0.1.15:8080 unhealthy Target.Timeout",
        "target group web-tg: target 10.0.1.17:8080 unhealthy Target.FailedHealthChecks"]


@pytest.mark.parametrize("lb", [None, {}, {"target_groups": None, "target_health": None}])
def test_no_load_balancer_read_is_no_signal(lb):
    assert signals(lb) == []


# ---- some_targets_healthy --------------------------------------------------------------------------------------

@pytest.mark.parametrize("health,expected", [
    ({WEB: [target("unhealthy", "Target.Timeout"), target("healthy")]}, True),
    ({WEB: [target("unhealthy", "Target.Timeout")], ADMIN: [target("healthy")]}, True),
    ({WEB: [target("unhealthy", "Target.Timeout"), target("initial")]}, False),
    ({WEB: [{"Target": {"Id": "10.0.1.15"}}]}, False),
    ({WEB: []}, False),
    ({}, False),
])
def test_some_targets_healthy_means_one_target_anywhere_reports_healthy(health, expected):
    assert some_targets_healthy(read_view(document(balancers(health)))) is expected
    assert some_targets_healthy(read_view(document(None))) is False


# ---- health_check_lines ----------------------------------------------------------------------------------------

def checks(groups: list[dict[str, Any]], service_lbs: list[dict[str, Any]] | None = None,
           network_mode: str | None = "awsvpc", b: EvidenceBuilder | None = None) -> list[str]:
    return health_check_lines(read_view(document(balancers({}, groups), b, service_lbs, network_mode)))


WEB_LB = [{"targetGroupArn": WEB, "containerName": "api", "containerPort": 8080}]


def test_each_target_group_says_what_it_checks():
    assert checks([group(), group(ADMIN, "admin-tg", HealthCheckProtocol="HTTPS", HealthCheckPort="8443",
                                  HealthCheckPath="/admin/ping", Matcher={"HttpCode": "200-299"})]) == \
        [WEB_CHECK, "target group admin-tg: health check HTTPS port 8443 path /admin/ping, success codes 200-299"]


def test_a_check_with_settings_not_read_says_so():
    bare = {"TargetGroupArn": WEB}
    assert checks([bare]) == ["target group ?: health check ? port ? path -, success codes ?"]
    assert checks([group(Matcher={"GrpcCode": "12"}, HealthCheckProtocol="HTTP")]) == \
        ["target group web-tg: health check HTTP port traffic-port path /health, success codes 12"]
    assert checks([group(Matcher={}, HealthCheckPath="")]) == \
        ["target group web-tg: health check HTTP port traffic-port path -, success codes ?"]


def test_an_explicit_check_port_other_than_the_containers_is_pointed_out_on_awsvpc():
    assert checks([group(HealthCheckPort="9000")], WEB_LB) == [
        "target group web-tg: health check HTTP port 9000 path /health, success codes 200; the container api "
        "listens on 8080, not 9000"]
    unnamed = [{"targetGroupArn": WEB, "containerPort": 8080}]
    assert checks([group(HealthCheckPort="9000")], unnamed)[0].endswith("; the container ? listens on 8080, not 9000")


@pytest.mark.parametrize("port,service_lbs,mode", [
    ("8080", WEB_LB, "awsvpc"),            # the check port is the container's
    ("traffic-port", WEB_LB, "awsvpc"),    # the target's own port
    (None, WEB_LB, "awsvpc"),              # not read: the default is traffic-port
    ("9000", [{"targetGroupArn": WEB, "containerName": "api"}], "awsvpc"),   # no container port to compare
    ("9000", [{"targetGroupArn": ADMIN, "containerName": "api", "containerPort": 8080}], "awsvpc"),  # another group
    ("9000", None, "awsvpc"),
    ("9000", WEB_LB, "bridge"),            # with bridge the host port is the target's, any check port may be right
    ("9000", WEB_LB, None),
])
def test_a_check_port_that_may_well_be_right_is_not_pointed_out(port, service_lbs, mode):
    settings = {"HealthCheckPort": port} if port else {}
    g = group(**settings)
    if port is None:
        del g["HealthCheckPort"]
    assert not any("listens on" in line for line in checks([g], service_lbs, mode))


def test_a_service_with_an_awsvpc_network_configuration_counts_as_awsvpc():
    b = steady()
    doc = document(balancers({}, [group(HealthCheckPort="9000")]), b, WEB_LB)
    doc["service"]["networkConfiguration"] = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    assert health_check_lines(read_view(doc))[0].endswith("listens on 8080, not 9000")
    doc["service"]["networkConfiguration"] = {"awsvpcConfiguration": {}}
    assert "listens on" not in health_check_lines(read_view(doc))[0]


# ---- LoadBalancerAnalyzer ----------------------------------------------------------------------------------------

def propose(b: EvidenceBuilder, health: dict[str, list[dict[str, Any]]], groups: list[dict[str, Any]] | None = None):
    return LoadBalancerAnalyzer().propose(Analysis(read_view(document(balancers(health, groups), b))))


UNHEALTHY_LINE = ("target group web-tg: target 10.0.1.15:8080 unhealthy Target.ResponseCodeMismatch Health checks "
                  "failed with these codes: [404]")


def test_unhealthy_targets_of_a_failing_deployment_are_the_failure_with_the_health_check_as_evidence():
    (h,) = propose(failing_deploy(), {WEB: [target(*MISMATCH), target("healthy", ip="10.0.1.16")]})
    assert (h.cause, h.tier) == ("elb-health-check-failed", Tier.FAILURE)
    assert h.evidence == [UNHEALTHY_LINE, WEB_CHECK]


def test_only_two_health_checks_join_the_evidence():
    groups = [group(), group(ADMIN, "admin-tg"), group(WEB + "x", "third-tg")]
    (h,) = propose(failing_deploy(), {WEB: [target(*MISMATCH)]}, groups)
    assert h.evidence == [UNHEALTHY_LINE, WEB_CHECK, WEB_CHECK.replace("web-tg", "admin-tg")]


def test_a_few_unhealthy_targets_beside_healthy_ones_of_a_full_steady_service_are_only_a_warning():
    (h,) = propose(steady(), {WEB: [target(*MISMATCH), target("healthy", ip="10.0.1.16")]})
    assert (h.cause, h.tier) == ("elb-health-check-failed", Tier.ALSO)
    assert h.evidence == [UNHEALTHY_LINE, WEB_CHECK]
    (over,) = propose(steady(running=3), {WEB: [target(*MISMATCH), target("healthy", ip="10.0.1.16")]})
    assert over.tier == Tier.ALSO


@pytest.mark.parametrize("b,health", [
    (steady(running=1), {WEB: [target(*MISMATCH), target("healthy", ip="10.0.1.16")]}),   # not full
    (failing_deploy(), {WEB: [target(*MISMATCH), target("healthy", ip="10.0.1.16")]}),    # a deployment fails
    (steady(), {WEB: [target(*MISMATCH), target("initial", ip="10.0.1.16")]}),            # nothing is healthy
])
def test_unhealthy_targets_are_the_failure_unless_the_service_is_full_steady_and_partly_healthy(b, health):
    (h,) = propose(b, health)
    assert h.tier == Tier.FAILURE


def test_no_unhealthy_target_proposes_nothing():
    assert propose(failing_deploy(), {WEB: [target("healthy")]}) == []
