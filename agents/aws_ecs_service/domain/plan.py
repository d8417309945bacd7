"""Repair plans, the decisions on them and the audit of every write attempt.

A Plan's `plan_hash` covers everything that would change AWS: the exact target (account, region,
cluster ARN, service ARN), the steps with their parameters and the observed "before" values. An
approval bound to a hash therefore cannot be reused for a different change, or for the same-looking
change of another service.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from .target import ServiceTarget

StepAction = Literal["update_service_task_definition", "update_service_desired_count", "stop_task", "run_task"]
PlanKind = Literal["rollback", "scale-out", "restore-capacity", "manual", "no-action"]


class PlanStep(BaseModel):
    number: int
    action: StepAction
    api_call: str  # e.g. "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:47)", for people
    params: dict[str, Any]  # exactly what the guard will send (cluster and service as ARNs)
    expected_before: dict[str, Any]  # observed values the change is compared against (compare-and-set)
    description: str
    success_criteria: list[str] = Field(default_factory=list)
    undo: str = ""  # how to roll the step back ("rollback of the rollback")


class Plan(BaseModel):
    incident_id: str
    target: ServiceTarget
    root_cause: str
    option: str = "recommended"  # e.g. "rollback", "scale-out", "manual"
    title: str
    summary: str
    steps: list[PlanStep] = Field(default_factory=list)
    risk: Literal["low", "medium", "high"] = "low"
    expected_duration_s: int = 0
    success_criteria: list[str] = Field(default_factory=list)
    manual_steps: list[str] = Field(default_factory=list)  # what a human must do that the agent may not
    rationale: str = ""
    reverts: list[str] = Field(default_factory=list)  # what the change takes away (a rollback's reverted changes)

    @property
    def requires_write(self) -> bool:
        return bool(self.steps)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def plan_hash(self) -> str:
        return plan_hash_of(self.target, self.steps)


def plan_hash_of(target: ServiceTarget, steps: list[PlanStep]) -> str:
    """What an approval binds to: the exact target and every step's action, parameters and observed "before"."""
    material = {
        "target": {"account": target.account, "region": target.region, "cluster_arn": target.cluster_arn,
                   "service_arn": target.service_arn},
        "steps": [{"action": s.action, "params": s.params, "expected_before": s.expected_before} for s in steps],
    }
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Approval(BaseModel):
    plan_hash: str
    incident_id: str
    decision: Literal["approved", "rejected", "expired"]
    decided_by: str
    decided_at: str  # ISO
    channel: str = "cli"  # cli | chat | email-link | sandbox | workflow
    comment: str = ""
    target: ServiceTarget | None = None  # the service the approved plan changes (the hash binds it too)


class AuditEntry(BaseModel):
    at: str  # ISO
    incident_id: str
    plan_hash: str | None
    target: ServiceTarget | None = None
    step: int | None = None  # PlanStep.number, so a retry can tell the step was already applied
    actor: str = ""  # who asked the guard to run the step (the approver is in Approval.decided_by)
    operation: str  # e.g. "ecs:UpdateService"
    params: dict[str, Any]
    allowed: bool
    reason: str  # why it was allowed or refused
    result: str = ""  # "ok", "skipped (already applied)", error text; "pending" until the outcome is recorded
    # one attempt of one step: its "pending" record, written before the AWS call, and its outcome share it
    attempt: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)


SKIPPED = "skipped (already applied)"  # a retry found the step's change in place: no second write
OK_RESULTS = ("ok", SKIPPED)


def applied(entries: list[AuditEntry]) -> bool:
    """Every attempted step was allowed and took effect (or had before): the plan is in place."""
    return bool(entries) and all(e.allowed and e.result in OK_RESULTS for e in entries)
