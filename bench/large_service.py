"""A large service as a fakeaws scenario: the size the speed target is set for.

300 tasks (150 running on the old revision, 150 stopped from a failing deployment), four
containers each, 40 awslogs streams with log lines, metrics and an alarm. The new revision's
app container crashes on start, so the expected root cause is `app-crash`.

    from bench.large_service import large_service_scenario
    scenario = large_service_scenario()      # a dict in ../shared/scenarios format
"""
from __future__ import annotations

import hashlib

CLUSTER, SERVICE, FAMILY = "big", "storefront", "storefront"
CURRENT, PREVIOUS = 42, 41
CONTAINERS = ("app", "envoy", "log-router", "metrics-agent")
RUNNING, STOPPED, LOG_STREAMS, LINES_PER_STREAM = 150, 150, 40, 60
ACCOUNT, REGION = "123456789012", "us-east-1"


def _task_id(n: int) -> str:
    return hashlib.md5(f"{SERVICE}-{n}".encode()).hexdigest()


def _task_definition(revision: int, image_tag: str) -> dict:
    def container(name: str, image: str, essential: bool) -> dict:
        return {"name": name, "image": image, "essential": essential, "cpu": 0, "memory": 512,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}] if name == "app" else [],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": f"/ecs/{FAMILY}", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"}}}

    ecr = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    return {"family": FAMILY, "revision": revision, "cpu": "2048", "memory": "4096",
            "registeredAt": "-3d" if revision == PREVIOUS else "-2h",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{FAMILY}-execution",
            "containerDefinitions": [
                container("app", f"{ecr}/{FAMILY}:{image_tag}", True),
                container("envoy", "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.6.0-prod", True),
                container("log-router", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2", False),
                container("metrics-agent", f"{ecr}/metrics-agent:1.4.0", False)]}


def _running_task(n: int) -> dict:
    return {"id": _task_id(n), "group": f"service:{SERVICE}", "taskDefinition": f"{FAMILY}:{PREVIOUS}",
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "createdAt": "-3d", "startedAt": "-3d",
            "containers": [{"name": name, "lastStatus": "RUNNING"} for name in CONTAINERS]}


def _stopped_task(n: int, minutes_ago: float) -> dict:
    exits = {"app": 1, "envoy": 143, "log-router": 0, "metrics-agent": 143}
    return {"id": _task_id(n), "group": f"service:{SERVICE}", "taskDefinition": f"{FAMILY}:{CURRENT}",
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "createdAt": f"-{minutes_ago + 1:.1f}m", "startedAt": f"-{minutes_ago + 0.5:.1f}m",
            "stoppingAt": f"-{minutes_ago:.1f}m", "stoppedAt": f"-{minutes_ago:.1f}m",
            "containers": [{"name": name, "lastStatus": "STOPPED", "exitCode": exits[name]} for name in CONTAINERS]}


def _log_stream(task_id: str, minutes_ago: float) -> dict:
    start = minutes_ago + 0.5
    events = [[f"-{start - i * 0.004:.3f}m", f"INFO request handled path=/api/items/{i} status=200 ms={i % 40}"]
              for i in range(LINES_PER_STREAM - 3)]
    events += [
        [f"-{minutes_ago + 0.05:.3f}m", "Traceback (most recent call last):"],
        [f"-{minutes_ago + 0.04:.3f}m", '  File "/app/storefront/main.py", line 12, in <module>'],
        [f"-{minutes_ago + 0.03:.3f}m", "ModuleNotFoundError: No module named 'storefront.payments_v2'"],
    ]
    return {"group": f"/ecs/{FAMILY}", "stream": f"ecs/app/{task_id}", "events": events}


def large_service_scenario() -> dict:
    stopped_minutes = [1 + i * 0.7 for i in range(STOPPED)]  # newest first, all within the last 2 h
    tasks = [_running_task(n) for n in range(RUNNING)]
    tasks += [_stopped_task(RUNNING + i, m) for i, m in enumerate(stopped_minutes)]
    logs = [_log_stream(_task_id(RUNNING + i), stopped_minutes[i]) for i in range(LOG_STREAMS)]
    deployment = f"ecs-svc/{CURRENT:019d}"
    return {
        "id": "large-service",
        "title": "A 300-task service whose new revision crashes on start (speed benchmark)",
        "region": REGION, "account": ACCOUNT,
        "target": {"cluster": CLUSTER, "service": SERVICE},
        "expected": {"root_cause": "app-crash", "also": ["deployment-failing"], "remediation": "rollback"},
        "ecs": {
            "clusters": [{"clusterName": CLUSTER}],
            "taskDefinitions": [_task_definition(PREVIOUS, "2024.12.1"), _task_definition(CURRENT, "2024.12.2")],
            "services": [{
                "cluster": CLUSTER, "serviceName": SERVICE, "taskDefinition": f"{FAMILY}:{CURRENT}",
                "desiredCount": RUNNING, "runningCount": RUNNING, "pendingCount": 4, "launchType": "FARGATE",
                "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                            "maximumPercent": 200, "minimumHealthyPercent": 100},
                "deployments": [
                    {"id": deployment, "taskDefinition": f"{FAMILY}:{CURRENT}", "status": "PRIMARY",
                     "desiredCount": RUNNING, "runningCount": 0, "pendingCount": 4, "failedTasks": STOPPED,
                     "createdAt": "-110m", "updatedAt": "-1m", "rolloutState": "IN_PROGRESS",
                     "rolloutStateReason": "ECS deployment in progress."},
                    {"taskDefinition": f"{FAMILY}:{PREVIOUS}", "status": "ACTIVE", "desiredCount": RUNNING,
                     "runningCount": RUNNING, "pendingCount": 0, "failedTasks": 0, "createdAt": "-3d",
                     "updatedAt": "-110m", "rolloutState": "COMPLETED"}],
                "events": [{"createdAt": f"-{m:.1f}m",
                            "message": f"(service {SERVICE}) has started 1 tasks: (task {_task_id(RUNNING + i)})."}
                           for i, m in enumerate(stopped_minutes[:100])],
            }],
            "tasks": tasks,
        },
        "logs": logs,
        "cloudwatch": {
            "metrics": [{"Namespace": "AWS/ECS", "MetricName": name,
                         "Dimensions": [{"Name": "ClusterName", "Value": CLUSTER},
                                        {"Name": "ServiceName", "Value": SERVICE}],
                         "points": [[f"-{m}m", value] for m in range(115, 0, -5)], "Unit": "Percent"}
                        for name, value in (("CPUUtilization", 35), ("MemoryUtilization", 52))],
            "alarms": [{"AlarmName": f"{SERVICE}-cpu-high", "Namespace": "AWS/ECS", "MetricName": "CPUUtilization",
                        "Dimensions": [{"Name": "ClusterName", "Value": CLUSTER},
                                       {"Name": "ServiceName", "Value": SERVICE}],
                        "Threshold": 90, "state": "OK", "reason": "Threshold not crossed"}],
        },
    }
