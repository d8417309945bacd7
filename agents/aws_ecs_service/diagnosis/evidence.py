"""The evidence document: the raw (JSON-safe) API answers a triage used.

Shape, schema `ecs-evidence/v1` (everything the classifier reads is here, so
`ecs-agent replay evidence.json` gives the same answer without AWS):

    {"schema": "ecs-evidence/v1",
     "target": {"region", "cluster", "service"},
     "window": {"start": ISO, "end": ISO},          # stopped tasks/events/logs/metrics are cut to it
     "collected_at": ISO,
     "service": DescribeServices(include=TAGS).services[0] | None,
     "task_definitions": {arn: DescribeTaskDefinition().taskDefinition},
     "current_task_definition": arn | None,         # service.taskDefinition
     "previous_task_definition": arn | None,        # last other revision the service ran
     "tasks": {"running": [DescribeTasks task], "stopped": [DescribeTasks task]},
     "service_deployments": [DescribeServiceDeployments item],
     "service_revisions": [DescribeServiceRevisions item],   # the revisions those deployments name
     "logs": [{"group", "stream", "task_id", "container", "essential": bool,   # False: a sidecar, not the app
               "events": [{"timestamp": ISO, "message"}]}],
     "metrics": {"CPUUtilization": [[ISO, value], ...], "MemoryUtilization": [...]},
     "alarms": [DescribeAlarms MetricAlarm/CompositeAlarm that points at the service],
     "container_instances": [DescribeContainerInstances item],
     "load_balancers": {"target_groups": [DescribeTargetGroups item],        # only with a load balancer
                        "target_health": {target group ARN: [DescribeTargetHealth item]}},
     "images": [{"image", "registryId", "repository", "imageId", "revisions": [task definition ARN],
                 "status": "found" | ECR failure code, "mediaType", "platforms": [os/arch] | None}],  # ECR images
     "network": {"assign_public_ip", "subnets", "security_groups", "route_tables", "vpc_endpoints",
                 "vpcs": [{"VpcId", "EnableDnsSupport", "EnableDnsHostnames"}]},  # only for network causes
     "cloudformation": {"stack": {"StackName", "StackStatus", "StackStatusReason", ...}},  # only when tagged
     "errors": [{"call": "service:Operation", "code", "message"}],   # what could not be read
     "stats": {"api_calls": int, "duration_ms": int}}

Timestamps are ISO-8601 strings with an offset; use `parse_time` to read them back.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..domain.target import ServiceTarget

SCHEMA = "ecs-evidence/v1"


def to_jsonable(obj: Any) -> Any:
    """boto3 answers -> JSON-safe data (datetimes become ISO strings)."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items() if k != "ResponseMetadata"}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dt.datetime):
        if obj.tzinfo is None:
            obj = obj.replace(tzinfo=dt.UTC)
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return obj


def parse_time(value: Any) -> dt.datetime | None:
    """ISO string / epoch seconds / datetime -> aware datetime (None when absent or unreadable)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from `start` to `end` (parse_time values); None when either is unreadable."""
    a, b = parse_time(start), parse_time(end)
    return (b - a).total_seconds() if a and b else None


def empty_evidence(region: str, cluster: str, service: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "target": {"region": region, "cluster": cluster, "service": service},
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "collected_at": end.isoformat(),
        "service": None,
        "task_definitions": {},
        "current_task_definition": None,
        "previous_task_definition": None,
        "tasks": {"running": [], "stopped": []},
        "service_deployments": [],
        "service_revisions": [],
        "logs": [],
        "metrics": {},
        "alarms": [],
        "container_instances": [],
        "load_balancers": {},
        "images": [],
        "network": {},
        "cloudformation": {},
        "errors": [],
        "stats": {"api_calls": 0, "duration_ms": 0},
    }


def target_of(evidence: dict[str, Any]) -> ServiceTarget:
    """The exact service the evidence is about: the ARNs DescribeServices answered with."""
    return ServiceTarget.from_described(evidence.get("service") or {})
