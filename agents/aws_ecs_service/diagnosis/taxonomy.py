"""The root-cause taxonomy shipped with the package: one record per cause (taxonomy.json).

A record holds everything about its cause that the classifier, the planner and the contextualizer
read: title and kind, remediation and plan kind, the manual steps a person must take, the symptom
words that point at it, and the rules that find it (diagnosis/rules.py compiles them).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

PlanKind = Literal["rollback", "scale-out", "restore-capacity", "none"]
Where = Literal[
    "stop_code", "stopped_reason", "container_reason", "exit_code",  # a stopped task
    "failed_sidecar",  # "NAME IMAGE" of a mesh sidecar that failed while the app's containers did not
    "deployment",      # rolloutState/failedTasks/rolloutStateReason, service deployment status/reason
    "service_event",   # service event message, prefix stripped
    "target_health",   # "STATE REASON_CODE description" of a load balancer target that is not healthy
    "image_check",     # what ECR says about an image a revision runs (analyzers/images.py)
    "network_path",    # what the VPC says about the tasks' network path (analyzers/network.py)
    "stack",           # "STATUS reason" of the CloudFormation stack that owns the service
    "log",             # one application log line
    "metric",          # metric name; value compared with `threshold`
    "alarm",           # "MetricName AlarmName" of an alarm in ALARM
    "service_state",   # "desiredCount=N runningCount=N pendingCount=N"
]
Severity = Literal["critical", "high", "medium", "low", "info"]


class RuleRecord(BaseModel):
    id: str
    where: tuple[Where, ...]
    priority: int
    pattern: str
    severity: Severity
    confidence: float = Field(default=0.85, gt=0, le=1)
    summary: str
    remediation: str | None = None  # when this signal calls for a more specific fix than its cause's
    benign: bool = False
    transient: bool = False
    wrapper: bool = False
    ambiguous: bool = False  # the text fits more than one cause: an ECR image check decides
    threshold: float | None = None
    refine_with_logs: str | None = None  # a group of `log_refinements`
    case_sensitive: bool = False


class CauseRecord(BaseModel):
    id: str
    kind: Literal["cause", "symptom"]
    title: str
    signals: str
    action: str
    remediation: str
    plan: PlanKind
    network_path: bool = False  # the fix may be in the VPC: read the tasks' network path when in play
    manual_steps: list[str]
    symptoms: list[str] = Field(default_factory=list)  # labels of Taxonomy.symptoms
    rules: list[RuleRecord] = Field(default_factory=list)


class Taxonomy(BaseModel):
    schema_: str = Field(alias="schema")
    symptoms: dict[str, str]  # label -> pattern of the words a user says
    log_refinements: dict[str, list[str]]
    categories: list[CauseRecord]


@cache
def load() -> Taxonomy:
    return Taxonomy.model_validate(json.loads(Path(__file__).with_name("taxonomy.json").read_text()))


@cache
def categories() -> dict[str, CauseRecord]:
    return {c.id: c for c in load().categories}


def record(cause: str) -> CauseRecord | None:
    return categories().get(cause)


def cause_ids() -> list[str]:
    return [cid for cid, c in categories().items() if c.kind == "cause"]


def title(category: str) -> str:
    found = record(category)
    return found.title if found else category


def plan_kind(cause: str) -> PlanKind:
    found = record(cause)
    return found.plan if found else "none"


def symptom_table() -> list[tuple[str, str, tuple[str, ...]]]:
    """(pattern, label, causes it points at) per symptom label, in the taxonomy's order."""
    return [(pattern, label, tuple(c.id for c in load().categories if label in c.symptoms))
            for label, pattern in load().symptoms.items()]
