"""One synthesis of the stack per test session (unit asset: source only, no pip bundling)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

# jsii prints a banner about old Node majors on every start; it says nothing about our code.
for _flag in ("END_OF_LIFE", "DEPRECATED", "UNTESTED"):
    os.environ.setdefault(f"JSII_SILENCE_WARNING_{_flag}_NODE_VERSION", "18,20,21,23")

REPO_ASL = Path(__file__).resolve().parents[2] / "functions" / "workflow" / "state_machine.asl.json"
STEPS = ("Triage", "Plan", "RequestApproval", "Remediate", "Verify", "Report")

# What the tests deploy: two watched clusters, one of them writable.
CONTEXT = {
    "assetMode": "source",
    "allowWrite": "true",
    "clusters": "prod,staging",
    "writeClusters": "prod",
    "notificationEmail": "oncall@example.com,lead@example.com",
}


@dataclass
class Synth:
    stack: object
    template: object  # aws_cdk.assertions.Template
    json: dict
    path: Path


def minimal_asl() -> dict:
    """A valid definition using every substitution, for when the repo's ASL is not there yet."""
    states = {}
    for i, step in enumerate(STEPS):
        states[step] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": f"${{{step}FunctionArn}}", "Payload.$": "$"},
                        **({"End": True} if i == len(STEPS) - 1 else {"Next": STEPS[i + 1]})}
    return {"StartAt": STEPS[0], "States": states}


def synthesize(tmp_dir: Path, **overrides: str) -> Synth:
    from aws_cdk.assertions import Template

    from infra.app import build_app

    context = dict(CONTEXT, **overrides)
    if not REPO_ASL.is_file():
        asl = tmp_dir / "state_machine.asl.json"
        asl.write_text(json.dumps(minimal_asl()))
        context["stateMachineDefinition"] = str(asl)
    app, stack = build_app(context, outdir=str(tmp_dir / "cdk.out"))
    assembly = app.synth()
    path = Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path)
    return Synth(stack=stack, template=Template.from_stack(stack), json=json.loads(path.read_text()), path=path)


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("infra"))


@pytest.fixture(scope="session")
def resources(synth) -> dict:
    return synth.json["Resources"]


class Views:
    """Read the synthesized template the way the tests ask about it."""

    def __init__(self, resources: dict):
        self.resources = resources

    def of_type(self, kind: str) -> dict[str, dict]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def function(self, handler: str) -> tuple[str, dict]:
        found = [(k, r) for k, r in self.of_type("AWS::Lambda::Function").items()
                 if r["Properties"].get("Handler") == handler]
        assert len(found) == 1, f"{handler}: {len(found)} functions"
        return found[0]

    def role_of(self, handler: str) -> str:
        return self.function(handler)[1]["Properties"]["Role"]["Fn::GetAtt"][0]

    def env(self, handler: str) -> dict:
        return self.function(handler)[1]["Properties"].get("Environment", {}).get("Variables", {})

    def statements(self, role: str) -> list[dict]:
        """Every statement attached to `role`, inline or through an AWS::IAM::Policy."""
        out = []
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"].get("Roles", []):
                out += policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in self.resources[role]["Properties"].get("Policies", []):
            out += policy["PolicyDocument"]["Statement"]
        return out

    def actions(self, role: str) -> set[str]:
        return {a for s in self.statements(role) for a in _list(s["Action"])}

    def roles_with_action(self, action: str) -> set[str]:
        roles = set()
        for role in self.of_type("AWS::IAM::Role"):
            if any(action in _list(s["Action"]) for s in self.statements(role)):
                roles.add(role)
        return roles


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def views(resources) -> Views:
    return Views(resources)


# A second deployment in the same account: another stack name, the default allowWrite=false, and a model
# given as an application inference profile ARN.
SECOND_STACK = "Ecs-Agent--Staging-EU"
APPLICATION_PROFILE = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc123"


@pytest.fixture(scope="session")
def second_synth(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("second"), stackName=SECOND_STACK, allowWrite="false",
                      modelId=APPLICATION_PROFILE)


@pytest.fixture(scope="session")
def read_only_views(second_synth) -> Views:
    """A stack deployed with the default allowWrite=false."""
    return Views(second_synth.json["Resources"])
