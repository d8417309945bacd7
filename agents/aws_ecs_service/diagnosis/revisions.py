"""Which task definition revision last ran healthy: one answer for the classifier's suggestion and the planner.

    healthy = last_healthy_revision(evidence, failing={"arn:...:task-definition/api:62"})
    healthy.arn, healthy.source, healthy.confirmed

Read from the evidence's structure only (deployments, service deployments and revisions, running
tasks, task definitions), never from log or event text.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .evidence import parse_time
from .taskdef_diff import short_name

_EPOCH = parse_time(0)
_HEALTHY_SERVICE_DEPLOYMENT = {"SUCCESSFUL": "targetServiceRevision", "ROLLBACK_SUCCESSFUL": "sourceServiceRevisions"}


@dataclass(frozen=True)
class HealthyRevision:
    arn: str
    source: str  # where we know it ran healthy from
    confirmed: bool  # False when it is only "the previous revision", health unknown


def revision_task_definition(evidence: dict[str, Any], revision: dict[str, Any] | str | None) -> str | None:
    """The task definition of a service revision (a DescribeServiceDeployments reference or its ARN): given inline,
    or looked up in the evidence's DescribeServiceRevisions answers."""
    if isinstance(revision, dict):
        if revision.get("taskDefinition"):
            return revision["taskDefinition"]
        revision = revision.get("arn")
    if not revision:
        return None
    found = next((r for r in evidence.get("service_revisions") or [] if r.get("serviceRevisionArn") == revision), None)
    return (found or {}).get("taskDefinition")


def last_healthy_revision(evidence: dict[str, Any], failing: Iterable[str | None] = ()) -> HealthyRevision | None:
    """The newest other ACTIVE revision of the service's family that ran healthy: a COMPLETED deployment without
    failed tasks, else a successful service deployment, else a revision tasks still run, else the previous
    revision (health unknown). Never the current revision, nor one in `failing`."""
    svc = evidence.get("service") or {}
    current = svc.get("taskDefinition") or evidence.get("current_task_definition")
    if not current:
        return None
    excluded = {short_name(r) for r in (current, *failing) if r}
    family = _family(current)
    definitions = evidence.get("task_definitions") or {}

    def usable(arn: Any) -> bool:
        if not arn or short_name(str(arn)) in excluded or _family(str(arn)) != family:
            return False
        td = definitions.get(arn)
        return td is None or td.get("status", "ACTIVE") == "ACTIVE"

    for arn, source, confirmed in _candidates(evidence, svc):
        if usable(arn):
            return HealthyRevision(arn, source, confirmed)
    return None


def _candidates(evidence: dict[str, Any], svc: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    completed = [d for d in svc.get("deployments") or [] if d.get("rolloutState") == "COMPLETED"
                 and not d.get("failedTasks") and d.get("taskDefinition")]
    for d in sorted(completed, key=lambda d: parse_time(d.get("createdAt")) or _EPOCH, reverse=True):
        yield d["taskDefinition"], f"deployment {d.get('id', '?')} COMPLETED without failed tasks", True
    history = sorted(evidence.get("service_deployments") or [], reverse=True,
                     key=lambda d: parse_time(d.get("finishedAt") or d.get("createdAt")) or _EPOCH)
    for deployment in history:
        key = _HEALTHY_SERVICE_DEPLOYMENT.get(deployment.get("status"))
        refs = deployment.get(key) if key else None
        for ref in refs if isinstance(refs, list) else [refs] if refs else []:
            arn = revision_task_definition(evidence, ref)
            if arn:
                yield arn, f"service deployment {deployment['status']}", True
    running = {t.get("taskDefinitionArn") for t in (evidence.get("tasks") or {}).get("running") or []}
    for arn in sorted((a for a in running if a), key=lambda a: (_revision_number(a), a), reverse=True):
        yield arn, "tasks of it still run", True
    previous = evidence.get("previous_task_definition")
    if previous:
        yield previous, "the revision the service ran before (not confirmed healthy)", False


def _family(arn: str) -> str:
    return short_name(arn).rpartition(":")[0]


def _revision_number(arn: str) -> int:
    tail = short_name(arn).rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0
