"""Evidence the triage never read before, end to end over HTTP (fakeaws + real boto3): a rollback only service
deployments show, a steady service whose running tasks are denied AWS calls."""
from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.engine import run_triage
from tests.conftest import load_scenario

ARN = "arn:aws:ecs:us-east-1:123456789012"


class ServiceRevisions:
    """A WSGI front for FakeAws that answers DescribeServiceRevisions (fakeaws does not) from the scenario."""

    def __init__(self, fake, revisions: list[dict]):
        self.fake, self.revisions = fake, revisions

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".DescribeServiceRevisions"):
            wanted = set(json.loads(Request(environ).get_data() or b"{}").get("serviceRevisionArns") or [])
            self.fake.calls.append({"service": "ecs", "op": "DescribeServiceRevisions", "write": False})
            body = {"serviceRevisions": [r for r in self.revisions if r["serviceRevisionArn"] in wanted], "failures": []}
            return Response(json.dumps(body), content_type="application/x-amz-json-1.1")(environ, start_response)
        return self.fake(environ, start_response)


@pytest.fixture
def front(play_scenario, aws_env):
    servers = []

    def _start(scenario: dict, revisions: list[dict]):
        fake = play_scenario(scenario, read_only=True)
        server = make_server("127.0.0.1", 0, ServiceRevisions(fake, revisions), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
        return fake

    yield _start
    for server in servers:
        server.shutdown()


def _alarm_rollback() -> tuple[dict, list[dict]]:
    """healthy-steady after an alarm rolled api:32 back to api:31: DescribeServices shows api:31 only."""
    scenario = load_scenario("healthy-steady")
    ecs = scenario["ecs"]
    bad = json.loads(json.dumps(next(td for td in ecs["taskDefinitions"] if td["revision"] == 31)))
    bad["revision"] = 32
    bad["containerDefinitions"][0]["image"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2.0.0"
    ecs["taskDefinitions"].append(bad)
    revision = f"{ARN}:service-revision/prod/api/3201"
    ecs["serviceDeployments"] = [{
        "serviceDeploymentArn": f"{ARN}:service-deployment/prod/api/sd-32", "serviceArn": f"{ARN}:service/prod/api",
        "clusterArn": f"{ARN}:cluster/prod", "status": "ROLLBACK_SUCCESSFUL", "createdAt": "-40m",
        "startedAt": "-40m", "finishedAt": "-12m", "updatedAt": "-12m",
        "statusReason": "Service deployment rolled back because alarm(s) api-5xx-high went into ALARM state.",
        "targetServiceRevision": {"arn": revision, "requestedTaskCount": 3},
        "sourceServiceRevisions": [{"arn": f"{ARN}:service-revision/prod/api/3101", "requestedTaskCount": 3}],
        "alarms": {"status": "TRIGGERED", "alarmNames": ["api-5xx-high"], "triggeredAlarmNames": ["api-5xx-high"]}}]
    revisions = [{"serviceRevisionArn": revision, "taskDefinition": f"{ARN}:task-definition/api:32"},
                 {"serviceRevisionArn": f"{ARN}:service-revision/prod/api/3101",
                  "taskDefinition": f"{ARN}:task-definition/api:31"}]
    tasks = []
    for i, age in enumerate(("-20m", "-19m")):
        task_id = f"{i + 1:032x}"
        tasks.append({"id": task_id, "group": "service:api", "taskDefinition": "api:32", "lastStatus": "STOPPED",
                      "desiredStatus": "STOPPED", "stopCode": "ServiceSchedulerInitiated",
                      "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/3101)", "createdAt": "-38m",
                      "startedAt": "-37m", "stoppedAt": age,
                      "containers": [{"name": "api", "lastStatus": "STOPPED", "exitCode": 143}]})
        scenario["logs"].append({"group": "/ecs/api", "stream": f"ecs/api/{task_id}", "events": [
            ["-30m", "INFO api 2.0.0 listening on :8080"],
            ["-25m", "ERROR payment client disabled: environment variable PAYMENT_URL is not set"],
            ["-24m", "ERROR POST /checkout 500"]]})
    ecs["tasks"] += tasks
    return scenario, revisions


def test_a_rollback_seen_only_in_service_deployments_gets_the_failing_revisions_logs_read(front):
    scenario, revisions = _alarm_rollback()
    fake = front(scenario, revisions)

    result, evidence = run_triage(AwsContext(), "prod", "api")

    assert [r["taskDefinition"].rsplit("/", 1)[-1] for r in evidence["service_revisions"]] == ["api:32", "api:31"]
    assert {e["task_id"] for e in evidence["logs"]} == {f"{1:032x}", f"{2:032x}"}
    assert result.root_cause.category == "missing-config"
    assert "deployment-failing" in [f.category for f in result.findings]
    assert [c for c in fake.calls if c.get("write")] == []
    assert len(fake.calls) <= 20


def test_a_steady_service_whose_running_tasks_are_denied_aws_calls(play_scenario):
    scenario = load_scenario("healthy-steady")
    running = [t["id"] for t in scenario["ecs"]["tasks"] if t.get("lastStatus") == "RUNNING"]
    for task_id in running:
        scenario["logs"].append({"group": "/ecs/api", "stream": f"ecs/api/{task_id}", "events": [
            ["-20m", "INFO GET /health 200"],
            ["-15m", "ERROR receipt upload failed: An error occurred (AccessDenied) when calling the PutObject "
                     "operation: User: arn:aws:sts::123456789012:assumed-role/api-task/1f2e is not authorized to "
                     "perform: s3:PutObject on resource: arn:aws:s3:::receipts/2025/03/14.pdf"]]})
    fake = play_scenario(scenario, read_only=True)

    result, evidence = run_triage(AwsContext(), "prod", "api")

    assert evidence["logs"] and {e["task_id"] for e in evidence["logs"]} <= set(running)
    assert result.root_cause.category == "task-role-access-denied"
    assert len(fake.calls) <= 20
