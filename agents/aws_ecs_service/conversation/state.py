"""The conversation's state: what the graph remembers between turns of one thread.

Checkpointers store a full copy of a channel each time it changes, so `messages` keeps only
the last MAX_MESSAGES messages (older turns live on, shortened, in `summary`); everything
else is small and changes rarely. Stored size grows linearly with the conversation.
"""
from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

MAX_MESSAGES = 2  # the current question and the previous answer: enough to reply, cheap to store
SUMMARY_TURNS = 4  # turns kept in the running summary
SUMMARY_LINE_CHARS = 120


def recent_messages(left: list[AnyMessage], right: Any) -> list[AnyMessage]:
    """add_messages, then keep only the newest MAX_MESSAGES."""
    return add_messages(left, right)[-MAX_MESSAGES:]


def recent_summary(left: list[str] | None, right: list[str]) -> list[str]:
    """Append a turn's lines; keep the last SUMMARY_TURNS turns (a node writes only the new lines)."""
    return ((left or []) + list(right))[-2 * SUMMARY_TURNS:]


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], recent_messages]
    summary: Annotated[list[str], recent_summary]  # "user: …" / "agent: …" lines of the last turns, shortened
    context: dict[str, Any]  # cluster, service, region, environment, intent, symptoms, likely_categories, …
    preferences: dict[str, Any]  # risk, deadline, deadline_text, tone
    turn: dict[str, Any]  # this turn's scratch: route, reply_text, model_note, outcome, pending_question
    incident_id: str | None
    findings: dict[str, Any] | None  # TriageResult.to_json_dict()
    evidence: dict[str, Any] | None  # the triage evidence without logs and metrics (what the planner reads)
    explanation: str | None  # the model's explanation of the findings (None offline or when it failed)
    plans: list[dict[str, Any]]  # Plan.model_dump(), recommended first
    chosen_plan: int | None  # index into plans
    approvals: list[dict[str, Any]]  # Approval.model_dump()
    audit: list[dict[str, Any]]  # AuditEntry.model_dump() of the last remediation
    verification: dict[str, Any] | None  # VerificationResult.model_dump()
    changed_at: str | None  # when the remediation wrote (the verifier looks after it)
    handoff: dict[str, Any] | None  # chat_models.HandOff: the last approved plan the incident workflow applies


def summary_line(role: str, text: str) -> str:
    flat = " ".join(str(text).split())
    return f"{role}: {flat[:SUMMARY_LINE_CHARS]}{'…' if len(flat) > SUMMARY_LINE_CHARS else ''}"
