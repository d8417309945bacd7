"""The chat API's logic: conversation threads over the agent graph, incident views, approvals in chat.

A thread is a row in ecs_agent_threads plus the graph's checkpoints in PostgreSQL under the same id.
A thread opened on an incident takes the incident id as its id (the workflow's incident and the chat
share it) and starts knowing the incident's service. A message runs the graph once with
durability="exit": one checkpoint per turn, not one per node.

Approvals in chat name the plan hash the person saw. A plan the workflow waits on (a Step Functions
task token) is decided exactly as the email link decides it (decisions.decide, channel "chat"). A plan
the thread's own graph asked about is recorded once; then, where a state machine is configured (the
deployed stack: this function never writes to ECS), an approval is handed to a new workflow execution
that applies it (chat_handoff.py) and the graph only remembers that; without one (a local run) the graph
resumes with Command(resume=...) and applies it in-process. Either way a second decision raises
AlreadyDecided.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ..conversation.turn_budget import turn_deadline
from ..domain.approval import AlreadyDecided
from ..domain.incident import Incident
from ..domain.plan import Approval, Plan
from ..reports.approval_brief import brief_lines
from .approval_store import NoPendingApproval
from .chat_handoff import hand_off, resume
from .chat_models import (
    ChatMessage,
    DecisionReply,
    HandOff,
    IncidentView,
    MessageReply,
    PendingApproval,
    ThreadView,
)
from .decisions import decide, deliver
from .remediation_lock import PostgresRemediationLock
from .services import Services
from .thread_store import PostgresThreadStore, Thread

# Without a state machine (a local run) a chat-approved change is applied and verified within the request: API
# Gateway ends a REST integration at 29 s.
API_VERIFY_TIMEOUT_S = 20
API_VERIFY_POLL_S = 2.0
REPORT_LINK_TTL_S = 900
# A chat turn's model calls end this long after the request started (API Gateway ends it at 29 s): what is left
# covers the turn's AWS reads, saving its checkpoint and answering.
TURN_BUDGET_S = 22.0


class ModelUnavailableTurn(Exception):
    """The turn ran, but the model did not answer: `reply` holds the deterministic findings."""

    def __init__(self, reply: MessageReply, note: str):
        super().__init__(note)
        self.reply = reply


def _approval_asked(values: list[Any], plan_hash: str | None = None) -> dict[str, Any] | None:
    """The graph's pending approval interrupt (of `plan_hash`, if given)."""
    for value in values:
        if isinstance(value, dict) and value.get("type") == "approval" and plan_hash in (None, value["plan_hash"]):
            return value
    return None


def _last_agent_text(values: dict[str, Any]) -> str:
    for message in reversed(values.get("messages") or []):
        if getattr(message, "type", "") == "ai":
            return str(message.content)
    return ""


class ChatService:
    def __init__(self, svc: Services):
        # LangGraph loads here, on the first request, not when the handler module is imported (cold-start budget)
        from langgraph.checkpoint.postgres import PostgresSaver

        from ..conversation.graph import Dependencies, build_graph

        self.svc = svc
        self.threads = PostgresThreadStore(svc.conn)
        self.approvals = svc.approvals
        self._sfn: Any = None
        lock = PostgresRemediationLock(svc.conn, wait_s=svc.settings.remediation_lock_wait_s,
                                       ttl_s=svc.settings.remediation_lock_ttl_s)
        deps = Dependencies(config=svc.config, approvals=self.approvals, audit=svc.audit, incidents=svc.incidents,
                            lock=lock, verify_timeout_s=API_VERIFY_TIMEOUT_S, verify_poll_s=API_VERIFY_POLL_S,
                            writable_clusters=svc.settings.writable_clusters())
        # the connection is opened by incidents.database: no prepared statements (RDS Proxy), autocommit, dict rows
        self.graph = build_graph(deps).compile(checkpointer=PostgresSaver(svc.conn))

    @property
    def sfn(self) -> Any:
        if self._sfn is None:
            self._sfn = self.svc.ctx().client("stepfunctions")
        return self._sfn

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    # ---- threads and messages ----------------------------------------------------------------------------
    def open_thread(self, created_by: str, incident_id: str | None = None) -> tuple[Thread, bool]:
        if incident_id is None:
            return self.threads.create(f"th-{uuid.uuid4().hex}", None, created_by)
        incident = self.svc.incidents.load(incident_id)  # IncidentNotFound -> 404
        thread, created = self.threads.create(incident_id, incident_id, created_by)
        if created:
            t = incident.target
            # as if a turn had ended: the next message starts from the top and knows the exact service
            self.graph.update_state(self._config(incident_id), {"context": {
                "cluster": t.cluster, "service": t.service, "region": t.region, "account_id": t.account,
                "intent": "diagnose"}}, as_node="reply")
        return thread, created

    def send(self, thread_id: str, text: str, budget_s: float | None = None) -> MessageReply:
        """One turn; its model calls share `budget_s` (None: no deadline). Raises ModelUnavailableTurn (with the
        reply) when the model failed or ran out of time during it."""
        thread = self.threads.load(thread_id)
        with turn_deadline(budget_s):
            values = self.graph.invoke({"messages": [{"role": "user", "content": text}]}, self._config(thread_id),
                                       durability="exit")
        self.svc.metrics.count("ChatMessage")
        asked = _approval_asked([i.value for i in values.get("__interrupt__") or []])
        reply = MessageReply(thread_id=thread_id, incident_id=values.get("incident_id"),
                             reply=self._approval_question(thread_id, asked) if asked else _last_agent_text(values),
                             findings=values.get("findings"), pending_approval=self._pending(thread, asked))
        note = (values.get("turn") or {}).get("model_note")
        if note:
            self.svc.metrics.count("ChatModelUnavailable")
            raise ModelUnavailableTurn(reply, note)
        return reply

    def thread(self, thread_id: str) -> ThreadView:
        thread = self.threads.load(thread_id)
        snapshot = self.graph.get_state(self._config(thread_id))
        values = snapshot.values
        messages = [ChatMessage(role="agent" if m.type == "ai" else "user", text=str(m.content))
                    for m in values.get("messages") or [] if m.type in ("ai", "human")]
        return ThreadView(thread_id=thread_id, incident_id=thread.incident_id, created_by=thread.created_by,
                          created_at=thread.created_at, messages=messages, summary=values.get("summary") or [],
                          context=values.get("context") or {}, findings=values.get("findings"),
                          pending_approval=self._pending(thread, _approval_asked([i.value for i in
                                                                                 snapshot.interrupts])),
                          handoff=values.get("handoff"))

    # ---- approvals ---------------------------------------------------------------------------------------
    def decide(self, thread_id: str, plan_hash: str, decision: Literal["approve", "reject"], decided_by: str,
               comment: str = "") -> DecisionReply:
        """Raises ThreadNotFound, NoPendingApproval (nothing asked), AlreadyDecided, ApprovalExpired, IncidentBusy."""
        from langgraph.types import Command

        thread = self.threads.load(thread_id)
        config = self._config(thread_id)
        snapshot = self.graph.get_state(config)
        for incident_id in dict.fromkeys(filter(None, (thread.incident_id, snapshot.values.get("incident_id")))):
            request = self.approvals.find(incident_id, plan_hash)
            if request is not None and request.task_token:
                return self._decide_for_workflow(thread_id, request, decision, decided_by, comment)
        asked = _approval_asked([i.value for i in snapshot.interrupts], plan_hash)
        if asked is None:
            for incident_id in (thread.incident_id, snapshot.values.get("incident_id")):
                existing = self.approvals.get(incident_id, plan_hash) if incident_id else None
                if existing is not None:
                    raise AlreadyDecided(existing)
            raise NoPendingApproval(f"no approval of plan {plan_hash} is pending on thread {thread_id}")
        if decision == "approve" and self.svc.settings.state_machine_arn:
            return self._hand_off(thread, snapshot.values, plan_hash, decided_by, comment)
        status = "approved" if decision == "approve" else "rejected"
        # Recorded before resuming: of two racing decisions only one resumes the graph.
        self.approvals.record(Approval(plan_hash=plan_hash, incident_id=asked["incident_id"], decision=status,
                                       decided_by=decided_by, decided_at=dt.datetime.now(dt.UTC).isoformat(),
                                       channel="chat", comment=comment))
        self.svc.metrics.count("ApprovalApproved" if status == "approved" else "ApprovalRejected")
        values = self.graph.invoke(Command(resume={"decision": decision, "by": decided_by}), config,
                                   durability="exit")
        return DecisionReply(thread_id=thread_id, incident_id=asked["incident_id"], plan_hash=plan_hash,
                             decision=status, decided_by=decided_by, resumed="thread",
                             reply=_last_agent_text(values))

    def _decide_for_workflow(self, thread_id: str, request: Any, decision: Literal["approve", "reject"],
                             decided_by: str, comment: str) -> DecisionReply:
        """A plan the incident's workflow waits on: decided as the email link decides it. A decision recorded before
        but not yet told to the workflow is told now (instead of a 409)."""
        if request.status != "pending" and not request.undelivered:
            raise AlreadyDecided(request.approval())
        if request.status == "pending":
            decided, told = decide(self.approvals, self.sfn, self.svc.metrics, request.incident_id,
                                   request.plan_hash, decision, decided_by, "chat", comment=comment)
        else:
            decided, told = request, deliver(self.approvals, self.sfn, request.incident_id,
                                             request.plan_hash) is not False
        verb = "applies the plan now" if decided.status == "approved" else "changes nothing"
        reply = (f"{decided.status.capitalize()}: the incident workflow {verb}." if told else
                 f"{decided.status.capitalize()} and recorded, but the incident workflow could not be told yet: it is "
                 "retried automatically, and approving again here retries now.")
        return DecisionReply(thread_id=thread_id, incident_id=request.incident_id, plan_hash=request.plan_hash,
                             decision=decided.status, decided_by=decided.decided_by or decided_by,
                             resumed="workflow", reply=reply)

    def _hand_off(self, thread: Thread, values: dict[str, Any], plan_hash: str, decided_by: str,
                  comment: str) -> DecisionReply:
        """The approval goes to a new workflow execution for the plan's own incident (the incident of exactly the
        service the plan changes); the thread's graph only remembers the hand-off."""
        plan = next(Plan.model_validate(p) for p in values["plans"] if p["plan_hash"] == plan_hash)
        findings, evidence = values["findings"], values.get("evidence") or {}
        try:
            done = hand_off(self.svc, self.sfn, thread.thread_id, plan, findings, evidence, decided_by, comment)
        except AlreadyDecided as exc:
            if exc.existing.decision == "approved" and exc.existing.channel == "chat":
                # recorded by an attempt that was cut off before the thread heard of it: finish that hand-off
                self._remember(thread.thread_id, resume(self.svc, self.sfn, thread.thread_id, plan, exc.existing))
            raise
        after = self._remember(thread.thread_id, done)
        return DecisionReply(thread_id=thread.thread_id, incident_id=done.incident_id, plan_hash=plan.plan_hash,
                             decision="approved", decided_by=decided_by, resumed="handed-off",
                             reply=_last_agent_text(after), incident_url=done.incident_url,
                             execution_arn=done.execution_arn)

    def _remember(self, thread_id: str, done: HandOff) -> dict[str, Any]:
        from langgraph.types import Command

        return self.graph.invoke(Command(resume={"decision": "approve", "by": done.decided_by,
                                                 "handoff": done.model_dump(mode="json")}),
                                 self._config(thread_id), durability="exit")

    def _pending(self, thread: Thread, asked: dict[str, Any] | None) -> PendingApproval | None:
        """The workflow's pending request of the thread's incident first (it has a deadline), else the graph's."""
        found = self._workflow_pending(thread.incident_id) if thread.incident_id else None
        if found is not None or asked is None:
            return found
        return PendingApproval(waiting="thread", incident_id=asked["incident_id"], plan_hash=asked["plan_hash"],
                               title=asked["title"], summary=asked["summary"], risk=asked["risk"],
                               steps=asked.get("steps") or [], brief=str(asked.get("text") or "").splitlines())

    def _workflow_pending(self, incident_id: str, incident: Incident | None = None) -> PendingApproval | None:
        request = self.approvals.pending_for(incident_id)
        if request is None or not request.task_token or (
                request.expires_at and request.expires_at <= dt.datetime.now(dt.UTC)):
            return None
        incident = incident or self.svc.incidents.find(incident_id)
        plan = next((p for p in (incident.plans if incident else []) if p.plan_hash == request.plan_hash), None)
        if plan is None:
            return None
        return PendingApproval(waiting="workflow", incident_id=incident_id, plan_hash=plan.plan_hash,
                               title=plan.title, summary=plan.summary, risk=plan.risk,
                               steps=[s.api_call for s in plan.steps], brief=brief_lines(plan, incident.triage),
                               expires_at=request.expires_at)

    @staticmethod
    def _approval_question(thread_id: str, asked: dict[str, Any]) -> str:
        steps = "; ".join(asked.get("steps") or [])
        return (f"{asked['title']} (risk {asked['risk']}) changes AWS: {steps}. Nothing changes until you approve "
                f"plan {asked['plan_hash']}: POST /threads/{thread_id}/approvals with decision approve or reject.")

    # ---- incidents ---------------------------------------------------------------------------------------
    def incident(self, incident_id: str) -> IncidentView:
        incident = self.svc.incidents.load(incident_id)  # IncidentNotFound -> 404
        return IncidentView(incident_id=incident.incident_id, status=incident.status, target=incident.target,
                            outcome=incident.outcome, events=incident.events,
                            trigger=incident.trigger, opened_at=incident.opened_at, findings=incident.triage,
                            plan=incident.chosen_plan(), pending_approval=self._workflow_pending(incident_id, incident),
                            approvals=incident.approvals, timeline=incident.timeline,
                            reports=self._report_links(incident))

    def _report_links(self, incident: Incident) -> dict[str, str]:
        if not self.svc.settings.reports_bucket:
            return {}
        return self.svc.reports(incident).presigned_links(incident.incident_id,
                                                                               REPORT_LINK_TTL_S)

