"""What the collector reads beyond the service and its tasks: pure choices from what it has read so far.

Which log streams (failed tasks first, then the tasks of a revision that was rolled back, then the
running tasks of a service that is otherwise steady), which ECR images (those of the revisions the
service deploys), whether the network path is worth reading (only when a network-looking cause is
in play), and which service revisions to describe.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from ..aws import ecs_reads, logs_reads
from ..aws.ecr_reads import EcrImage, parse_ecr_image
from .signals import strip_service_prefix

LogTarget = tuple[dict[str, Any], str, str, str, bool]  # task, container, group, stream, essential
_ROLLED_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")
MAX_REVISIONS = 20  # DescribeServiceRevisions per call


def failed_containers(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Containers that ran and did not exit cleanly (no exit code counts only if the task started)."""
    return [c for c in task.get("containers", [])
            if c.get("exitCode") != 0 and (c.get("exitCode") is not None or task.get("startedAt"))]


def log_tasks(stopped: list[dict[str, Any]], running: list[dict[str, Any]], current: str | None,
              rolled_back: set[str], cap: int) -> list[tuple[dict[str, Any], bool]]:
    """(task, failed) whose logs tell the story, newest first: failed tasks; else the stopped tasks of a revision
    that was rolled back (their stops look routine, their logs may not); else the running tasks."""
    failed = [t for t in stopped if failed_containers(t)]
    if failed:
        return [(t, True) for t in failed[:cap]]
    newer = {t["taskDefinitionArn"] for t in stopped if _newer_than(t.get("taskDefinitionArn"), current)}
    reverted = [t for t in stopped if t.get("taskDefinitionArn") in rolled_back | newer]
    if reverted:
        return [(t, False) for t in reverted[:cap]]
    newest = sorted(running, key=lambda t: t.get("startedAt") or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    return [(t, False) for t in newest[:min(cap, 2)]]


def _newer_than(revision: str | None, current: str | None) -> bool:
    """A revision of the current family numbered above the current one: the service went back from it."""
    if not revision or not current:
        return False
    (family, number), (current_family, current_number) = ecs_reads.family_revision(revision), \
        ecs_reads.family_revision(current)
    return family == current_family and number > current_number


def log_targets(tasks: list[tuple[dict[str, Any], bool]], definitions: dict[str, dict | None],
                cap: int) -> list[LogTarget]:
    """The awslogs streams of those tasks, each task's most telling container first (a failed one, essential,
    with an exit code), then the others (non-essential ones labelled so), round-robin up to `cap`."""
    per_task: list[list[LogTarget]] = []
    for task, failed in tasks:
        definition = definitions.get(task["taskDefinitionArn"]) or {}
        by_name = {cd["name"]: cd for cd in definition.get("containerDefinitions", [])}
        containers = failed_containers(task) if failed else task.get("containers", [])
        candidates = []
        for container in containers:
            cd = by_name.get(container.get("name"))
            where = cd and logs_reads.awslogs_stream(cd, ecs_reads.short_name(task["taskArn"]))
            if where:
                essential = cd.get("essential", True)
                rank = (not essential, container.get("exitCode") is None)
                candidates.append((rank, (task, cd["name"], *where, essential)))
        per_task.append([target for _, target in sorted(candidates, key=lambda c: c[0])])
    targets: list[LogTarget] = []
    depth = 0
    while len(targets) < cap and any(len(t) > depth for t in per_task):
        targets += [t[depth] for t in per_task if len(t) > depth]
        depth += 1
    return targets[:cap]


def rolled_back_revisions(service_deployments: list[dict[str, Any]], revisions: list[dict[str, Any]]) -> set[str]:
    """Task definitions of service deployments that were rolled back or stopped."""
    by_arn = {r.get("serviceRevisionArn"): r.get("taskDefinition") for r in revisions}
    return {td for d in service_deployments if d.get("status") in _ROLLED_BACK
            if (td := by_arn.get((d.get("targetServiceRevision") or {}).get("arn")))}


def revision_arns(service_deployments: list[dict[str, Any]]) -> list[str]:
    """The service revisions those deployments name: what they deployed, what they came from, what they went
    back to."""
    arns: list[str] = []
    for d in service_deployments:
        refs = [d.get("targetServiceRevision") or {}, *(d.get("sourceServiceRevisions") or [])]
        arns += [r["arn"] for r in refs if r.get("arn")]
        if (d.get("rollback") or {}).get("serviceRevisionArn"):
            arns.append(d["rollback"]["serviceRevisionArn"])
    return list(dict.fromkeys(arns))[:MAX_REVISIONS]


def ecr_images(definitions: dict[str, dict[str, Any]], region: str) -> dict[tuple[str, str], list[EcrImage]]:
    """The ECR images (of this region) those task definitions run, by (registry, repository)."""
    found: dict[tuple[str, str], list[EcrImage]] = defaultdict(list)
    for td in definitions.values():
        for container in td.get("containerDefinitions") or []:
            image = parse_ecr_image(container.get("image"))
            if image and image.region == region and image not in found[(image.registry, image.repository)]:
                found[(image.registry, image.repository)].append(image)
    return dict(found)


def network_in_play(stopped: list[dict[str, Any]], events: list[dict[str, Any]],
                    definitions: dict[str, dict | None]) -> bool:
    """A stopped task or a service event names a cause whose fix may be in the VPC (its record says so)."""
    # the rule table is imported here, not with the collector: the first AWS calls need not wait for it
    from .analyzers.tasks import classify_task
    from .rules import first_match
    from .taxonomy import record

    causes = {v.cause for t in stopped if (v := classify_task(t, definitions.get(t.get("taskDefinitionArn"))))}
    causes |= {hit[0].cause for e in events
               if (hit := first_match("service_event", strip_service_prefix(e.get("message")).body))}
    return any((r := record(c)) is not None and r.network_path for c in causes if c)


def awsvpc_configuration(svc: dict[str, Any]) -> dict[str, Any]:
    return (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
