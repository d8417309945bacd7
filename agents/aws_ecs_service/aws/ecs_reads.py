"""Read-only ECS calls the triage uses. Each function is one API question; callers handle errors."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

DESCRIBE_BATCH = 100  # DescribeTasks / DescribeContainerInstances accept at most 100 ARNs
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def short_name(name_or_arn: str) -> str:
    """`arn:...:service/prod/api` -> `api`; a plain name stays as it is."""
    return name_or_arn.rsplit("/", 1)[-1]


def family_revision(task_definition: str) -> tuple[str, int]:
    """`arn:...:task-definition/api:62` or `api:62` -> ("api", 62)."""
    family, _, revision = short_name(task_definition).rpartition(":")
    return family, int(revision)


def describe_service(ecs, cluster: str, service: str) -> dict[str, Any]:
    """DescribeServices for one service, with its tags: {"services": [...], "failures": [...]}."""
    return ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])


def task_arn_pages(ecs, cluster: str, service: str, desired_status: str, cap: int) -> Iterator[list[str]]:
    """ListTasks of the service as DescribeTasks-sized batches (<= 100 ARNs), at most `cap` ARNs in all."""
    paginator = ecs.get_paginator("list_tasks")
    pages = paginator.paginate(cluster=cluster, serviceName=service, desiredStatus=desired_status,
                               PaginationConfig={"MaxItems": cap, "PageSize": DESCRIBE_BATCH})
    for page in pages:
        arns = page["taskArns"]  # some emulators ignore the page size, so split anyway
        for i in range(0, len(arns), DESCRIBE_BATCH):
            yield arns[i:i + DESCRIBE_BATCH]


def describe_tasks(ecs, cluster: str, task_arns: list[str]) -> list[dict[str, Any]]:
    """DescribeTasks for up to 100 ARNs; tasks that vanished meanwhile are simply absent."""
    return ecs.describe_tasks(cluster=cluster, tasks=task_arns)["tasks"]


def describe_task_definition(ecs, task_definition: str) -> dict[str, Any]:
    return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def previous_active_revision(ecs, task_definition: str, cap: int = 500) -> str | None:
    """The ARN of the newest ACTIVE revision of the same family below `task_definition`, if any."""
    family, revision = family_revision(task_definition)
    paginator = ecs.get_paginator("list_task_definitions")
    # familyPrefix also matches longer family names ("api" -> "api-worker"), hence the exact check
    pages = paginator.paginate(familyPrefix=family, status="ACTIVE", sort="DESC",
                               PaginationConfig={"MaxItems": cap, "PageSize": 100})
    for page in pages:
        # the newest below `revision` within the page: emulators (moto) list in ascending order whatever `sort` says
        below = [(other_revision, arn) for arn in page["taskDefinitionArns"]
                 for other_family, other_revision in [family_revision(arn)]
                 if other_family == family and other_revision < revision]
        if below:
            return max(below)[1]
    return None


def supports_service_deployments(ecs) -> bool:
    """ListServiceDeployments arrived in botocore 1.35.x; older clients lack the operation."""
    return "ListServiceDeployments" in ecs.meta.service_model.operation_names


def recent_service_deployments(ecs, cluster: str, service: str, newest: int) -> list[dict[str, Any]]:
    """DescribeServiceDeployments for the service's `newest` deployments (newest first)."""
    listed = ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"]
    listed.sort(key=lambda d: d.get("createdAt") or _EPOCH, reverse=True)
    arns = [d["serviceDeploymentArn"] for d in listed[:newest]]
    if not arns:
        return []
    described = ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"]
    order = {arn: i for i, arn in enumerate(arns)}
    return sorted(described, key=lambda d: order.get(d.get("serviceDeploymentArn"), len(order)))


def describe_service_revisions(ecs, arns: list[str]) -> list[dict[str, Any]]:
    """DescribeServiceRevisions: what each revision ran (its task definition, load balancers, network)."""
    return ecs.describe_service_revisions(serviceRevisionArns=arns)["serviceRevisions"]


def container_instances(ecs, cluster: str, cap: int) -> list[dict[str, Any]]:
    """The cluster's container instances (EC2/EXTERNAL capacity), at most `cap`."""
    paginator = ecs.get_paginator("list_container_instances")
    arns: list[str] = []
    for page in paginator.paginate(cluster=cluster, PaginationConfig={"MaxItems": cap, "PageSize": DESCRIBE_BATCH}):
        arns += page["containerInstanceArns"]
    found: list[dict[str, Any]] = []
    for i in range(0, len(arns), DESCRIBE_BATCH):
        found += ecs.describe_container_instances(cluster=cluster, containerInstances=arns[i:i + DESCRIBE_BATCH])[
            "containerInstances"]
    return found
