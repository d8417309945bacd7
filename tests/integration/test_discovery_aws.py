"""AWS-native discovery against moto: two accounts through STS AssumeRole, tags, credential refresh."""
from __future__ import annotations

import datetime as dt
import json
import logging

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.discovery import ServiceNotFound, find_services
from agents.aws_ecs_service.discovery.aws_native import DEFAULT_TARGET, REFRESH_MARGIN, AwsNativeDiscovery
from agents.aws_ecs_service.discovery.factory import Discovery
from agents.aws_ecs_service.discovery.tools import DiscoveryTools, langchain_tools
from tests.integration.test_conversation import Conversation

pytestmark = pytest.mark.slow  # moto worlds of two accounts through STS: about a second each

HOME_ACCOUNT = "123456789012"  # moto's default account
STAGING_ACCOUNT = "222222222222"
ROLE_ARN = f"arn:aws:iam::{STAGING_ACCOUNT}:role/ecs-agent-read"


def _make_service(ecs, cluster: str, name: str, tags: list[dict[str, str]] | None = None,
                  cluster_tags: list[dict[str, str]] | None = None) -> None:
    ecs.create_cluster(clusterName=cluster, tags=cluster_tags or [])
    ecs.register_task_definition(family=name, containerDefinitions=[{"name": name, "image": "nginx", "memory": 128}])
    kwargs = {"tags": tags} if tags else {}
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=1, **kwargs)


def _assumed_ecs(region: str, role_arn: str = ROLE_ARN):
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    return boto3.client("ecs", region_name=region, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


@pytest.fixture
def two_accounts(aws_env):
    """Home account: api (prod, tag on the service) in us-east-1. Staging account: checkout-api in eu-west-1,
    environment from the *cluster* tag, plus worker in us-east-1 with no tags (the target's environment)."""
    with mock_aws():
        home = boto3.client("ecs", region_name="us-east-1")
        _make_service(home, "prod", "api", tags=[{"key": "Environment", "value": "production"},
                                                 {"key": "org", "value": "acme"}])
        _make_service(_assumed_ecs("eu-west-1"), "shop", "checkout-api",
                      cluster_tags=[{"key": "environment", "value": "staging"}])
        _make_service(_assumed_ecs("us-east-1"), "batch", "worker")
        yield


def _discovery(**kwargs) -> AwsNativeDiscovery:
    return AwsNativeDiscovery(targets=[{"name": "staging", "roleArn": ROLE_ARN, "externalId": "xyz-123",
                                        "regions": ["eu-west-1", "us-east-1"], "environment": "qa"}],
                              region="us-east-1", **kwargs)


def test_lists_services_across_accounts_and_regions_with_environment_from_tags(two_accounts):
    directory = _discovery()
    records = {r.name: r for r in directory.list_services()}

    assert set(records) == {"api", "checkout-api", "worker"}
    api, checkout, worker = records["api"], records["checkout-api"], records["worker"]
    assert (api.account_id, api.region, api.cluster, api.environment, api.organization, api.target) == (
        HOME_ACCOUNT, "us-east-1", "prod", "production", "acme", DEFAULT_TARGET)
    assert (checkout.account_id, checkout.region, checkout.cluster, checkout.environment, checkout.target) == (
        STAGING_ACCOUNT, "eu-west-1", "shop", "staging", "staging")
    assert checkout.arn.startswith(f"arn:aws:ecs:eu-west-1:{STAGING_ACCOUNT}:service/")
    assert (worker.account_id, worker.environment) == (STAGING_ACCOUNT, "qa")  # no tags: the target's environment
    assert directory.last_scan_errors == []
    assert [r.name for r in directory.list_services(environment="STAGING")] == ["checkout-api"]
    assert [r.name for r in directory.list_services(organization="acme")] == ["api"]
    assert directory.get_service(checkout.arn) == checkout
    with pytest.raises(ServiceNotFound):
        directory.get_service("arn:aws:ecs:us-east-1:123456789012:service/prod/nope")


def test_configurable_environment_tag_keys(two_accounts):
    directory = _discovery(environment_tag_keys=("stage",))
    records = {r.name: r for r in directory.list_services()}
    # "Environment" is no longer an environment key: api falls back to the default target's (none)
    assert records["api"].environment is None


def test_assumed_credentials_are_cached_then_refreshed_before_expiry(two_accounts):
    now = [dt.datetime.now(dt.UTC)]
    directory = _discovery(clock=lambda: now[0])

    first = directory.extract_for_sdk("staging", region="eu-west-1")
    again = directory.extract_for_sdk("staging")
    assert directory.sts_calls == 1 and again["aws_access_key_id"] == first["aws_access_key_id"]
    assert set(first) == {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region"}
    assert first["region"] == "eu-west-1" and again["region"] == "eu-west-1"  # the target's first region
    caller = boto3.client("sts", region_name="us-east-1", aws_access_key_id=first["aws_access_key_id"],
                          aws_secret_access_key=first["aws_secret_access_key"],
                          aws_session_token=first["aws_session_token"]).get_caller_identity()
    assert caller["Account"] == STAGING_ACCOUNT
    assert "ecs-incident-agent-staging" in caller["Arn"]  # the session name says who is calling

    expires = directory.get_credential("staging").expires_at
    now[0] = expires - REFRESH_MARGIN + dt.timedelta(seconds=1)  # inside the refresh window
    refreshed = directory.extract_for_sdk("staging")
    assert directory.sts_calls == 2
    assert refreshed["aws_access_key_id"] != first["aws_access_key_id"]
    # repr never shows the keys
    assert first["aws_secret_access_key"] not in repr(first) and first["aws_access_key_id"] not in str(first)


def test_checkout_service_in_staging_is_found_and_reached_in_the_second_account(two_accounts):
    native = _discovery()
    discovery = Discovery(provider="aws", credentials=native, services=native)
    checkout = find_services("the checkout service in staging", directory=native)[0]
    ctx = discovery.session_for_service(checkout)
    assert ctx.region == "eu-west-1"
    described = ctx.client("ecs").describe_services(cluster=checkout.cluster, services=[checkout.name])
    assert described["services"][0]["serviceArn"] == checkout.arn
    home = discovery.session_for_service(find_services("api", directory=native)[0])
    assert home.client("sts").get_caller_identity()["Account"] == HOME_ACCOUNT


def test_find_services_fuzzy_and_environment(two_accounts):
    directory = _discovery()
    assert [r.name for r in find_services("the checkout service in staging", directory=directory)] == ["checkout-api"]
    assert [r.name for r in find_services("checkout", environment="stg", directory=directory)] == ["checkout-api"]
    assert [r.name for r in find_services("chekout", directory=directory)] == ["checkout-api"]  # a typo
    assert find_services("checkout", environment="production", directory=directory) == []
    assert [r.name for r in find_services("api in prod", directory=directory)] == ["api"]
    assert find_services("billing", directory=directory) == []


def test_target_that_cannot_be_assumed_is_reported_not_fatal(two_accounts, caplog):
    directory = AwsNativeDiscovery(targets=[{"name": "broken", "roleArn": "not-a-role-arn",
                                             "regions": ["us-east-1"]}], region="us-east-1")
    with caplog.at_level(logging.WARNING):
        names = sorted(r.name for r in directory.list_services())
    assert names == ["api"]
    assert len(directory.last_scan_errors) == 1
    assert directory.last_scan_errors[0].startswith("broken/us-east-1: cannot assume not-a-role-arn")
    assert "broken/us-east-1" in caplog.text


def test_tools_return_summaries_never_keys(two_accounts):
    native = _discovery()
    tools = DiscoveryTools(Discovery(provider="aws", credentials=native, services=native))
    secret = native.extract_for_sdk("staging")

    listed = json.loads(tools.list_aws_credentials())
    assert {c["id"] for c in listed["credentials"]} == {"default", "staging"}
    assert json.loads(tools.get_aws_credential("staging"))["account_id"] == STAGING_ACCOUNT
    ready = tools.extract_aws_credentials_for_sdk("staging", region="eu-west-1")
    assert ready.startswith(f"credentials ready for account {STAGING_ACCOUNT} region eu-west-1")
    services = json.loads(tools.list_aws_ecs_services(environment="staging"))
    assert [s["name"] for s in services["services"]] == ["checkout-api"]
    one = json.loads(tools.get_aws_ecs_service(services["services"][0]["id"]))
    assert one["account_id"] == STAGING_ACCOUNT
    outputs = [json.dumps(listed), tools.get_aws_credential("staging"), ready, json.dumps(services)]
    for text in outputs:
        assert secret["aws_secret_access_key"] not in text and secret["aws_session_token"] not in text
        assert "xyz-123" not in text  # the external id is not shown either


def test_langchain_tools_wrap_the_five_and_turn_errors_into_text(two_accounts):
    native = _discovery()
    tools = {t.name: t for t in langchain_tools(Discovery(provider="aws", credentials=native, services=native))}
    assert set(tools) == {"list_aws_credentials", "get_aws_credential", "extract_aws_credentials_for_sdk",
                          "list_aws_ecs_services", "get_aws_ecs_service"}
    assert "checkout-api" in tools["list_aws_ecs_services"].invoke({"environment": "staging"})
    assert "no AWS target named 'nope'" in tools["get_aws_credential"].invoke({"credential_id": "nope"})


def test_conversation_resolves_my_api_in_production_to_the_other_account_and_triages_there(aws_env):
    """Both accounts run main/api in eu-west-1; only the production account's is tagged production."""
    prod_account = "333333333333"
    prod_role = f"arn:aws:iam::{prod_account}:role/ecs-agent-read"
    with mock_aws():
        _make_service(boto3.client("ecs", region_name="eu-west-1"), "main", "api",
                      tags=[{"key": "environment", "value": "staging"}])
        _make_service(_assumed_ecs("eu-west-1", prod_role), "main", "api",
                      tags=[{"key": "environment", "value": "production"}])
        chat = Conversation(aws_region="eu-west-1",
                            targets=[{"name": "prod", "roleArn": prod_role, "regions": ["eu-west-1"]}])

        state = chat.say("my API in production keeps timing out")

    ctx = state["context"]
    assert (ctx["cluster"], ctx["service"], ctx["region"], ctx["target"], ctx["account_id"]) == (
        "main", "api", "eu-west-1", "prod", prod_account)
    assert state["findings"]["target"]["service_arn"] == f"arn:aws:ecs:eu-west-1:{prod_account}:service/main/api"
    # the triage read the service through the assumed role: the ARN it saw is the production account's
    assert state["evidence"]["service"]["serviceArn"].split(":")[4] == prod_account
