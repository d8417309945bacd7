"""Each handler imports with nothing but its asset on sys.path.

The Lambda assets hold aarch64 wheels, so each is built again from the same lock file and the same
module selection for this machine's platform (its "twin"), and every handler module is imported
from it in a fresh `python -I -S` (infra/import_probe.py). A code change that drags LangChain into
the intake, or a package a lock file does not pin, fails here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra import bundling
from infra.assets import OMITTED
from infra.import_probe import import_in_isolation
from infra.settings import Settings
from infra.stack import asset_builds, function_specs
from tests import converse_server as cs

pytestmark = pytest.mark.slow  # builds asset copies and imports handlers in fresh interpreters

MODEL_STACK = {"langchain", "langchain_core", "langchain_aws", "langgraph", "langsmith", "numpy"}
PYTHON = bundling.bundle_python() or sys.executable
BUILDS = asset_builds(function_specs(Settings()), Settings())
HANDLERS = [(kind, module) for kind, build in BUILDS.items() for module in build.handlers]


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    target = bundling.host_target(bundling.python_version_of(PYTHON))
    out = {}
    for kind, build in BUILDS.items():
        out[kind] = tmp_path_factory.mktemp(f"twin-{kind}")
        build.build(out[kind], target)
    return out


@pytest.mark.parametrize("kind, module", HANDLERS, ids=[m for _, m in HANDLERS])
def test_each_handler_imports_from_its_asset_alone(twins, kind, module):
    loaded = import_in_isolation(PYTHON, twins[kind], module).packages
    assert "agents" in loaded or module == "functions.migrate"
    if kind != "graph":
        assert not loaded & MODEL_STACK, sorted(loaded & MODEL_STACK)


def test_the_workflow_and_chat_functions_load_the_x_ray_sdk_their_tracer_needs(twins):
    assert "aws_xray_sdk" in import_in_isolation(PYTHON, twins["workflow"], "functions.workflow.triage").packages
    assert "aws_xray_sdk" in import_in_isolation(PYTHON, twins["graph"], "functions.chat_api").packages


def test_the_chat_model_answers_without_the_packages_the_graph_asset_omits(twins):
    """numpy and zstandard are declared by langchain-aws and langsmith but left out of the lock: a real
    Converse round trip (against a local Bedrock stand-in) must not need them."""
    ask = ("from agents.aws_ecs_service.config import ECSDeepAgentConfig; "
           "from agents.aws_ecs_service.conversation.model import make_chat_model; "
           f"model = make_chat_model(ECSDeepAgentConfig(model_name={cs.MODEL_ID!r}, aws_region='us-east-1')); "
           "assert model.invoke('Why is prod/api down?').content == 'because'")
    with cs.ConverseServer([cs.text("because")]) as server:
        loaded = import_in_isolation(PYTHON, twins["graph"], "functions.chat_api", after=ask,
                                     env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.endpoint}).packages
    assert len(server.requests) == 1 and server.requests[0]["model"] == cs.MODEL_ID
    assert "langchain_aws" in loaded and not loaded & set(OMITTED)
