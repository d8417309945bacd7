"""Contracts shared by the planner, the policy guard, the remediator, the verifier and the reporter.

A Plan's `plan_hash` covers everything that would change AWS (target, steps with their
parameters and the observed "before" values), so an approval bound to a hash cannot be
reused for a different change.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

StepAction = Literal["update_service_task_definition", "update_service_desired_count", "stop_task", "run_task"]


class PlanStep(BaseModel):
    number: int
    action: StepAction
    api_call: str  # e.g. "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:47)"
    params: dict[str, Any]  # exactly what the guard will send
    expected_before: dict[str, Any]  # observed values the change is compared against (compare-and-set)
    description: str
    success_criteria: list[str] = Field(default_factory=list)
    undo: str = ""  # how to roll the step back ("rollback of the rollback")


class Plan(BaseModel):
    incident_id: str
    target: dict[str, str]  # {region, cluster, service}
    root_cause: str
    option: str = "recommended"  # e.g. "conservative", "quick"
    title: str
    summary: str
    steps: list[PlanStep] = Field(default_factory=list)
    risk: Literal["low", "medium", "high"] = "low"
    expected_duration_s: int = 0
    success_criteria: list[str] = Field(default_factory=list)
    manual_steps: list[str] = Field(default_factory=list)  # what a human must do that the agent may not
    rationale: str = ""

    @property
    def requires_write(self) -> bool:
        return bool(self.steps)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def plan_hash(self) -> str:
        material = {
            "target": self.target,
            "steps": [
                {"action": s.action, "params": s.params, "expected_before": s.expected_before} for s in self.steps
            ],
        }
        blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Approval(BaseModel):
    plan_hash: str
    incident_id: str
    decision: Literal["approved", "rejected", "expired"]
    decided_by: str
    decided_at: str  # ISO
    channel: str = "cli"  # cli | chat | email-link | sandbox
    comment: str = ""


class AuditEntry(BaseModel):
    at: str  # ISO
    incident_id: str
    plan_hash: str | None
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


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str
    before: Any = None
    after: Any = None


class VerificationResult(BaseModel):
    ok: bool
    checks: list[CheckResult] = Field(default_factory=list)
    started_at: str
    finished_at: str
    polls: int = 0
    next_step: str = ""  # what to do when not ok


class TimelineEvent(BaseModel):
    at: str  # ISO
    kind: str  # triggered | triage | plan | approval | write | verify | report | error
    text: str


class Incident(BaseModel):
    """Everything one incident accumulates; the reporter renders it, the workflow persists it."""

    incident_id: str
    target: dict[str, str]
    trigger: str = "manual"
    opened_at: str
    status: Literal["open", "awaiting-approval", "remediating", "resolved", "rejected", "failed", "no-action"] = "open"
    triage: dict[str, Any] | None = None  # TriageResult.to_json_dict()
    plans: list[Plan] = Field(default_factory=list)
    chosen_plan_hash: str | None = None
    approvals: list[Approval] = Field(default_factory=list)
    audit: list[AuditEntry] = Field(default_factory=list)
    verification: VerificationResult | None = None
    timeline: list[TimelineEvent] = Field(default_factory=list)

    def chosen_plan(self) -> Plan | None:
        return next((p for p in self.plans if p.plan_hash == self.chosen_plan_hash), None)

    def approval_expired(self) -> bool:
        """The last decision on record is an expiry: nobody decided in time, nothing was changed."""
        return bool(self.approvals) and self.approvals[-1].decision == "expired"
