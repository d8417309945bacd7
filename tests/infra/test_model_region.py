"""The model or inference profile must be callable from the deploy Region; synth says so before a deploy."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

from infra.bedrock_model import BedrockModel, ModelRegionError

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize("model_id, region", [
    (f"us.{SONNET}", "us-east-1"), (f"us.{SONNET}", "us-west-2"), (f"eu.{SONNET}", "eu-west-1"),
    (f"eu.{SONNET}", "eu-central-2"), (f"apac.{SONNET}", "ap-southeast-1"), (f"jp.{SONNET}", "ap-northeast-1"),
    (f"au.{SONNET}", "ap-southeast-2"), (f"ca.{SONNET}", "ca-central-1"), (f"us-gov.{SONNET}", "us-gov-west-1"),
    (f"global.{SONNET}", "eu-west-1"), (f"global.{SONNET}", "sa-east-1"), (SONNET, "eu-west-1"),
    ("arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc", "eu-west-1"),
    (f"arn:aws:bedrock:us-east-2:111122223333:inference-profile/us.{SONNET}", "us-east-2"),
])
def test_models_callable_from_the_region_pass(model_id, region):
    assert BedrockModel.parse(model_id).problem_in(region) is None


@pytest.mark.parametrize("model_id, region, says", [
    (f"us.{SONNET}", "eu-west-1", "'us' cross-Region inference profile"),
    (f"us.{SONNET}", "us-gov-west-1", "'us' cross-Region inference profile"),
    (f"eu.{SONNET}", "us-east-1", "'eu' cross-Region inference profile"),
    (f"apac.{SONNET}", "eu-west-1", "'apac'"),
    (f"jp.{SONNET}", "ap-southeast-1", "'jp'"),
    (f"global.{SONNET}", "us-gov-west-1", "only through commercial Regions"),
    ("arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc", "us-east-1", "in eu-west-1"),
    (f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.{SONNET}", "us-west-2", "in us-east-1"),
])
def test_models_not_callable_from_the_region_are_refused_with_the_reason(model_id, region, says):
    problem = BedrockModel.parse(model_id).problem_in(region)
    assert problem and says in problem and region in problem


def test_a_geography_profile_outside_its_geography_fails_synth_naming_a_way_out(monkeypatch, tmp_path):
    from infra.app import build_app

    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    with pytest.raises(ModelRegionError, match=f"-c modelId=global.{SONNET}"):
        build_app({"assetMode": "source"}, outdir=str(tmp_path))


def test_a_region_agnostic_synth_warns_that_the_model_was_not_checked(synth):
    warnings = Annotations.from_stack(synth.stack).find_warning(
        "*", Match.string_like_regexp("could not be checked against"))
    assert len(warnings) == 1
