"""The evidence collector against every shared scenario, played by fakeaws over HTTP with real boto3.

Also the error paths: unknown cluster/service, no credentials, unreachable endpoint, AWS errors,
throttling (retried), and secondary reads that fail without failing the triage.
"""
from __future__ import annotations

import json
import socket
import threading

import pytest
from fakeaws import resolve_time
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.collector import collect
from agents.aws_ecs_service.diagnosis.errors import AwsAccessError, ClusterNotFound, NoCredentials, ServiceNotFound
from agents.aws_ecs_service.diagnosis.evidence import parse_time
from tests.conftest import load_scenario, scenario_files

WINDOW_S = 2 * 3600
MAX_CALLS = 20  # a public scenario
MAX_CALLS_LARGE = 30  # 300 tasks: DescribeTasks by 100s
UNMODELLED = {"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"}


def _target_tasks(scenario: dict, now: float, stopped: bool) -> set[str]:
    t = scenario["target"]
    found = set()
    for task in scenario["ecs"].get("tasks", []):
        if task.get("group") != f"service:{t['service']}" or task.get("cluster", t["cluster"]) != t["cluster"]:
            continue
        is_stopped = task.get("desiredStatus", task.get("lastStatus")) == "STOPPED"
        if is_stopped != stopped:
            continue
        if stopped and task.get("stoppedAt") and resolve_time(task["stoppedAt"], now) < now - WINDOW_S:
            continue
        found.add(task["id"])
    return found


def _task_id(task: dict) -> str:
    return task["taskArn"].rsplit("/", 1)[-1]


def _target_service(scenario: dict) -> dict:
    t = scenario["target"]
    return next(s for s in scenario["ecs"]["services"] if s["serviceName"] == t["service"] and s["cluster"] == t["cluster"])


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_collects_the_scenario_read_only_and_bounded(play_scenario, path):
    scenario = load_scenario(path.name)
    fake = play_scenario(scenario, read_only=True)
    target = scenario["target"]

    evidence = collect(AwsContext(), target["cluster"], target["service"])

    json.dumps(evidence)  # JSON-safe as it is
    assert evidence["service"]["serviceName"] == target["service"]
    assert {_task_id(t) for t in evidence["tasks"]["running"]} == _target_tasks(scenario, fake.now, stopped=False)
    assert {_task_id(t) for t in evidence["tasks"]["stopped"]} == _target_tasks(scenario, fake.now, stopped=True)
    assert all(t["group"] == f"service:{target['service']}" for t in evidence["tasks"]["stopped"])

    start = parse_time(evidence["window"]["start"])
    events_in_window = [e for e in _target_service(scenario).get("events", [])
                        if resolve_time(e["createdAt"], fake.now) >= start.timestamp()]
    assert len(evidence["service"]["events"]) == len(events_in_window)

    current = _target_service(scenario)["taskDefinition"]
    family = current.split(":")[0]
    assert evidence["current_task_definition"].endswith(f"task-definition/{current}")
    assert evidence["current_task_definition"] in evidence["task_definitions"]
    other_revisions = {f"{td['family']}:{td['revision']}" for td in scenario["ecs"]["taskDefinitions"]
                       if td["family"] == family and f"{td['family']}:{td['revision']}" != current}
    if other_revisions:
        assert evidence["previous_task_definition"].rsplit("/", 1)[-1] in other_revisions
        assert evidence["previous_task_definition"] in evidence["task_definitions"]
    else:
        assert evidence["previous_task_definition"] is None

    stopped_ids = _target_tasks(scenario, fake.now, stopped=True)
    task_ids = stopped_ids | _target_tasks(scenario, fake.now, stopped=False)
    scenario_streams = {s["stream"]: [m for _, m in s["events"]] for s in scenario.get("logs", [])
                        if s["stream"].rsplit("/", 1)[-1] in task_ids}
    if any(stream.rsplit("/", 1)[-1] in stopped_ids for stream in scenario_streams):
        assert evidence["logs"], "the scenario has log streams for failed tasks; none were read"
    for entry in evidence["logs"]:
        assert entry["task_id"] in task_ids and entry["essential"] in (True, False)
        assert [e["message"] for e in entry["events"]] == scenario_streams[entry["stream"]]

    metrics = {m["MetricName"] for m in scenario.get("cloudwatch", {}).get("metrics", [])
               if {d["Value"] for d in m["Dimensions"]} == {target["cluster"], target["service"]}}
    for name in metrics:
        assert evidence["metrics"][name], f"{name} datapoints missing"
    alarms_in_alarm = {a["AlarmName"] for a in scenario.get("cloudwatch", {}).get("alarms", [])
                       if a.get("state") == "ALARM"}
    assert {a["AlarmName"] for a in evidence["alarms"]} == alarms_in_alarm

    if _target_service(scenario).get("launchType") == "EC2":
        assert len(evidence["container_instances"]) == len(scenario["ecs"]["containerInstances"])
    # fakeaws does not model load balancers (nor VPCs, stacks): a read it cannot answer is "could not read", never
    # evidence of anything
    assert {e["call"] for e in evidence["errors"]} <= UNMODELLED
    if _target_service(scenario).get("loadBalancers"):
        assert evidence["load_balancers"] == {"target_groups": [], "target_health": {}}
    assert {i["status"] for i in evidence["images"]} <= {"found", "ImageNotFound"}

    assert [c for c in fake.calls if c.get("write")] == []
    assert len(fake.calls) <= MAX_CALLS
    assert evidence["stats"]["api_calls"] == len(fake.calls)


def test_previous_revision_comes_from_stopped_tasks_when_deployments_have_none(play_scenario):
    play_scenario("healthy-steady", read_only=True)  # one deployment (api:31), a stopped api:30 task
    evidence = collect(AwsContext(), "prod", "api")
    assert evidence["previous_task_definition"].endswith("task-definition/api:30")


def test_previous_revision_falls_back_to_the_next_lower_active_revision(play_scenario):
    scenario = load_scenario("healthy-steady")
    scenario["ecs"]["tasks"] = [t for t in scenario["ecs"]["tasks"] if t.get("lastStatus") != "STOPPED"]
    play_scenario(scenario, read_only=True)
    evidence = collect(AwsContext(), "prod", "api")
    assert evidence["previous_task_definition"].endswith("task-definition/api:30")


def test_keeps_the_services_deployment_alarms_by_name(play_scenario):
    scenario = load_scenario("oom-after-deploy")
    _target_service(scenario)["deploymentConfiguration"]["alarms"] = {
        "alarmNames": ["api-latency-guard"], "enable": True, "rollback": True}
    scenario["cloudwatch"]["alarms"] += [
        {"AlarmName": name, "Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime",
         "Dimensions": [{"Name": "LoadBalancer", "Value": "app/web/1"}], "Threshold": 1, "state": "ALARM"}
        for name in ("api-latency-guard", "web-latency")]
    play_scenario(scenario, read_only=True)

    evidence = collect(AwsContext(), "prod", "api")

    assert {a["AlarmName"] for a in evidence["alarms"]} == {"api-memory-high", "api-latency-guard"}


def test_large_service_stays_bounded(play_scenario):
    from bench.large_service import large_service_scenario

    scenario = large_service_scenario()
    fake = play_scenario(scenario, read_only=True)
    evidence = collect(AwsContext(), "big", "storefront")
    assert len(evidence["tasks"]["running"]) == 150 and len(evidence["tasks"]["stopped"]) == 150
    assert len([c for c in fake.calls if c["op"] == "ListTasks"]) == 4  # two pages each
    assert len(evidence["logs"]) <= 6
    assert any("ModuleNotFoundError" in e["message"] for entry in evidence["logs"] for e in entry["events"])
    assert all(len(entry["events"]) <= 50 for entry in evidence["logs"])
    assert len(fake.calls) <= MAX_CALLS_LARGE


# ---- error paths ------------------------------------------------------------------------------

def test_unknown_cluster(play_scenario):
    play_scenario("healthy-steady", read_only=True)
    with pytest.raises(ClusterNotFound, match="nowhere"):
        collect(AwsContext(), "nowhere", "api")


def test_unknown_service(play_scenario):
    play_scenario("healthy-steady", read_only=True)
    with pytest.raises(ServiceNotFound, match="ghost"):
        collect(AwsContext(), "prod", "ghost")


def test_inactive_service_counts_as_unknown(play_scenario):
    scenario = load_scenario("healthy-steady")
    _target_service(scenario)["status"] = "INACTIVE"
    play_scenario(scenario, read_only=True)
    with pytest.raises(ServiceNotFound):
        collect(AwsContext(), "prod", "api")


def test_no_credentials(play_scenario, aws_env):
    fake = play_scenario("healthy-steady", read_only=True)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        aws_env.delenv(key, raising=False)
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    aws_env.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(NoCredentials, match="credentials"):
        collect(AwsContext(), "prod", "api")
    assert fake.calls == []


@pytest.mark.slow  # botocore retries a closed port
def test_endpoint_refusing_connections(aws_env):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(AwsAccessError, match="cannot reach AWS"):
        collect(AwsContext(), "prod", "api")


class FaultyAws:
    """A WSGI front for FakeAws that answers chosen operations with an AWS error `times` times."""

    def __init__(self, fake, faults: dict[str, tuple[str, int]]):
        self.fake, self.faults, self.lock = fake, dict(faults), threading.Lock()

    def __call__(self, environ, start_response):
        op = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        with self.lock:
            code, times = self.faults.get(op, ("", 0))
            if times:
                self.faults[op] = (code, times - 1)
        if not times:
            return self.fake(environ, start_response)
        body = json.dumps({"__type": code, "message": f"{code} injected for {op}"})
        return Response(body, status=400, content_type="application/x-amz-json-1.1")(environ, start_response)

    def start(self, aws_env) -> None:
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{self.server.server_port}")


@pytest.fixture
def faulty(play_scenario, aws_env):
    started = []

    def _start(scenario: str, faults: dict[str, tuple[str, int]]) -> FaultyAws:
        front = FaultyAws(play_scenario(scenario, read_only=True), faults)
        front.start(aws_env)
        started.append(front)
        return front

    yield _start
    for front in started:
        front.server.shutdown()


def test_throttling_is_retried(faulty):
    front = faulty("oom-after-deploy", {"DescribeServices": ("ThrottlingException", 2)})
    ctx = AwsContext()
    evidence = collect(ctx, "prod", "api")
    assert evidence["service"]["serviceName"] == "api"
    assert ctx.counter.by_operation["ecs:DescribeServices"] == 3
    assert len([c for c in front.fake.calls if c["op"] == "DescribeServices"]) == 1


def test_access_denied_on_a_core_read(faulty):
    faulty("oom-after-deploy", {"ListTasks": ("AccessDeniedException", 99)})
    with pytest.raises(AwsAccessError, match=r"ecs:ListTasks failed: AccessDeniedException"):
        collect(AwsContext(), "prod", "api")


def test_failed_secondary_reads_are_recorded_not_fatal(faulty):
    faulty("oom-after-deploy", {"GetLogEvents": ("AccessDeniedException", 99),
                                "ListServiceDeployments": ("UnknownOperationException", 99)})
    evidence = collect(AwsContext(), "prod", "api")
    assert len(evidence["tasks"]["stopped"]) == 5 and len(evidence["task_definitions"]) == 2
    assert evidence["logs"] == [] and evidence["service_deployments"] == []
    calls = {(e["call"], e["code"]) for e in evidence["errors"]}
    assert calls == {("logs:GetLogEvents", "AccessDeniedException"),
                     ("ecs:ListServiceDeployments", "UnknownOperationException")}
    assert evidence["alarms"] and evidence["metrics"]["MemoryUtilization"]


def test_unreadable_task_definitions_do_not_fail_the_triage(faulty):
    faulty("oom-after-deploy", {"DescribeTaskDefinition": ("AccessDeniedException", 99)})
    evidence = collect(AwsContext(), "prod", "api")
    assert evidence["task_definitions"] == {} and evidence["previous_task_definition"] is None
    assert evidence["current_task_definition"].endswith("task-definition/api:62")
    assert {(e["call"], e["code"]) for e in evidence["errors"]} == {("ecs:DescribeTaskDefinition",
                                                                     "AccessDeniedException")}
    assert len(evidence["tasks"]["stopped"]) == 5
