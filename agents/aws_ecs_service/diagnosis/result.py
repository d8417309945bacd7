"""The triage result, schema `ecs-triage/v1` (DESIGN.md contract)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..domain.target import ServiceTarget

SCHEMA = "ecs-triage/v1"

Severity = Literal["critical", "high", "medium", "low", "info"]
Status = Literal["healthy", "degraded", "down"]
ActionKind = Literal["rollback", "scale", "stop_task", "run_task", "none"]


class Window(BaseModel):
    start: str
    end: str


class RootCause(BaseModel):
    category: str
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    evidence: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    category: str
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str
    evidence: list[str] = Field(default_factory=list)
    rule: str | None = None  # id of the rule that produced it, for the report


class SuggestedAction(BaseModel):
    action: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = True
    rationale: str


class Stats(BaseModel):
    api_calls: int = 0
    duration_ms: int = 0


class TriageResult(BaseModel):
    schema_: str = Field(default=SCHEMA, alias="schema")
    target: ServiceTarget  # account, region, cluster, service, cluster_arn, service_arn
    window: Window
    status: Status
    root_cause: RootCause
    findings: list[Finding] = Field(default_factory=list)
    suggested_actions: list[SuggestedAction] = Field(default_factory=list)
    stats: Stats = Field(default_factory=Stats)
    # "service:Operation: ErrorCode" of every read that failed: the findings stand on the rest
    could_not_read: list[str] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")
