"""The verifier (operations/verifier.py), continued: the same moto world as test_guarded_behaviours_verifier.py, at
the edges its tests leave. Each test is named for the behaviour it protects."""
from __future__ import annotations

import pytest
from botocore.stub import Stubber

from agents.aws_ecs_service.operations.verifier import verify
from tests.unit import test_guarded_behaviours_verifier as base
from tests.unit.test_guarded_behaviours_verifier import check, just_changed, scale_plan, triage

moto_world, world, ctx = base.moto_world, base.world, base.ctx  # its fixtures, used here as they are there


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
