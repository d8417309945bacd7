"""Which revision last ran healthy (revisions.py): the rollback target of the classifier and the planner.

Each test is named for the behaviour it protects: the order the sources are trusted in, what is never offered
(the current revision, a failing one, another family, an inactive one), and where the answer came from.
"""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.revisions import HealthyRevision, last_healthy_revision, revision_task_definition
from tests.unit.evidence_builder import ago

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/"
SR = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/api/"


def td(revision: int, family: str = "api") -> str:
    return f"{TD}{family}:{revision}"


def evidence(current: int = 9, **parts) -> dict:
    return {"service": {"taskDefinition": td(current), "deployments": parts.pop("deployments", [])}, **parts}


def completed(revision: int, age: float, dep_id: str | None = None, **extra) -> dict:
    return {"id": dep_id or f"ecs-svc/{revision}", "taskDefinition": td(revision), "rolloutState": "COMPLETED",
            "createdAt": ago(age), **extra}


# ---- the service revision's task definition -------------------------------------------------------------------------

@pytest.mark.parametrize("revision, expected", [
    ({"arn": f"{SR}1", "taskDefinition": td(3)}, td(3)),    # given inline
    ({"arn": f"{SR}1"}, td(1)),                              # looked up by its ARN
    (f"{SR}2", td(2)),
    (f"{SR}7", None),                                         # not described
    ({"arn": None}, None), ({}, None), (None, None), ("", None),
])
def test_a_service_revisions_task_definition_is_given_inline_or_looked_up_by_its_arn(revision, expected):
    ev = {"service_revisions": [{"serviceRevisionArn": f"{SR}1", "taskDefinition": td(1)},
                                {"serviceRevisionArn": f"{SR}2", "taskDefinition": td(2)}]}
    assert revision_task_definition(ev, revision) == expected


def test_a_service_revision_without_a_task_definition_answer_is_none():
    ev = {"service_revisions": [{"serviceRevisionArn": f"{SR}1"}]}
    assert revision_task_definition(ev, f"{SR}1") is None and revision_task_definition({}, f"{SR}1") is None


# ---- the order of trust --------------------------------------------------------------------------------------------

def test_the_newest_completed_deployment_without_failed_tasks_comes_first():
    ev = evidence(deployments=[completed(9, 5), completed(6, 600), completed(8, 100), completed(7, 50, failedTasks=2),
                               {"id": "x", "taskDefinition": td(5), "rolloutState": "FAILED", "createdAt": ago(1)},
                               {"id": "y", "rolloutState": "COMPLETED", "createdAt": ago(1)}],
                  previous_task_definition=td(4), tasks={"running": [{"taskDefinitionArn": td(3)}]})
    assert last_healthy_revision(ev) == HealthyRevision(td(8), "deployment ecs-svc/8 COMPLETED without failed tasks",
                                                        True)


def test_a_completed_deployment_without_an_id_is_still_named():
    ev = evidence(deployments=[{"taskDefinition": td(8), "rolloutState": "COMPLETED", "createdAt": ago(9)}])
    assert last_healthy_revision(ev).source == "deployment ? COMPLETED without failed tasks"


def test_a_completed_deployment_without_a_creation_time_sorts_last():
    ev = evidence(deployments=[{"id": "old", "taskDefinition": td(6), "rolloutState": "COMPLETED"},
                               completed(7, 60 * 24 * 300)])
    assert last_healthy_revision(ev).arn == td(7)


def test_then_the_newest_successful_service_deployment_or_the_source_of_a_successful_rollback():
    ev = evidence(
        service_deployments=[
            {"status": "SUCCESSFUL", "finishedAt": ago(300), "targetServiceRevision": {"arn": f"{SR}5"}},
            {"status": "ROLLBACK_SUCCESSFUL", "finishedAt": ago(100), "targetServiceRevision": {"arn": f"{SR}9"},
             "sourceServiceRevisions": [{"arn": f"{SR}9"}, {"arn": f"{SR}6"}]},
            {"status": "FAILED", "finishedAt": ago(10), "targetServiceRevision": {"arn": f"{SR}8"}},
        ],
        service_revisions=[{"serviceRevisionArn": f"{SR}{n}", "taskDefinition": td(n)} for n in (5, 6, 8, 9)],
        previous_task_definition=td(4))
    assert last_healthy_revision(ev) == HealthyRevision(td(6), "service deployment ROLLBACK_SUCCESSFUL", True)
    assert last_healthy_revision(ev, failing=[td(6)]) == HealthyRevision(td(5), "service deployment SUCCESSFUL",
                                                                         True)


def test_a_service_deployment_without_a_finish_time_is_placed_by_its_creation():
    ev = evidence(
        service_deployments=[
            {"status": "SUCCESSFUL", "finishedAt": ago(300), "targetServiceRevision": {"arn": f"{SR}5"}},
            {"status": "SUCCESSFUL", "createdAt": ago(100), "targetServiceRevision": {"arn": f"{SR}6"}},
            {"status": "SUCCESSFUL", "targetServiceRevision": {"arn": f"{SR}7"}},  # no time at all: last
        ],
        service_revisions=[{"serviceRevisionArn": f"{SR}{n}", "taskDefinition": td(n)} for n in (5, 6, 7)])
    assert last_healthy_revision(ev).arn == td(6)


def test_then_the_highest_revision_tasks_still_run_then_the_previous_one_unconfirmed():
    running = [{"taskDefinitionArn": td(n)} for n in (3, 10, 9)] + [{"taskDefinitionArn": None}, {}]
    ev = evidence(current=11, tasks={"running": running}, previous_task_definition=td(4))
    assert last_healthy_revision(ev) == HealthyRevision(td(10), "tasks of it still run", True)
    assert last_healthy_revision(ev, failing=[td(10), td(9), td(3)]) == HealthyRevision(
        td(4), "the revision the service ran before (not confirmed healthy)", False)
    assert last_healthy_revision(ev, failing=[td(10), td(9), td(3), td(4)]) is None


def test_a_revision_number_that_is_not_a_number_ranks_below_every_numbered_one():
    ev = evidence(current=11, tasks={"running": [{"taskDefinitionArn": f"{TD}api:latest"},
                                                 {"taskDefinitionArn": td(2)}]})
    assert last_healthy_revision(ev).arn == td(2)


# ---- what is never offered ----------------------------------------------------------------------------------------------

def test_never_the_current_revision_a_failing_one_another_family_or_an_inactive_one():
    ev = evidence(deployments=[completed(9, 5), completed(8, 10), completed(7, 20, dep_id="x"),
                               {**completed(2, 25), "taskDefinition": td(2, family="worker")},
                               completed(6, 30), completed(5, 40)],
                  task_definitions={td(6): {"status": "INACTIVE"}, td(5): {"family": "api"}})
    assert last_healthy_revision(ev, failing=["api:8", None, td(7)]).arn == td(5)


def test_the_current_revision_is_the_services_before_the_evidences():
    ev = {"service": {"taskDefinition": td(9)}, "current_task_definition": td(8), "previous_task_definition": td(8)}
    assert last_healthy_revision(ev).arn == td(8)
    del ev["service"]["taskDefinition"]
    assert last_healthy_revision(ev) is None  # the evidence's current (8) is excluded too
    ev["previous_task_definition"] = td(7)
    assert last_healthy_revision(ev).arn == td(7)


def test_without_a_current_revision_there_is_no_answer():
    assert last_healthy_revision({"previous_task_definition": td(7)}) is None
    assert last_healthy_revision({"service": None, "previous_task_definition": td(7)}) is None


def test_of_many_running_revisions_the_highest_number_is_offered_whatever_their_order():
    running = [{"taskDefinitionArn": td(n)} for n in (4, 1, 12, 7, 3, 8, 2, 6, 5)]
    assert last_healthy_revision(evidence(current=13, tasks={"running": running})).arn == td(12)


def test_running_revisions_without_a_number_are_offered_last_in_a_fixed_order():
    running = [{"taskDefinitionArn": f"{TD}api:latest"}, {"taskDefinitionArn": td(1)},
               {"taskDefinitionArn": f"{TD}api:stable"}]
    ev = evidence(current=13, tasks={"running": running})
    assert last_healthy_revision(ev).arn == td(1)
    assert last_healthy_revision(ev, failing=[td(1)]).arn == f"{TD}api:stable"
