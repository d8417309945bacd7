"""Two stacks of the app deploy side by side in one account and Region: every name that must be unique there
derives from the stack's name."""
from __future__ import annotations

import re

import pytest

from infra.naming import RDS_NAME_LIMIT, physical_name
from tests.infra.conftest import SECOND_STACK

# (resource type, property) whose value must be unique per account and Region.
UNIQUE_NAMES = {
    ("AWS::RDS::DBInstance", "DBInstanceIdentifier"), ("AWS::RDS::DBProxy", "DBProxyName"),
    ("AWS::RDS::DBCluster", "DBClusterIdentifier"), ("AWS::RDS::DBSubnetGroup", "DBSubnetGroupName"),
    ("AWS::Logs::LogGroup", "LogGroupName"), ("AWS::Lambda::Function", "FunctionName"),
    ("AWS::IAM::Role", "RoleName"), ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::SQS::Queue", "QueueName"), ("AWS::SNS::Topic", "TopicName"), ("AWS::S3::Bucket", "BucketName"),
    ("AWS::SecretsManager::Secret", "Name"), ("AWS::StepFunctions::StateMachine", "StateMachineName"),
    ("AWS::Events::Rule", "Name"), ("AWS::KMS::Alias", "AliasName"), ("AWS::CloudWatch::Alarm", "AlarmName"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"), ("AWS::EC2::SecurityGroup", "GroupName"),
}
RDS_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")


def _fixed_names(resources: dict) -> dict[tuple[str, str], str]:
    """(logical id, property) -> literal name, for every unique-per-account name the template sets itself."""
    names = {}
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        for kind, prop in UNIQUE_NAMES:
            if resource["Type"] == kind and isinstance(props.get(prop), str):
                names[(logical_id, prop)] = props[prop]
        # The secret rotation function comes from the Serverless Application Repository, named by a parameter.
        if resource["Type"] == "AWS::Serverless::Application" and "functionName" in props.get("Parameters", {}):
            names[(logical_id, "functionName")] = props["Parameters"]["functionName"]
    return names


def test_every_fixed_name_differs_between_two_stacks_of_the_app(synth, second_synth):
    first, second = _fixed_names(synth.json["Resources"]), _fixed_names(second_synth.json["Resources"])
    assert first.keys() == second.keys()
    kinds = {synth.json["Resources"][logical_id]["Type"] for logical_id, _ in first}
    assert {"AWS::RDS::DBInstance", "AWS::RDS::DBProxy", "AWS::Serverless::Application"} <= kinds
    clashes = {key: name for key, name in first.items() if second[key] == name}
    assert clashes == {}


def test_rds_names_fit_rds_rules_for_both_stacks(synth, second_synth):
    for stack in (synth, second_synth):
        resources = stack.json["Resources"]
        names = [name for (logical_id, prop), name in _fixed_names(resources).items()
                 if resources[logical_id]["Type"].startswith("AWS::RDS::")]
        assert len(names) == 2 and all(RDS_NAME.match(n) for n in names), names
    folded = physical_name(SECOND_STACK, "")[:-1]  # "Ecs-Agent--Staging-EU" -> "ecs-agent-staging-eu"
    assert any(n.startswith(f"{folded}-") for n in _fixed_names(second_synth.json["Resources"]).values())


@pytest.mark.parametrize("stack_name", ["EcsIncidentAgent", "A", "9-lives", "x" * 128, "Prod--Agent-"])
def test_physical_names_are_valid_rds_names_whatever_the_stack_name(stack_name):
    name = physical_name(stack_name, "postgres")
    assert RDS_NAME.match(name) and len(name) <= RDS_NAME_LIMIT and name.endswith("-postgres")


def test_long_stack_names_that_share_a_prefix_still_get_distinct_names():
    common = "incident-agent-" * 8
    assert physical_name(common + "eu", "proxy") != physical_name(common + "us", "proxy")
