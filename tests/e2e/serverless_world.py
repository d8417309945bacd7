"""A local serverless world for the workflow tests: moto's Step Functions interpreter runs the real ASL,
Lambda invokes are routed to our handlers in-process, ECS is a fakeaws scenario, Postgres is real.

moto runs no Lambda code without Docker (use_docker=False selects its LambdaSimpleBackend, which echoes the
event), so that backend's `invoke` is replaced by a router that
calls `functions.<module>.handler` and answers as Lambda does (x-amz-function-error on exceptions).
"""
from __future__ import annotations

import importlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "functions" / "workflow" / "state_machine.asl.json"
ACCOUNT = "123456789012"
STEP_MODULES = {
    "TriageFunctionArn": "functions.workflow.triage",
    "PlanFunctionArn": "functions.workflow.plan",
    "RequestApprovalFunctionArn": "functions.workflow.request_approval",
    "RemediateFunctionArn": "functions.workflow.remediate",
    "VerifyFunctionArn": "functions.workflow.verify",
    "ReportFunctionArn": "functions.workflow.report",
}


@dataclass
class LambdaContextStub:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.function_name}"


def function_arn(region: str, module: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{module.rsplit('.', 1)[-1].replace('_', '-')}"


class LambdaRouter:
    """Stands in for moto's LambdaSimpleBackend.invoke; records each call."""

    def __init__(self, region: str):
        self.routes = {function_arn(region, m).rsplit(":", 1)[-1]: m for m in STEP_MODULES.values()}
        self.calls: list[str] = []
        self.fail_next: dict[str, Exception] = {}

    def __call__(self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                 response_headers: Any) -> bytes:
        name = re.sub(r":\d+$|:live$", "", function_name).rsplit(":", 1)[-1]
        module = importlib.import_module(self.routes[name])
        self.calls.append(name)
        event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
        try:
            if name in self.fail_next:
                raise self.fail_next.pop(name)
            result = module.handler(event, LambdaContextStub(name))
            payload = json.dumps(result)
        except Exception as exc:  # noqa: BLE001 - Lambda turns any exception into a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
        response_headers["Content-Length"] = str(len(payload))
        return payload.encode()


def create_state_machine(sfn: Any, region: str) -> str:
    definition = ASL.read_text()
    for key, module in STEP_MODULES.items():
        definition = definition.replace("${" + key + "}", function_arn(region, module))
    assert "${" not in definition
    return sfn.create_state_machine(name="ecs-incidents", definition=definition,
                                    roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def sent_emails(region: str) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    topic_messages = sns_backends[ACCOUNT][region].topics
    out = []
    for topic in topic_messages.values():
        for sent in topic.sent_notifications:
            out.append({"id": sent[0], "message": sent[1], "subject": sent[2]})
    return out


def execution_status(sfn: Any, arn: str) -> str:
    return sfn.describe_execution(executionArn=arn)["status"]


def history_states(sfn: Any, arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def s3_reports(region: str, bucket: str, incident_id: str) -> dict[str, str]:
    s3 = boto3.client("s3", region_name=region)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"incidents/{incident_id}/").get("Contents", [])
    return {o["Key"].rsplit("/", 1)[-1]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
            for o in listed}
