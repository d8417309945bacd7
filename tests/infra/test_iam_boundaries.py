"""Least privilege, read from the synthesized policies."""
from __future__ import annotations

import json
import re

from infra.constructs.permissions import WRITE_ACTIONS

READ_VERB = re.compile(r"^[a-z0-9-]+:(Describe|List|Get|BatchGet|Filter|Query)")
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


def test_triage_roles_are_read_only(views):
    for step in ("triage", "verify"):
        actions = {a for s in views.statements(views.role_of(f"functions.workflow.{step}.handler")) for a in _actions(s)}
        assert {"ecs:Describe*", "ecs:List*", "logs:GetLogEvents", "logs:FilterLogEvents"} <= actions
        assert not actions & {*WRITE_ACTIONS, "iam:PassRole", "bedrock:InvokeModel"}


def test_bedrock_only_on_the_chosen_inference_profile_and_its_model(views):
    holders = views.roles_with_action("bedrock:InvokeModel")
    assert holders == {views.role_of("functions.chat_api.handler")}  # workflow steps run rules, never the model
    for role in holders:
        bedrock = [s for s in views.statements(role) if "bedrock:InvokeModel" in _actions(s)]
        text = json.dumps(bedrock)
        assert "inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0" in text
        assert "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0" in text
        assert "foundation-model/*" not in text
        through = [s for s in bedrock if "foundation-model" in json.dumps(s["Resource"])]
        assert all("bedrock:InferenceProfileArn" in s["Condition"]["StringEquals"] for s in through)


def test_plan_step_reads_nothing_in_aws_and_calls_no_model(views):
    actions = {a for s in views.statements(views.role_of("functions.workflow.plan.handler")) for a in _actions(s)}
    assert not {a for a in actions if a.split(":")[0] in ("ecs", "cloudwatch", "bedrock", "states")}


def test_functions_that_answer_a_waiting_approval_may_send_task_responses_to_the_workflow_only(views):
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine")
    holders = views.roles_with_action("states:SendTaskSuccess")
    assert holders == {views.role_of(f"functions.{name}.handler")
                       for name in ("approval_api", "chat_api", "workflow.request_approval")}
    for role in holders:
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
    return json.dumps([stack.resolve(s.to_statement_json()) for s in bedrock_statements(model_id)])


def test_bedrock_grant_follows_the_kind_of_model_id():
    plain = _resolved("anthropic.claude-3-5-haiku-20241022-v1:0")
    assert "foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0" in plain and "inference-profile" not in plain
    profile = _resolved("eu.anthropic.claude-3-5-haiku-20241022-v1:0")
    assert "inference-profile/eu.anthropic" in profile and ":bedrock:*::foundation-model/anthropic." in profile
    arn = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc123"
    application = _resolved(arn)
    assert f'"Resource": "{arn}"' in application
    assert '"bedrock:InferenceProfileArn": "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile' \
        in application
