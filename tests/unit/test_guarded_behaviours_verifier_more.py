"""The verifier (operations/verifier.py), continued: the same moto world as test_guarded_behaviours_verifier.py, at
the edges its tests leave. Each test is named for the behaviour it protects."""
from __future__ import annotations

import pytest
from botocore.stub import Stubber
from moto.ecs.models import ecs_backends

from agents.aws_ecs_service.operations.verifier import StopWaiting, verify
from tests.unit import test_guarded_behaviours_verifier as base
from tests.unit.test_guarded_behaviours_verifier import ACCOUNT, REGION, check, just_changed, scale_plan, triage

moto_world, world, ctx, clock = base.moto_world, base.world, base.ctx, base.clock  # its fixtures, as they are there


# -- the triggering alarm ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    {"MetricAlarms": [{"AlarmName": "api-cpu-high", "StateValue": "OK"}]},
    {"CompositeAlarms": [{"AlarmName": "api-cpu-high", "StateValue": "OK"}]},
], ids=["metric alarm only", "composite alarm only"])
def test_an_alarm_answer_that_leaves_out_the_other_kind_of_alarm_is_still_read(world, ctx, answer):
    """DescribeAlarms' model makes both lists optional: an answer with one of them only is a valid answer."""
    world(desired=4, running=4)
    with Stubber(ctx.client("cloudwatch")) as cloudwatch:
        cloudwatch.add_response("describe_alarms", answer, {"AlarmNames": ["api-cpu-high"]})
        result = verify(ctx, scale_plan(4), triage(), just_changed(), timeout_s=0, trigger_alarm="api-cpu-high")
    assert result.ok and check(result, "alarm api-cpu-high OK").after == "OK"


# -- progress and the stop handle ----------------------------------------------------------------------------------

def test_a_service_that_vanished_mid_verification_is_reported_with_unknown_counts_not_a_crash(world, clock, ctx):
    world(desired=3, running=2)
    services = ecs_backends[ACCOUNT][REGION].services
    vanished = services.pop("prod:api")
    lines: list[str] = []
    try:
        result = verify(ctx, scale_plan(3), triage(), just_changed(), timeout_s=0, progress=lines.append)
    finally:
        services["prod:api"] = vanished
    assert not result.ok
    assert lines[0].startswith("verify poll 1: ?/? tasks running on ?; waiting for: ")


def test_a_stop_with_no_verification_waiting_does_nothing_and_says_so():
    stop = StopWaiting()
    assert stop.stop() is False  # the chat's Ctrl-C handler then ends the turn as it always did
    with stop.scope():
        assert stop.stop() is True
