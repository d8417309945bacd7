"""The chat API's request and response bodies (its OpenAPI document is generated from these)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from ..diagnosis.result import TriageResult
from ..domain.incident import TimelineEvent, Trigger
from ..domain.plan import Approval, Plan
from ..domain.target import ServiceTarget

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # thread and incident ids (also S3 key parts)
MAX_MESSAGE_CHARS = 4000


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; surrounding whitespace says nothing.
    cleaned = value.replace("\x00", "").strip()
    if not cleaned:
        raise ValueError("must contain text")
    return cleaned


MessageText = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS), AfterValidator(_text)]


# ---- requests ------------------------------------------------------------------------------------------

class NewThread(BaseModel):
    """Open a thread; on an incident, the thread id is the incident id and the thread knows its service."""

    incident_id: str | None = Field(default=None, pattern=ID_PATTERN, description="an incident to talk about")
    message: MessageText | None = Field(default=None, description="a first message, answered at once")


class NewMessage(BaseModel):
    message: MessageText


class DecisionRequest(BaseModel):
    """A decision on the plan the person saw: the hash binds it to exactly that change."""

    decision: Literal["approve", "reject"]
    plan_hash: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    comment: str = Field(default="", max_length=500)


# ---- responses -----------------------------------------------------------------------------------------

class ErrorBody(BaseModel):
    message: str


class PendingApproval(BaseModel):
    """A plan waiting for a decision: by the incident's workflow (Step Functions) or by this thread's graph."""

    waiting: Literal["workflow", "thread"]
    incident_id: str
    plan_hash: str
    title: str
    summary: str
    risk: str
    steps: list[str] = Field(description="the AWS calls the plan would make")
    brief: list[str] = Field(default_factory=list, description=(
        "the approval brief, one line each, as the email and the page show it: the diagnosis with its confidence, "
        "the exact service (account, region, cluster, service), the calls, what it reverts or removes, risk, how "
        "to undo it, what a person must still do"))
    expires_at: dt.datetime | None = None


class MessageReply(BaseModel):
    thread_id: str
    incident_id: str | None = Field(default=None, description="the incident the findings belong to")
    reply: str
    findings: TriageResult | None = None
    pending_approval: PendingApproval | None = None


class ModelUnavailableReply(MessageReply):
    """503: the model did not answer; `reply` and `findings` are the deterministic result."""

    message: str


class ThreadOpened(BaseModel):
    thread_id: str
    incident_id: str | None = None
    created: bool = Field(description="false when the incident's thread existed already")
    first_reply: MessageReply | None = None


class ChatMessage(BaseModel):
    role: Literal["user", "agent"]
    text: str


class HandOff(BaseModel):
    """A plan approved in this thread, applied by the incident workflow (the chat never changes AWS itself)."""

    incident_id: str
    plan_hash: str
    execution_arn: str
    incident_url: str = Field(description="GET it to follow the remediation")
    decided_by: str
    decided_at: str
    blocked: str | None = Field(default=None, description="why the workflow will refuse to apply it (writes off, "
                                                          "cluster not allowed)")


class ThreadView(BaseModel):
    thread_id: str
    incident_id: str | None = None
    created_by: str
    created_at: dt.datetime
    messages: list[ChatMessage] = Field(description="the newest messages as the thread keeps them")
    summary: list[str] = Field(description="earlier turns, shortened")
    context: dict[str, object] = Field(description="what the agent understood: cluster, service, intent, symptoms…")
    findings: TriageResult | None = None
    pending_approval: PendingApproval | None = None
    handoff: HandOff | None = Field(default=None, description="the last plan approved here and handed to the "
                                                              "incident workflow")


class DecisionReply(BaseModel):
    thread_id: str
    incident_id: str
    plan_hash: str
    decision: Literal["approved", "rejected"]
    decided_by: str
    resumed: Literal["workflow", "thread", "handed-off"] = Field(
        description="who acted on the decision: the incident's waiting workflow, this thread's graph, or (202) a new "
                    "workflow execution that applies the plan approved here")
    reply: str
    incident_url: str | None = Field(default=None, description="GET it to follow the incident (handed-off: the "
                                                               "remediation, verification and reports)")
    execution_arn: str | None = Field(default=None, description="the workflow execution that applies the plan")


class IncidentView(BaseModel):
    incident_id: str
    status: str
    target: ServiceTarget = Field(description="the exact service: account, region, cluster and service ARNs")
    outcome: str = Field(default="", description="why it settled as it did (empty while open)")
    events: list[Trigger] = Field(default_factory=list, description="signals that joined the incident after it opened")
    trigger: str
    opened_at: str
    findings: TriageResult | None = None
    plan: Plan | None = Field(default=None, description="the chosen plan")
    pending_approval: PendingApproval | None = None
    approvals: list[Approval] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    reports: dict[str, str] = Field(default_factory=dict, description="report name -> presigned S3 URL")
