"""Least privilege, read from the synthesized policies."""
from __future__ import annotations

import json
import re

import pytest

from infra.bedrock_model import BedrockModel
from infra.constructs.permissions import WRITE_ACTIONS
from infra.stack import WRITE_SCOPED
from tests.infra.conftest import APPLICATION_PROFILE

READ_VERB = re.compile(r"^[a-z0-9-]+:(Describe|List|Get|BatchGet|Filter|Query)")
WRITE_SCOPED_HANDLERS = [f"functions.{'' if n == 'chat_api' else 'workflow.'}{n}.handler" for n in WRITE_SCOPED]
# Write-ish actions AWS offers no resource-level permission for: X-Ray segments, and the vended log
# delivery Step Functions sets up for its own logging.
NO_RESOURCE_LEVEL = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "logs:CreateLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy",
}


def _actions(statement: dict) -> list[str]:
    value = statement["Action"]
    return value if isinstance(value, list) else [value]


def _resources(statement: dict) -> list:
    value = statement.get("Resource", [])
    return value if isinstance(value, list) else [value]


def test_only_the_remediate_function_may_change_ecs(views):
    remediate = views.role_of("functions.workflow.remediate.handler")
    for action in WRITE_ACTIONS:
        assert views.roles_with_action(action) == {remediate}, action
    assert views.roles_with_action("iam:PassRole") == {remediate}


def test_no_write_action_on_a_star_resource(views):
    offenders = []
    for role in views.of_type("AWS::IAM::Role"):
        for statement in views.statements(role):
            if statement["Effect"] != "Allow" or "*" not in _resources(statement):
                continue
            writes = [a for a in _actions(statement) if not READ_VERB.match(a) and a not in NO_RESOURCE_LEVEL]
            if writes:
                offenders.append((role, writes))
    assert offenders == []


def test_writes_are_limited_to_the_writable_clusters(views):
    statements = views.statements(views.role_of("functions.workflow.remediate.handler"))
    writes = {s["Sid"]: s for s in statements if set(_actions(s)) & set(WRITE_ACTIONS)}
    text = json.dumps(writes)
    assert "/prod/" in text and "staging" not in text
    assert writes["RemediateRunTask"]["Condition"]["ArnEquals"]["ecs:cluster"]
    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def _clusters_iam_may_change(views) -> set[str]:
    """Clusters whose services UpdateService may change, per the remediate role's policy."""
    statements = views.statements(views.role_of("functions.workflow.remediate.handler"))
    resources = [r for s in statements if "ecs:UpdateService" in _actions(s) for r in _resources(s)]
    # arn:<partition>:ecs:<region>:<account>:service/<cluster>/*, joined by CloudFormation
    return {json.dumps(r).split(":service/")[1].split("/")[0] for r in resources}


@pytest.mark.parametrize("cluster", ["prod", "staging"])
def test_each_cluster_is_writable_at_run_time_exactly_when_iam_lets_it_be_changed(views, cluster):
    """clusters=prod,staging writeClusters=prod allowWrite=true: the functions that plan, ask for approval,
    remediate and chat are told the clusters IAM grants writes on, and no other."""
    iam_writable = cluster in _clusters_iam_may_change(views)
    for handler in WRITE_SCOPED_HANDLERS:
        runtime_writable = cluster in views.env(handler)["WRITE_CLUSTERS"].split(",")
        assert runtime_writable == iam_writable, (handler, cluster)
    assert iam_writable == (cluster == "prod")


def test_without_allow_write_no_function_is_told_a_cluster_is_writable(read_only_views):
    for handler in WRITE_SCOPED_HANDLERS:
        assert read_only_views.env(handler)["WRITE_CLUSTERS"] == ""


def test_triage_roles_are_read_only(views):
    for step in ("triage", "verify"):
        actions = {a for s in views.statements(views.role_of(f"functions.workflow.{step}.handler")) for a in _actions(s)}
        assert {"ecs:Describe*", "ecs:List*", "logs:GetLogEvents", "logs:FilterLogEvents"} <= actions
        assert not actions & {*WRITE_ACTIONS, "iam:PassRole", "bedrock:InvokeModel"}


def test_bedrock_only_on_the_chosen_inference_profile_and_its_model(views):
    holders = views.roles_with_action("bedrock:InvokeModel")
    assert holders == {views.role_of("functions.chat_api.handler")}  # workflow steps run rules, never the model
    for role in holders:
        bedrock = [s for s in views.statements(role) if any(a.startswith("bedrock:") for a in _actions(s))]
        text = json.dumps(bedrock)
        assert "inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0" in text
        assert "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0" in text
        assert "foundation-model/*" not in text
        through = [s for s in bedrock if "foundation-model" in json.dumps(s["Resource"])]
        assert all("bedrock:InferenceProfileArn" in s["Condition"]["StringEquals"] for s in through)
        (read,) = [s for s in bedrock if "bedrock:GetInferenceProfile" in _actions(s)]
        assert "inference-profile/us.anthropic" in json.dumps(read["Resource"])


def test_an_application_inference_profile_can_be_looked_up_through_its_own_endpoint(read_only_views, views):
    chat = read_only_views.role_of("functions.chat_api.handler")
    (read,) = [s for s in read_only_views.statements(chat) if "bedrock:GetInferenceProfile" in _actions(s)]
    assert _resources(read) == [APPLICATION_PROFILE]
    endpoints = [json.dumps(e["Properties"]["ServiceName"]) for e in
                 read_only_views.of_type("AWS::EC2::VPCEndpoint").values()]
    assert any(e.endswith('.bedrock"]]}') for e in endpoints)
    # A system profile id needs no control-plane call, and so no endpoint for it.
    default = [json.dumps(e["Properties"]["ServiceName"]) for e in views.of_type("AWS::EC2::VPCEndpoint").values()]
    assert not any(e.endswith('.bedrock"]]}') for e in default)


def test_plan_step_reads_nothing_in_aws_and_calls_no_model(views):
    actions = {a for s in views.statements(views.role_of("functions.workflow.plan.handler")) for a in _actions(s)}
    assert not {a for a in actions if a.split(":")[0] in ("ecs", "cloudwatch", "bedrock", "states")}


def test_functions_that_answer_a_waiting_approval_may_send_task_responses_to_the_workflow_only(views):
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine")
    holders = views.roles_with_action("states:SendTaskSuccess")
    assert holders == {views.role_of(f"functions.{name}.handler")
                       for name in ("approval_api", "chat_api", "workflow.request_approval", "deliver_decisions")}
    # the intake may only stop a wait (a different failure: triage again), never approve
    failing = views.roles_with_action("states:SendTaskFailure")
    assert failing == holders | {views.role_of("functions.intake.handler")}
    for role in failing:
        grant = [s for s in views.statements(role) if "states:SendTaskFailure" in _actions(s)]
        assert grant and all(r == {"Ref": machine} for s in grant for r in _resources(s))


def test_only_intake_and_chat_start_workflow_executions_and_chat_still_writes_nothing(views):
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine")
    chat = views.role_of("functions.chat_api.handler")
    holders = views.roles_with_action("states:StartExecution")
    assert holders == {views.role_of("functions.intake.handler"), chat}  # chat: a plan approved in chat
    for role in holders:
        grant = [s for s in views.statements(role) if "states:StartExecution" in _actions(s)]
        assert all(r == {"Ref": machine} for s in grant for r in _resources(s))
    actions = {a for s in views.statements(chat) for a in _actions(s)}
    assert not actions & {*WRITE_ACTIONS, "iam:PassRole"}


def test_only_workflow_functions_get_invoked_by_the_state_machine(views):
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine").values()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = {json.dumps(r) for s in views.statements(role) if "lambda:InvokeFunction" in _actions(s)
               for r in _resources(s)}
    assert len(invoked) == 6
    assert not any("Intake" in r or "ChatApi" in r or "Migrate" in r for r in invoked)


def test_default_allow_write_false_gives_nobody_ecs_writes(read_only_views):
    for action in (*WRITE_ACTIONS, "iam:PassRole"):
        assert read_only_views.roles_with_action(action) == set()
    assert read_only_views.env("functions.workflow.remediate.handler")["ALLOW_WRITE"] == "false"


def _resolved(model_id: str) -> str:
    from aws_cdk import App, Stack

    from infra.constructs.permissions import bedrock_statements

    stack = Stack(App(), "Probe")
    return json.dumps([stack.resolve(s.to_statement_json()) for s in bedrock_statements(BedrockModel.parse(model_id))])


def test_bedrock_grant_follows_the_kind_of_model_id():
    plain = _resolved("anthropic.claude-3-5-haiku-20241022-v1:0")
    assert "foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in plain and "inference-profile" not in plain
    assert "GetInferenceProfile" not in plain
    profile = _resolved("eu.anthropic.claude-3-5-haiku-20241022-v1:0")
    assert "inference-profile/eu.anthropic" in profile and ":bedrock:*::foundation-model/anthropic." in profile
    assert ":bedrock:::foundation-model" not in profile and "GetInferenceProfile" in profile
    arn = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc123"
    application = _resolved(arn)
    assert f'"Resource": "{arn}"' in application
    assert '"bedrock:InferenceProfileArn": "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile' \
        in application


def test_a_global_profile_may_also_reach_its_model_through_the_region_less_arn():
    """Global cross-Region inference is authorized on arn:<partition>:bedrock:::foundation-model/<model>."""
    statements = json.loads(_resolved("global.anthropic.claude-sonnet-4-5-20250929-v1:0"))
    (through,) = [s for s in statements if s["Sid"] == "InvokeThroughProfile"]
    resources = json.dumps(through["Resource"])
    assert ':bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"' in resources
    assert ':bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"' in resources
    assert "inference-profile/global.anthropic" in json.dumps(through["Condition"])
