"""Scripted on-call conversations about follow-ups, offline (ECS_AGENT_MODEL=offline), AWS played by fakeaws.

Each asserts the thread's state (intent, target, plans, writes) and the reply's key facts; the follow-ups that depend
on now are shown to read AWS again (the fake's call log).
"""
from __future__ import annotations

from tests.conftest import load_scenario
from tests.integration.test_conversation import Conversation, _reply, _writes, two_environments


def _calls_after(fake, index: int, op: str) -> list[dict]:
    return [c for c in fake.calls[index:] if c["op"] == op]


def test_healthy_now_after_a_verified_fix_reads_the_service_again(play_scenario):
    fake = play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    chat.say("prod/api is crashing")
    chat.say("fix it")
    state = chat.resume({"decision": "approve", "by": "alice"})
    verified = "passed" if state["verification"]["ok"] else "failed"  # the fake's window may outlast the wait
    before = len(fake.calls)

    state = chat.say("is it healthy now?")
    text = _reply(state)
    assert text.startswith("Now, read from AWS: prod/api (us-east-1) is healthy — yes: 4 of 4 tasks running on "
                           "api:61, no deployment in progress.")
    assert "it was degraded: container-oom. It has recovered since." in text
    assert f"The verification after the change {verified}." in text
    assert _calls_after(fake, before, "DescribeServices")  # fresh, not the old findings
    assert len(_writes(fake)) == 1 and "__interrupt__" not in state  # the one approved write, nothing new


def test_healthy_now_before_any_fix_says_what_is_still_wrong(play_scenario):
    play_scenario("oom-after-deploy")
    chat = Conversation()
    chat.say("prod/api is crashing")
    state = chat.say("is it healthy now?")
    assert "is not healthy — not yet: 2 of 4 tasks running on api:62." in _reply(state)
    assert "deployment PRIMARY api:62: rollout IN_PROGRESS, running 2/4, failed tasks 5" in _reply(state)
    assert state["context"]["intent"] == "diagnose"  # a follow-up leaves the thread's intent as it was


def with_environment_change() -> dict:
    """oom-after-deploy whose new revision also adds an environment variable holding a secret."""
    sc = load_scenario("oom-after-deploy")
    new = next(td for td in sc["ecs"]["taskDefinitions"] if td["revision"] == 62)
    new["containerDefinitions"][0]["environment"] = [{"name": "DB_PASSWORD", "value": "hunter2-very-secret"}]
    return sc


def test_what_changed_between_the_two_revisions_is_a_task_definition_diff_without_values(play_scenario):
    fake = play_scenario(with_environment_change())
    chat = Conversation()
    chat.say("check prod/api")
    before = len(fake.calls)
    state = chat.say("what changed between the two revisions?")
    text = _reply(state)
    assert text.startswith("What changed from api:61 to api:62 (prod/api;")
    lines = text.splitlines()
    assert lines[1] == "  · container api: image api:v3.2.0 -> api:v3.3.0"  # the image first
    assert "  · memory 2048 -> 1024" in lines and "  · container api: environment added: DB_PASSWORD" in lines
    assert "hunter2" not in text
    assert [c["params"]["taskDefinition"] for c in _calls_after(fake, before, "DescribeTaskDefinition")] == [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/api:61",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/api:62"]
    assert state["plans"] and state["findings"]["root_cause"]["category"] == "container-oom"  # kept as they were


def without_two_log_streams() -> tuple[dict, list[str]]:
    """app-crash-import-error where two of the three newest crashed tasks left no log stream."""
    sc = load_scenario("app-crash-import-error")
    dropped = ["a311f6b5aba0571f991068cdf8280324", "4932e5e026af54ee81277e6ee27e458b"]
    sc["logs"] = [s for s in sc["logs"] if s["stream"].rsplit("/", 1)[-1] not in dropped]
    return sc, dropped


def test_show_me_the_logs_marks_the_matched_line_and_names_a_missing_stream(play_scenario):
    sc, dropped = without_two_log_streams()
    play_scenario(sc)
    chat = Conversation()
    state = chat.say("show me the logs of prod/orders")
    text = _reply(state)
    assert text.startswith("Log lines of prod/orders")
    assert "\ntask b4a3b1dc container orders, stopped: Essential container in task exited\n" in text
    assert "\n  from decimal import Decimal, ROUND_HALF_EVEN, quantise\n> ImportError: cannot import name 'quantise' " \
           "from 'decimal'" in text  # the lines before the matched one, then the matched one, marked
    for task in dropped:
        assert f"no log stream for task {task[:8]} (container orders): /ecs/orders ecs/orders/{task}" in text
    assert "AWS kept failing" not in text
    assert state["context"]["last_follow_up"] == "logs"

    shown = text.count("\n")
    state = chat.say("show more")
    assert _reply(state).startswith("Log lines of prod/orders") and _reply(state).count("\n") > shown


def test_what_happened_is_the_incidents_timeline(play_scenario):
    play_scenario("oom-after-deploy")
    chat = Conversation(allow_write=True)
    chat.say("please roll back cluster prod service api")
    chat.resume({"decision": "reject", "by": "bob"})
    state = chat.say("what happened?")
    text = _reply(state)
    incident_id = state["incident_id"]
    assert text.startswith(f"Incident {incident_id} on prod/api (us-east-1, account 123456789012): rejected")
    kinds = [line.split()[2].rstrip(":") for line in text.splitlines()[1:]]
    assert kinds[0] == "triggered" and {"triage", "approval"} <= set(kinds)
    assert "bob" in text


def test_help_lists_what_the_agent_does_even_when_two_services_match(play_scenario):
    fake = play_scenario(two_environments())
    chat = Conversation()
    state = chat.say("help")
    text = _reply(state)
    assert text.startswith("I look after Amazon ECS services.") and "Which one do you mean" not in text
    assert '"is anything broken in prod?"' in text and '"show me the logs"' in text
    assert not state.get("findings") and fake.calls == []  # nothing read for help


def test_is_anything_broken_in_prod_sweeps_the_prod_cluster_worst_first(play_scenario):
    play_scenario(two_environments())
    chat = Conversation()
    state = chat.say("is anything broken in prod?")
    text = _reply(state)
    assert text.startswith("Swept prod (us-east-1, account 123456789012): 2 of 2 services checked, 1 with a problem")
    assert "  1. prod/api is degraded: cpu-saturation" in text and "healthy: prod/billing" in text
    assert "staging" not in text  # the staging cluster's api is not in prod
    assert not state.get("findings") and "__interrupt__" not in state


def test_a_loosely_matching_name_is_confirmed_before_anything_is_read(play_scenario):
    fake = play_scenario("cpu-saturated")
    chat = Conversation()
    state = chat.say("the biling service is slow")
    assert _reply(state) == "Did you mean prod/billing?"
    assert not state.get("findings") and not [c for c in fake.calls if c["op"] == "ListTasks"]
    state = chat.say("yes")
    assert state["findings"]["target"]["service_arn"] == "arn:aws:ecs:us-east-1:123456789012:service/prod/billing"


def test_a_name_that_does_not_exist_gets_the_closest_one_and_yes_checks_it(play_scenario):
    play_scenario("secret-access-denied")
    chat = Conversation()
    state = chat.say("check prod/paymentz")
    text = _reply(state)
    assert text.startswith("I could not check prod/paymentz: service 'paymentz' not found in cluster 'prod'")
    assert text.endswith("Did you mean prod/payments?") and not state.get("findings")
    state = chat.say("yes")
    assert state["findings"]["target"]["service"] == "payments"
    assert state["findings"]["root_cause"]["category"] == "secrets-access-denied"


def test_something_is_off_after_the_service_was_named_triages_it(play_scenario):
    play_scenario("cpu-saturated")
    chat = Conversation()
    chat.say("what is the status of prod/api?")
    state = chat.say("something is off")
    assert state["context"]["intent"] == "diagnose"
    assert state["findings"]["root_cause"]["category"] == "cpu-saturation" and "cpu-saturation" in _reply(state)


def test_show_more_gives_every_evidence_line_of_the_findings(play_scenario):
    play_scenario("oom-after-deploy")
    chat = Conversation()
    state = chat.say("check prod/api")
    evidence = state["findings"]["root_cause"]["evidence"]
    state = chat.say("show more")
    text = _reply(state)
    assert text.startswith("All the evidence for container-oom (prod/api):")
    assert all(f"  · {line}" in text for line in evidence) and len(evidence) > 3


def test_no_credentials_is_named_as_the_cause_not_a_missing_service(aws_env, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        aws_env.delenv(key)
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    aws_env.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    state = Conversation().say("my api service is slow")
    text = _reply(state)
    assert text.startswith("I could not list the ECS services: no usable AWS credentials")
    assert "Unable to locate credentials" in text and "could not find" not in text


def test_planton_unreachable_is_named_as_the_cause(aws_env):
    aws_env.setenv("PLANTON_API_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    chat = Conversation(planton_token="pt-test", org_id="acme")
    text = _reply(chat.say("my api service is slow"))
    assert text.startswith("I could not list the ECS services: Planton Cloud is unreachable (cannot reach Planton "
                           "Cloud at http://127.0.0.1:9")



def test_with_a_model_the_follow_up_is_still_read_from_aws_and_the_model_only_extracts(play_scenario, bedrock):
    from tests import converse_server as cs

    play_scenario("oom-after-deploy")
    server = bedrock([cs.tool_use("ContextExtraction", {"intent": "diagnose"}),
                      cs.tool_use("ContextExtraction", {"intent": "question"})])
    chat = cs.ModelChat()
    state = chat.say("what changed on prod/api?")
    assert _reply(state).startswith("What changed from api:61 to api:62 (prod/api;")
    assert len(server.requests) == 1 and not state.get("findings")  # the extraction only: no triage, no explanation
    state = chat.say("is it healthy now?")
    assert "is not healthy — not yet: 2 of 4 tasks running on api:62." in _reply(state)
    assert len(server.requests) == 2


def test_what_happened_to_another_service_triages_that_service(play_scenario):
    play_scenario("oom-after-deploy")
    chat = Conversation()
    first = chat.say("check prod/api")
    state = chat.say("what happened to prod/billing?")
    assert state["findings"]["target"]["service_arn"] == "arn:aws:ecs:us-east-1:123456789012:service/prod/billing"
    assert state["incident_id"] != first["incident_id"] and state["context"]["intent"] == "diagnose"
