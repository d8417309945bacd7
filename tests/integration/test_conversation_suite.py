"""Scripted on-call conversations: what was asked is what is answered.

Each conversation asserts the state (intent, the request, the exact target with region and account, the plan, the
approval interrupt's payload), the write calls AWS received (none unless a person approved) and the reply's key
facts. AWS is fakeaws' scenario worlds (moto behind a scripted ECS) or moto's ECS itself for same-named services in
two regions; offline first (no model), then over the local Converse server for the Bedrock path.
"""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests import converse_server as cs
from tests.integration.test_conversation import Conversation, two_environments
from tests.moto_ecs import ACCOUNT, EcsService

ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecs-incident-agent"


def _reply(state: dict) -> str:
    return state["messages"][-1].content


def _writes(fake) -> list[dict]:
    return [c for c in fake.calls if c["write"]]


def _asked(state: dict) -> dict:
    [pending] = state["__interrupt__"]
    return pending.value


# ---- out-of-policy requests: refused by name, the nearest allowed step, never another plan -------------------------

def test_scale_to_ten_is_refused_with_the_policy_reason_the_nearest_step_and_the_command(play_scenario):
    fake = play_scenario("oom-after-deploy")
    state = Conversation(allow_write=True).say("scale prod/api to 10")
    assert state["context"]["intent"] == "change" and state["context"]["request"]["count"] == 10
    assert "__interrupt__" not in state and _writes(fake) == []
    text = _reply(state)
    assert "You asked me to scale prod/api to 10 tasks (account 123456789012, us-east-1). I won't" in text
    assert "desiredCount 4 -> 10 is a change of +6: only ±1 from the observed value is allowed" in text
    assert 'I can scale 4 → 5 now, and again once it is steady: say "scale prod/api to 5"' in text
    assert "`aws ecs update-service --region us-east-1 --cluster prod --service api --desired-count 10`" in text
    assert "Instead, the diagnosis suggests: Roll back api to api:61" in text  # offered only as an alternative


def test_i_said_scale_it_to_ten_do_it_is_refused_again_and_never_becomes_a_rollback(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    assert chat.say("prod/api is crashing")["findings"]["root_cause"]["category"] == "container-oom"
    for said in ("I said scale it to 10. do it", "do it"):
        state = chat.say(said)
        assert "__interrupt__" not in state, said  # no approval prompt for a change nobody asked for
        assert state["context"]["request"]["count"] == 10 and "only ±1" in _reply(state)
    state = chat.say("ok, scale prod/api to 5")
    asked = _asked(state)
    assert asked["steps"] == ["ecs:UpdateService(cluster=prod, service=api, desiredCount=5)"]
    assert asked["text"].startswith("You asked: scale prod/api to 5")
    assert _writes(fake) == []
    chat.resume({"decision": "approve", "by": "alice"})
    [write] = _writes(fake)
    assert write["op"] == "UpdateService" and write["params"]["desiredCount"] == 5
    assert "taskDefinition" not in write["params"]


def test_delete_the_service_is_refused_by_name_with_the_aws_cli_command(play_scenario):
    fake = play_scenario("cpu-saturated")
    chat = Conversation(allow_write=True)
    chat.say("check prod/api")
    state = chat.say("delete the service")
    assert state["context"]["request"] == {"kind": "delete", "said": "delete the service", "what": "service"}
    text = _reply(state)
    assert "deleting a service is not something I do" in text
    assert "`aws ecs delete-service --region us-east-1 --cluster prod --service api`" in text
    assert "__interrupt__" not in state and _writes(fake) == []


def test_setting_an_environment_variable_is_refused_with_how_a_person_registers_the_revision(play_scenario):
    fake = play_scenario("cpu-saturated")
    state = Conversation(allow_write=True).say("set MAX_HEAP=2g on prod/api")
    text = _reply(state)
    assert "changing a task definition (MAX_HEAP=2g) is not something I do" in text
    assert "aws ecs describe-task-definition --region us-east-1 --task-definition api:31" in text
    assert 'say "deploy api:<revision>"' in text
    assert "__interrupt__" not in state and _writes(fake) == []


def test_bump_memory_is_refused_and_the_diagnosis_rollback_is_only_named_as_the_alternative(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    state = chat.say("prod/api keeps getting OOM killed, bump memory to 2 GB")
    assert state["context"]["request"]["setting"] == "memory to 2 GB"
    text = _reply(state)
    assert "changing a task definition (memory to 2 GB) is not something I do" in text
    assert "Instead, the diagnosis suggests: Roll back api to api:61 (risk low)" in text
    assert "__interrupt__" not in state and _writes(fake) == []
    asked = _asked(chat.say("fix it"))  # the alternative, once asked for, is what the prompt shows
    assert asked["steps"] == ["ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:61)"]


def test_restart_it_is_refused_as_a_forced_deployment_with_the_one_task_restart_offered(play_scenario):
    fake = play_scenario("cpu-saturated")
    chat = Conversation(allow_write=True)
    chat.say("prod/api keeps crashign")  # a typo'd symptom still names the service
    state = chat.say("can you restart it")
    text = _reply(state)
    assert "restarting every task is a forced new deployment, which is not on my write allow-list" in text
    assert '`aws ecs update-service --region us-east-1 --cluster prod --service api --force-new-deployment`' in text
    assert 'say "restart one task of prod/api"' in text
    assert "__interrupt__" not in state and _writes(fake) == []


def test_with_writes_off_the_prompt_for_an_allowed_request_says_the_guard_will_refuse_it(play_scenario):
    fake = play_scenario("cpu-saturated")
    chat = Conversation(allow_write=False)
    asked = _asked(chat.say("scale prod/api to 4"))
    assert asked["steps"] == ["ecs:UpdateService(cluster=prod, service=api, desiredCount=4)"]
    assert asked["text"].endswith("Note: writes are disabled (allowWrite is off): nothing was changed; approving "
                                  "records the decision, and the policy guard will refuse the change.")
    chat.resume({"decision": "yes", "by": "alice"})
    assert _writes(fake) == [] and not chat.audit.list()[0].allowed


def test_scaling_to_zero_is_refused_by_the_never_zero_rule(play_scenario):
    fake = play_scenario("cpu-saturated")
    state = Conversation(allow_write=True).say("stop the service prod/api")
    assert state["context"]["request"]["count"] == 0
    text = _reply(state)
    assert "desiredCount 0: the agent never scales a service to 0 tasks" in text
    assert "--desired-count 0`" in text and "__interrupt__" not in state and _writes(fake) == []


def test_roll_back_to_a_revision_that_does_not_exist_names_the_last_healthy_one(play_scenario):
    fake = play_scenario("image-tag-missing")
    chat = Conversation(allow_write=True)
    state = chat.say("roll back prod/api to 46")
    assert state["context"]["request"]["revision"] == 46
    text = _reply(state)
    assert "You asked me to move prod/api to api:46" in text and "api:46 cannot be read" in text
    assert 'The last revision known to have run healthy is api:47: say "roll back to 47"' in text
    assert "__interrupt__" not in state
    asked = _asked(chat.say("roll back to 47"))
    assert asked["steps"] == ["ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:47)"]
    assert asked["brief"]["target"] == {"account": "123456789012", "region": "us-east-1", "cluster": "prod",
                                        "service": "api",
                                        "service_arn": "arn:aws:ecs:us-east-1:123456789012:service/prod/api"}
    assert asked["brief"]["reverts"] and _writes(fake) == []


def test_roll_back_without_an_earlier_revision_is_refused_not_swapped_for_the_scale_out(play_scenario):
    fake = play_scenario("cpu-saturated")  # api:31 is the family's only revision
    state = Conversation(allow_write=True).say("roll back prod/api")
    assert "__interrupt__" not in state and _writes(fake) == []
    text = _reply(state)
    assert "there is no earlier revision of api:31 known to have run healthy" in text
    assert "Instead, the diagnosis suggests: Scale api out to 4 tasks (risk low)" in text


def test_scale_in_by_one_is_planned_exactly_and_says_what_it_removes(play_scenario):
    fake = play_scenario("cpu-saturated")
    chat = Conversation(allow_write=True)
    asked = _asked(chat.say("scale prod/api down"))
    assert asked["title"] == "Scale api in to 2 tasks" and asked["risk"] == "medium"
    assert asked["steps"] == ["ecs:UpdateService(cluster=prod, service=api, desiredCount=2)"]
    assert asked["brief"]["reverts"] == ["one of the 3 tasks (desiredCount 3 -> 2)"]
    state = chat.resume({"decision": "reject", "by": "bob"})
    assert state["turn"]["outcome"] == "rejected" and _writes(fake) == []


def test_symptom_words_are_not_change_requests(play_scenario):
    play_scenario("oom-after-deploy")
    state = Conversation(allow_write=True).say("prod/api keeps restarting since the deploy")
    assert state["context"]["intent"] == "diagnose" and "request" not in state["context"]
    assert "__interrupt__" not in state and "Roll back api to api:61" in _reply(state)


# ---- the approval prompt: the whole picture, and only yes or no decides -----------------------------------------

def test_a_vague_fix_it_asks_which_service_then_the_prompt_shows_diagnosis_target_call_and_undo(play_scenario):
    fake = play_scenario(two_environments())
    chat = Conversation(allow_write=True)
    state = chat.say("fix the api service")
    assert _reply(state) == "Which one do you mean: prod/api or staging/api?" and _writes(fake) == []
    asked = _asked(chat.say("production"))
    brief = asked["brief"]
    assert brief["diagnosis"].startswith("cpu-saturation (confidence ")
    assert (brief["target"]["account"], brief["target"]["region"], brief["target"]["cluster"]) == (
        "123456789012", "us-east-1", "prod")
    assert brief["calls"] == ["ecs:UpdateService(cluster=prod, service=api, desiredCount=4)"]
    assert brief["undo"] == ["ecs:UpdateService(cluster=prod, service=api, desiredCount=3): back to the count "
                             "observed before"]
    for fact in ("Diagnosis: cpu-saturation (confidence", "Service: prod/api in account 123456789012, region "
                 "us-east-1", "risk low", "It reverts or removes nothing.", "To undo:"):
        assert fact in asked["text"], fact
    assert _writes(fake) == []


def test_questions_at_the_prompt_are_answered_and_the_prompt_asked_again_until_yes(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    first = _asked(chat.say("roll back prod/api"))
    state = chat.resume({"decision": "why?", "by": "alice"})
    why = _asked(state)
    assert why["plan_hash"] == first["plan_hash"] and why["answer"].startswith("Diagnosis: container-oom")
    assert why["answer"].endswith("Approve this change? Answer yes or no (or ask: why? what does it remove? how do "
                                  "I undo it?).")
    removes = _asked(chat.resume("what does it remove?"))["answer"]  # Studio may resume with plain text
    assert "It reverts or removes:\n  - memory 1024 -> 2048" in removes
    assert _writes(fake) == [] and chat.approvals.get(first["incident_id"], first["plan_hash"]) is None
    state = chat.resume({"decision": "go ahead", "by": "alice"})
    [write] = _writes(fake)
    assert write["params"]["taskDefinition"].endswith("api:61")
    assert state["approvals"][-1]["decided_by"] == "alice" and state["approvals"][-1]["decision"] == "approved"


def test_an_unclear_answer_is_asked_again_and_dont_rejects(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    chat.say("roll back prod/api")
    again = _asked(chat.resume({"decision": "hmm, maybe later", "by": "bob"}))
    assert again["answer"].startswith("I need a yes or a no. Here is the plan again:")
    state = chat.resume({"decision": "don't", "by": "bob"})
    assert state["turn"]["outcome"] == "rejected" and "Rejected: nothing was changed" in _reply(state)
    assert _writes(fake) == [] and chat.audit.list() == []


def test_a_report_after_the_fix_renders_the_incident_with_its_approval_and_write(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    chat.say("roll back prod/api")
    chat.resume({"decision": "approve", "by": "alice"})
    state = chat.say("write the report")
    text = _reply(state)
    assert state["context"]["intent"] == "report" and "request" not in state["context"]
    assert text.startswith("# Incident summary: prod/api (account 123456789012, us-east-1)")
    assert "**Plan:** Roll back api to api:61" in text and "alice" in text and "UpdateService" in text
    assert len(_writes(fake)) == 1  # asking for the report changes nothing


# ---- preferences change the options, and the reply says so ------------------------------------------------------

def test_low_risk_leaves_out_the_medium_risk_restore_and_an_explicit_request_still_gets_it(play_scenario):
    fake = play_scenario("scaled-to-zero")
    chat = Conversation(allow_write=True)
    state = chat.say("prod/api has no tasks, we have a demo at 2 PM, keep it low risk")
    assert state["preferences"]["risk"] == "low"
    assert [p["option"] for p in state["plans"]] == ["fix-forward"]
    assert "Because you asked for low risk, I left out: Restore api to 1 task (risk medium)" in _reply(state)
    assert "__interrupt__" not in chat.say("fix it")  # the left-out change is not slipped back in
    asked = _asked(chat.say("scale prod/api to 1"))  # asked for by name: answered as asked
    assert asked["title"] == "Restore api to 1 task" and asked["risk"] == "medium"
    chat.resume({"decision": "no", "by": "bob"})
    assert _writes(fake) == []


def test_a_deadline_leaves_out_changes_that_take_longer(play_scenario):
    fake = play_scenario("oom-after-deploy")
    state = Conversation(allow_write=True).say("prod/api is crashing, it has to work within 3 minutes")
    assert state["preferences"]["deadline"] == "3m"
    assert "rollback" not in [p["option"] for p in state["plans"]]
    assert "Because of your deadline (within 3 minutes), I left out: Roll back api to api:61 (~5 min)" in _reply(state)
    assert _writes(fake) == []


def test_a_preference_said_after_the_findings_replans_the_same_findings(play_scenario):
    fake = play_scenario("scaled-to-zero")
    chat = Conversation(allow_write=True)
    first = chat.say("prod/api has no tasks")
    assert [p["option"] for p in first["plans"]] == ["restore-capacity", "fix-forward"]
    reads = len(fake.calls)
    state = chat.say("keep it low risk please")
    assert [p["option"] for p in state["plans"]] == ["fix-forward"]
    assert "I left out: Restore api to 1 task (risk medium)" in _reply(state)
    assert len(fake.calls) == reads  # the same findings, planned again: no new AWS reads


# ---- same-named services in two regions (moto's ECS holds both) ---------------------------------------------------

@pytest.fixture
def twins(aws_env):
    with mock_aws():
        session = boto3.session.Session()
        yield EcsService(session, "us-east-1"), EcsService(session, "us-west-2")


def _twin_chat() -> Conversation:
    return Conversation(allow_write=True, aws_region="us-east-1",
                        targets=[{"name": "both", "roleArn": ROLE, "regions": ["us-east-1", "us-west-2"]}])


@pytest.mark.slow  # moto's ECS behind several triages and a verification
def test_two_same_named_services_are_told_apart_by_region_and_only_the_chosen_one_changes(twins):
    east, west = twins
    chat = _twin_chat()
    state = chat.say("my api service is slow")
    assert _reply(state) == "Which one do you mean: prod/api in us-east-1 or prod/api in us-west-2?"
    state = chat.say("the one in us-west-2")
    assert state["findings"]["target"]["service_arn"] == west.target.service_arn
    asked = _asked(chat.say("scale it out"))
    assert asked["brief"]["target"]["region"] == "us-west-2" and asked["brief"]["target"]["account"] == ACCOUNT
    chat.resume({"decision": "yes", "by": "alice"})
    assert (east.state()["desiredCount"], west.state()["desiredCount"]) == (4, 5)


@pytest.mark.slow  # moto's ECS behind several triages and a verification
def test_switching_region_moves_the_conversation_to_the_twin(twins):
    east, west = twins
    task = west.task()
    chat = _twin_chat()
    state = chat.say("check prod/api in us-east-1")
    assert state["findings"]["target"]["region"] == "us-east-1"
    state = chat.say("now look at prod/api in us-west-2")
    assert state["findings"]["target"]["service_arn"] == west.target.service_arn
    assert state["context"]["region"] == "us-west-2"
    asked = _asked(chat.say("restart one task"))
    assert asked["brief"]["target"]["region"] == "us-west-2"
    assert asked["steps"] == [f"ecs:StopTask(cluster=prod, task={task.rsplit('/', 1)[-1]})"]


@pytest.mark.slow  # moto's ECS behind several triages and a verification
def test_restart_one_task_stops_exactly_one_task_the_service_started(twins):
    east, _west = twins
    task = east.task()
    chat = _twin_chat()
    chat.say("check prod/api in us-east-1")
    asked = _asked(chat.say("restart one task"))
    name = task.rsplit("/", 1)[-1]
    assert asked["steps"] == [f"ecs:StopTask(cluster=prod, task={name})"]
    assert asked["brief"]["reverts"] == [f"task {name} (its in-flight requests fail; a replacement starts)"]
    chat.resume({"decision": "y", "by": "alice"})
    [described] = east.ecs.describe_tasks(cluster="prod", tasks=[task])["tasks"]
    assert described["desiredStatus"] == "STOPPED"
    assert east.state()["desiredCount"] == 4  # a restart, not a scale-in


# ---- the Bedrock path: the same answers with the model in the loop ------------------------------------------------

def _model(extraction: dict, explanation: str = "The newest revision runs out of memory.") -> list[dict]:
    """One turn's answers: the context extraction, then the explanation of the findings."""
    return [cs.tool_use("ContextExtraction", extraction), cs.text(explanation)]


def _tools_offered(server) -> set[str]:
    return {t["toolSpec"]["name"] for r in server.requests for t in (r["body"].get("toolConfig") or {}).get("tools", [])}


def test_bedrock_scale_to_ten_is_refused_even_when_the_model_reads_it_as_a_fix(play_scenario, bedrock):
    fake = play_scenario("oom-after-deploy")
    server = bedrock(_model({"intent": "fix", "cluster": "prod", "service": "api"}))
    state = cs.ModelChat(allow_write=True).say("scale prod/api to 10")
    assert state["context"]["intent"] == "change" and "__interrupt__" not in state
    assert "only ±1 from the observed value is allowed" in _reply(state)
    assert _tools_offered(server) == {"ContextExtraction"}  # the model never holds a write tool
    assert _writes(fake) == []


def test_bedrock_delete_is_refused_by_name(play_scenario, bedrock):
    fake = play_scenario("cpu-saturated")
    bedrock(_model({"intent": "diagnose"}, "CPU is saturated."))
    state = cs.ModelChat(allow_write=True).say("please delete the prod/api service")
    assert "deleting a service is not something I do" in _reply(state)
    assert "__interrupt__" not in state and _writes(fake) == []


def test_bedrock_questions_at_the_prompt_need_no_model_and_yes_applies(play_scenario, bedrock):
    fake = play_scenario("oom-after-deploy")
    server = bedrock(_model({"intent": "fix"}))
    chat = cs.ModelChat(allow_write=True)
    asked = _asked(chat.say("roll back prod/api"))
    assert asked["brief"]["diagnosis"].startswith("container-oom (confidence 0.99)")
    calls = len(server.requests)
    undo = _asked(chat.resume({"decision": "how do I undo it?", "by": "alice"}))["answer"]
    assert "To undo:\n  - ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:62)" in undo
    assert len(server.requests) == calls  # answered from the plan, not by the model
    chat.resume({"decision": "approve", "by": "alice"})
    [write] = _writes(fake)
    assert write["params"]["taskDefinition"].endswith("api:61")


def test_bedrock_a_risk_preference_the_model_reads_filters_the_options(play_scenario, bedrock):
    fake = play_scenario("scaled-to-zero")
    bedrock(_model({"intent": "diagnose", "risk": "low"}, "The service was scaled to zero."))
    state = cs.ModelChat(allow_write=True).say("prod/api has no tasks and the CEO is watching")
    assert state["preferences"]["risk"] == "low"
    assert "Because you asked for low risk, I left out: Restore api to 1 task (risk medium)" in _reply(state)
    assert _writes(fake) == []

