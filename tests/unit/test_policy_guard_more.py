"""The policy guard's I/O against moto's ECS, continued (the world of test_policy_guard.py): failed reads and writes,
attempts cut off after their call, what each write sends and what the audit keeps. Each test is named for the
behaviour it protects."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from agents.aws_ecs_service.domain.plan import SKIPPED, AuditEntry
from agents.aws_ecs_service.domain.target import ServiceTarget
from tests.unit import test_policy_guard as base
from tests.unit.test_policy_guard import World, scale_to

pytestmark = pytest.mark.slow  # moto ECS worlds per test, like test_policy_guard.py

world = base.world  # its fixture, used here as it is there
CUT_OFF = "2026-12-07T10:00:00+00:00"


def on_call(world: World, operation: str, handler) -> None:
    """`handler(params)` runs as the guard's own client sends `operation` (its answer, if any, replaces AWS's)."""
    client = world.pool.context("us-east-1").client("ecs")
    client.meta.events.register(f"before-call.ecs.{operation}", lambda params, **_: handler(params))


def failing(error: Any, operation: str):
    def fail(_params):
        raise ClientError(error, operation) if isinstance(error, dict) else error
    return fail


def pending(world: World, plan, step: int = 1, attempt: str = "earlier", operation: str = "ecs:UpdateService",
            incident: str = "inc-1") -> AuditEntry:
    """An earlier attempt of a plan's step that was cut off after it was allowed (audited "pending")."""
    earlier = AuditEntry(at=CUT_OFF, incident_id=incident, plan_hash=plan.plan_hash, target=plan.target, step=step,
                         actor="ecs-agent", operation=operation, params=dict(plan.steps[0].params),
                         allowed=True, reason="approved by alice", result="pending", attempt=attempt)
    world.audit.append(earlier)
    return earlier


# -- failed reads and writes -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("error", "said"), [
    ({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "AccessDeniedException: not allowed"),
    ({"Error": {}}, "Error: "),
    ({}, "Error: "),
    (EndpointConnectionError(endpoint_url="https://ecs.example"),
     'EndpointConnectionError: Could not connect to the endpoint URL: "https://ecs.example"'),
], ids=["client error", "client error without code or message", "client error without an error", "no connection"])
def test_a_read_that_fails_refuses_the_step_saying_why_and_writes_nothing(world, error, said):
    plan = world.approve(scale_to(world, 5))
    on_call(world, "DescribeServices", failing(error, "DescribeServices"))
    entry = world.refused(plan, said)
    assert entry.reason == f"could not check the change: {said}"
    assert world.east.state()["desiredCount"] == 4


def test_a_write_that_aws_rejects_is_audited_as_an_allowed_attempt_that_failed(world):
    plan = world.approve(scale_to(world, 5))
    on_call(world, "UpdateService", failing({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                                            "UpdateService"))
    entry = world.run(plan)
    assert entry.allowed and entry.result == "error: ThrottlingException: Rate exceeded"
    assert world.audit.list()[-1] == entry and world.east.state()["desiredCount"] == 4


def test_the_attempt_is_audited_pending_before_its_write_goes_out(world):
    plan = world.approve(scale_to(world, 5))
    seen: list[AuditEntry] = []
    on_call(world, "UpdateService", lambda _params: seen.extend(world.audit.list()))
    entry = world.run(plan)
    assert [(e.attempt, e.allowed, e.result) for e in seen] == [(entry.attempt, True, "pending")]
    assert seen[0].reason == entry.reason and entry.reason.startswith("approved by alice (cli) at 2026-12-07T10:00")


# -- why each attempt was allowed, skipped or refused -------------------------------------------------------------

def test_an_allowed_write_says_who_approved_it_when_and_what_it_changes(world):
    entry = world.run(world.approve(scale_to(world, 5)))
    assert entry.reason == ("approved by alice (cli) at 2026-12-07T10:00:00+00:00; desiredCount 4 -> 5 (+1 from the "
                            "observed value)")


def test_a_retry_of_an_applied_step_is_skipped_saying_so_and_audits_the_service_as_it_is(world):
    plan = world.approve(scale_to(world, 5))
    world.run(plan)
    again = world.run(plan)
    assert (again.allowed, again.result) == (True, SKIPPED)
    assert again.reason == ("an earlier attempt of this step was applied and the service still shows its result: no "
                            "second write")
    assert again.after == again.before and again.before["desiredCount"] == 5


def test_an_applied_step_whose_result_was_undone_is_refused_with_the_whole_reason(world):
    plan = world.approve(scale_to(world, 5))
    world.run(plan)
    world.east.ecs.update_service(cluster="prod", service="api", desiredCount=4)
    world.writes.clear()
    entry = world.refused(plan, "re-plan")
    assert entry.reason == ("step 1 was applied before, but the service no longer shows its result: someone changed "
                            "it since; re-plan")


def test_a_cut_off_stop_is_refused_with_the_whole_reason(world):
    plan = world.approve(world.plan("stop_task", task=world.east.task()))
    pending(world, plan, operation="ecs:StopTask")
    entry = world.refused(plan, "a person must check")
    assert entry.reason == ("an earlier attempt of step 1 was cut off after it was allowed; whether its "
                            "ecs:StopTask took effect cannot be told from the service: a person must check, then "
                            "re-plan")


def test_a_plan_for_a_service_that_is_not_there_is_refused(world):
    ghost = ServiceTarget.from_names(world.east.target.account, "us-east-1", "prod", "ghost")
    entry = world.refused(world.approve(scale_to(world, 5, ghost)), "is not an ACTIVE service")
    assert entry.before == {}


# -- what is audited -------------------------------------------------------------------------------------------------

def test_a_refusal_before_the_checks_is_audited_with_the_step_and_who_asked(world):
    plan = scale_to(world, 5)
    entry = world.guard.refuse(plan, plan.steps[0], "workflow", "another remediation of this service is running")
    assert (entry.allowed, entry.result, entry.reason) == (False, "refused", "another remediation of this service "
                                                                              "is running")
    assert (entry.incident_id, entry.plan_hash, entry.target, entry.step, entry.actor, entry.operation) == (
        "inc-1", plan.plan_hash, world.east.target, 1, "workflow", "ecs:UpdateService")
    assert entry.params == plan.steps[0].params and world.audit.list() == [entry] and world.writes == []
    assert entry.at.endswith("+00:00")  # audit times are UTC


def test_an_update_is_audited_with_the_service_before_and_after_it(world):
    plan = world.approve(scale_to(world, 5))
    entry = world.run(plan)
    now = world.east.state()
    assert entry.before == {"taskDefinition": world.east.arns[3], "desiredCount": 4, "runningCount": 0}
    assert entry.after == {"taskDefinition": world.east.arns[3], "desiredCount": 5, "runningCount": now["runningCount"]}
    assert entry.params == plan.steps[0].params and entry.operation == "ecs:UpdateService"


def test_a_task_definition_that_cannot_be_described_is_refused(world):
    missing = world.east.arns[3].replace(":3", ":99")
    plan = world.approve(world.plan("update_service_task_definition", taskDefinition=missing))
    world.refused(plan, f"task definition {missing!r} cannot be described: ClientException: ")


# -- attempts cut off after their call ------------------------------------------------------------------------------

def test_a_cut_off_update_the_service_shows_is_recorded_done_and_not_written_again(world):
    plan = world.approve(scale_to(world, 5))
    earlier = pending(world, plan)
    world.east.ecs.update_service(cluster="prod", service="api", desiredCount=5)  # the cut-off call went out
    world.writes.clear()
    entry = world.run(plan)
    assert (entry.allowed, entry.result) == (True, SKIPPED) and world.writes == []
    assert entry.reason == "an earlier attempt was cut off after its write, which the service shows: no second write"
    assert entry.after == entry.before and entry.before["desiredCount"] == 5
    settled = next(e for e in world.audit.list() if e.attempt == earlier.attempt)
    assert (settled.result, settled.after) == ("ok", entry.before)
    assert settled.reason == ("approved by alice; the attempt was cut off after its call, which the service shows "
                              "(recorded by the retry)")


def test_a_cut_off_update_the_service_does_not_show_is_recorded_failed_and_the_step_runs(world):
    plan = world.approve(scale_to(world, 5))
    earlier = pending(world, plan)
    entry = world.run(plan)
    assert (entry.allowed, entry.result) == (True, "ok") and world.east.state()["desiredCount"] == 5
    settled = next(e for e in world.audit.list() if e.attempt == earlier.attempt)
    assert settled.result == "error: cut off before its change took effect (the service does not show it)"
    assert [w[0] for w in world.writes] == ["UpdateService"]


def test_only_cut_off_attempts_of_this_incident_plan_and_step_are_settled(world):
    """The same plan (same hash) may serve a later incident of the service: an earlier incident's attempts are its own."""
    plan = world.approve(scale_to(world, 5))
    pending(world, scale_to(world, 3), attempt="another plan")
    pending(world, plan, step=2, attempt="another step")
    pending(world, plan, attempt="another incident", incident="inc-0")
    pending(world, plan)
    assert world.run(plan).result == "ok"
    results = {e.attempt: e.result for e in world.audit.list()}
    assert [results[other] for other in ("another plan", "another step", "another incident")] == ["pending"] * 3
    assert results["earlier"] == "error: cut off before its change took effect (the service does not show it)"


# -- what each write sends -----------------------------------------------------------------------------------------

def test_a_stop_says_which_incident_and_plan_stopped_the_task(world):
    plan = world.approve(world.plan("stop_task", task=world.east.task()))
    entry = world.run(plan)
    reason = f"ecs-agent: incident inc-1, plan {plan.plan_hash[:12]}"
    assert entry.result == "ok" and entry.params["reason"] == reason and world.writes[0][1]["reason"] == reason
    stopped = world.east.ecs.describe_tasks(cluster="prod", tasks=[plan.steps[0].params["task"]])["tasks"][0]
    assert stopped["stoppedReason"] == reason and entry.after["task"] == stopped["taskArn"]


def test_a_stop_keeps_the_reason_the_plan_gives(world):
    plan = world.approve(world.plan("stop_task", task=world.east.task(), reason="memory leak, see incident"))
    assert world.run(plan).params["reason"] == world.writes[0][1]["reason"] == "memory leak, see incident"


def test_a_run_task_sends_a_client_token_of_the_plan_and_step_and_audits_the_task_started(world):
    world.east.container_instance("prod")
    plan = world.approve(world.plan("run_task", taskDefinition=world.east.arns[3]))
    entry = world.run(plan)
    token = hashlib.sha256(f"{plan.plan_hash}:1".encode()).hexdigest()
    assert entry.params["clientToken"] == world.writes[0][1]["clientToken"] == token
    started = world.east.ecs.list_tasks(cluster="prod", startedBy=f"ecs-agent/{plan.plan_hash[:16]}")["taskArns"]
    assert entry.params["count"] == 1 and len(started) == 1 and entry.after == {"tasks": started}


def test_a_run_task_that_ecs_could_not_place_is_audited_as_an_error_with_what_was_sent(world):
    plan = world.approve(world.plan("run_task", taskDefinition=world.east.arns[3]))
    failures = [{"arn": world.east.arns[3], "reason": "RESOURCE:MEMORY"}]
    on_call(world, "RunTask", lambda _params: (AWSResponse("https://ecs", 200, {}, None),
                                               {"tasks": [], "failures": failures}))
    entry = world.run(plan)
    assert entry.allowed and entry.result == f"error: {failures}"
    assert entry.params["startedBy"] == f"ecs-agent/{plan.plan_hash[:16]}" and entry.after == {}


def test_a_stop_of_a_task_ecs_does_not_know_is_refused_as_not_found(world):
    gone = world.east.target.cluster_arn.replace(":cluster/", ":task/") + "/" + "0" * 32
    world.refused(world.approve(world.plan("stop_task", task=gone)), "the task was not found")


def test_a_step_an_earlier_incident_applied_is_written_again_for_a_later_incident(world):
    """The service broke again after the earlier incident's fix was undone: the same plan is needed again."""
    plan = world.approve(scale_to(world, 5))
    world.audit.append(pending(world, plan, incident="inc-0").model_copy(update={"result": "ok"}))
    entry = world.run(plan)
    assert (entry.allowed, entry.result) == (True, "ok") and world.east.state()["desiredCount"] == 5
