"""The demo's incident: cluster `demo`, service `api`, and a bad deploy.

Nine days ago `api:47` (image `api:v2.4.0`) rolled out and has run healthy since. 25 minutes
ago `api:48` was deployed with the image tag `api:v2.4.1`, which was never pushed: every new
task stops with `CannotPullContainerError: ... not found`, the deployment stays IN_PROGRESS,
the three old tasks keep serving, and the `api-deployment-stuck` alarm fires. The fix is to
roll back to `api:47`; the sandbox's scheduler then completes that rollout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ecs_world import EcsWorld, short

CLUSTER = "demo"
SERVICE = "api"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
HEALTHY_IMAGE = f"{REGISTRY}/api:v2.4.0"
MISSING_IMAGE = f"{REGISTRY}/api:v2.4.1"
ALARM_NAME = "api-deployment-stuck"
_MIN, _DAY = 60.0, 86400.0


@dataclass
class CloudWatchSeed:
    """What goes into moto: log streams, metric datapoints, alarms (with their state)."""

    log_streams: list[dict[str, Any]] = field(default_factory=list)  # {group, stream, events: [(epoch, message)]}
    metrics: list[dict[str, Any]] = field(default_factory=list)  # {namespace, name, dimensions, points: [(epoch, v)]}
    alarms: list[dict[str, Any]] = field(default_factory=list)  # put_metric_alarm kwargs + state/reason


def _dimensions() -> list[dict[str, str]]:
    return [{"Name": "ClusterName", "Value": CLUSTER}, {"Name": "ServiceName", "Value": SERVICE}]


def build_ecs(world: EcsWorld, now: float) -> None:
    world.available_images |= {f"{REGISTRY}/api:v2.3.9", HEALTHY_IMAGE}
    world.add_cluster(CLUSTER)
    world.register_task_definition("api", 46, f"{REGISTRY}/api:v2.3.9", now - 30 * _DAY)
    world.register_task_definition("api", 47, HEALTHY_IMAGE, now - 9 * _DAY - 10 * _MIN)
    world.register_task_definition("api", 48, MISSING_IMAGE, now - 26 * _MIN)

    service = world.create_service(CLUSTER, SERVICE, "api:47", desired=3, created_at=now - 90 * _DAY)
    deployed_at = now - 9 * _DAY
    good = world.start_deployment(service, "api:47", deployed_at)
    for _ in range(3):
        world.run_or_fail(world.add_task(CLUSTER, "api:47", f"service:{SERVICE}", deployed_at, good["id"]),
                          deployed_at + 40)
    world.complete_deployment(service, good, deployed_at + 5 * _MIN)
    world.add_event(service, f"(service {SERVICE}) has reached a steady state.", deployed_at + 5 * _MIN)

    bad_at = now - 25 * _MIN
    source = world.service_deployments[0]["targetServiceRevision"]
    bad = world.start_deployment(service, "api:48", bad_at, source=source)
    # ECS retries the failed launch every few minutes; each attempt stops at the image pull.
    for minutes_ago in (24, 20, 16, 12, 8, 4):
        at = now - minutes_ago * _MIN
        task = world.add_task(CLUSTER, "api:48", f"service:{SERVICE}", at, bad["id"])
        world.add_event(service, f"(service {SERVICE}) has started 1 tasks: (task {short(task['taskArn'])}).", at)
        world.run_or_fail(task, at + 50)
        bad["failedTasks"] += 1
        bad["updatedAt"] = at + 50


def build_cloudwatch(world: EcsWorld, now: float) -> CloudWatchSeed:
    seed = CloudWatchSeed()
    running = [t for t in world.tasks if t["lastStatus"] == "RUNNING"]
    for task in running:
        task_id = short(task["taskArn"])
        events = [(now - m * _MIN, f'INFO GET /orders 200 {18 + m % 7}ms task={task_id[:8]}') for m in range(30, 0, -5)]
        seed.log_streams.append({"group": "/ecs/api", "stream": f"ecs/api/{task_id}", "events": events})
    points = range(120, -1, -5)
    seed.metrics += [
        {"namespace": "AWS/ECS", "name": "CPUUtilization", "dimensions": _dimensions(), "unit": "Percent",
         "points": [(now - m * _MIN, 31.0 + (m % 4)) for m in points]},
        {"namespace": "AWS/ECS", "name": "MemoryUtilization", "dimensions": _dimensions(), "unit": "Percent",
         "points": [(now - m * _MIN, 46.0 + (m % 3)) for m in points]},
        {"namespace": "ECS/ContainerInsights", "name": "DeploymentCount", "dimensions": _dimensions(),
         "unit": "Count", "points": [(now - m * _MIN, 2.0 if m <= 25 else 1.0) for m in points]},
    ]
    seed.alarms.append({
        "AlarmName": ALARM_NAME, "AlarmDescription": "api has had more than one deployment for 15 minutes",
        "Namespace": "ECS/ContainerInsights", "MetricName": "DeploymentCount", "Dimensions": _dimensions(),
        "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 3, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "state": "ALARM",
        "reason": "Threshold Crossed: 3 datapoints [2.0, 2.0, 2.0] were greater than the threshold (1.0).",
    })
    return seed


def recovered_cloudwatch(now: float) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """After a completed rollout: one deployment again, and the alarm back to OK."""
    metric = {"namespace": "ECS/ContainerInsights", "name": "DeploymentCount", "dimensions": _dimensions(),
              "unit": "Count", "points": [(now, 1.0)]}
    alarm = (ALARM_NAME, "OK", "Threshold Crossed: 1 datapoint [1.0] was not greater than the threshold (1.0).")
    return [metric], [alarm]
