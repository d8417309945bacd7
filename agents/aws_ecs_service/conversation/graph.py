"""The supervisor graph: contextualizer -> operations -> reply.

    contextualize ─┬─ clarify / explain ───────────────────────────────────────────────┐
                   ├─ triage ─ planner ─┬─ approval ─┬─ remediator ─ verifier ─ reporter ┤
                   │                    │            └─ (rejected) ─────────── reporter ┤
                   │                    └──────────────────────────────────────────────┤
                   ├─ planner (fix on known findings)                                  ├─ reply
                   ├─ reporter                                                         │
                   ├─ answer (read-only question) ─────────────────────────────────────┤
                   └─ follow_up (healthy now, changes, logs, timeline, sweep, help) ───┘

Rules find the cause, the model explains it: the model is asked for context extraction,
explanations and read-only answers, never given a write. Follow-ups are answered on fresh reads
(conversation/follow_ups.py): the thread's findings are what was true at the last check. The
operations are the incident lifecycle (operations/lifecycle.py): a triage opens or joins the incident of its exact service,
an approved plan becomes that incident's plan (only when its target is the incident's), and the
remediation, verification and reports are the lifecycle's, so "what happened?" renders the
incident's own record. The approval `interrupt()` is the first thing its node does (a resumed
node runs again from the top), and the graph is resumed with `Command(resume={"decision":
"approve" | "reject", "by": "<who>"})`. Where the incident workflow applies approved plans (the
deployed chat API), the caller records the approval and starts it, then resumes with
`{"decision": "approve", "by": ..., "handoff": <chat_models.HandOff>}`: the thread remembers the
hand-off and changes nothing itself.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from ..aws.audit_log import AuditLog, LocalAuditLog
from ..aws.session import AwsContext, SessionPool
from ..config import ECSDeepAgentConfig
from ..diagnosis.errors import TriageError
from ..diagnosis.result import TriageResult
from ..discovery.factory import Discovery, build_discovery
from ..discovery.interface import ServiceRecord
from ..domain.approval import ApprovalStore
from ..domain.incident import IncidentStore, Trigger
from ..domain.plan import Approval, Plan, applied
from ..domain.write_policy import WriteScope
from ..operations.approvals import LocalApprovalStore
from ..operations.local_incidents import LocalIncidentStore
from ..operations.triage import compact_evidence, triage_service
from ..reports.approval_brief import approval_brief
from . import contextualizer as ctxr
from . import follow_ups
from . import model as llm
from .replies import compose_reply, handoff_text
from .state import AgentState, summary_line

if TYPE_CHECKING:
    from ..operations.lifecycle import Lifecycle
    from ..operations.remediator import RemediationLock

log = logging.getLogger(__name__)

CHAT_VERIFY_TIMEOUT_S = 300
CHAT_VERIFY_POLL_S = 5.0
_TARGETED = ("diagnose", "fix", "monitor", "report")
# the settings a Discovery is built from: one instance per distinct set
_DISCOVERY_FIELDS = {"aws_region", "aws_profile", "planton_token", "org_id", "env_name", "targets"}


@dataclass
class Dependencies:
    """What the nodes use besides the state: settings, model, stores, discovery, the service lease."""

    config: ECSDeepAgentConfig
    chat_model: Any = None  # built on first use from config.model_name unless given
    approvals: ApprovalStore = field(default_factory=LocalApprovalStore)
    audit: AuditLog = field(default_factory=LocalAuditLog)
    incidents: IncidentStore = field(default_factory=LocalIncidentStore)
    verify_timeout_s: float = CHAT_VERIFY_TIMEOUT_S
    verify_poll_s: float = CHAT_VERIFY_POLL_S
    lock: RemediationLock | None = None  # one remediation per service at a time (PostgreSQL: the workflow's lease)
    discovery_factory: Callable[[ECSDeepAgentConfig], Discovery] = build_discovery
    reports_dir: Path | None = None  # where an incident's reports go without a bucket (default: a temp folder)
    writable_clusters: list[str] | None = None  # None: any cluster (when allowWrite is on)
    _discoveries: dict[str, Discovery] = field(default_factory=dict, init=False, repr=False)

    def settings(self, config: RunnableConfig | None) -> ECSDeepAgentConfig:
        """The agent's config with this run's LangGraph `configurable` on top (unknown keys ignored)."""
        configurable = (config or {}).get("configurable") or {}
        update = {k: v for k, v in configurable.items() if k in ECSDeepAgentConfig.model_fields and v is not None}
        return self.config.model_validate({**self.config.model_dump(), **update}) if update else self.config

    def model(self, settings: ECSDeepAgentConfig) -> Any:
        if settings.offline:
            return None
        if settings.model_name != self.config.model_name:
            return llm.make_chat_model(settings)
        if self.chat_model is None:
            self.chat_model = llm.make_chat_model(self.config)
        return self.chat_model

    def discovery(self, settings: ECSDeepAgentConfig, region: str | None = None) -> Discovery:
        """One Discovery per configuration, kept: assumed-role credentials, sessions and the listing are reused."""
        scoped = settings.model_copy(update={"aws_region": region}) if region else settings
        key = scoped.model_dump_json(include=_DISCOVERY_FIELDS)
        if key not in self._discoveries:
            self._discoveries[key] = self.discovery_factory(scoped)
        return self._discoveries[key]

    def services(self, settings: ECSDeepAgentConfig, region: str | None) -> list[ServiceRecord]:
        return self.listing(settings, region, [])

    def listing(self, settings: ECSDeepAgentConfig, region: str | None, problems: list[str]) -> list[ServiceRecord]:
        """The services discovery lists; why it listed none is appended to `problems` (no credentials, Planton
        unreachable), so the reply names the cause instead of "not found"."""
        try:
            directory = self.discovery(settings, region).services
            records = directory.list_services()
        except Exception as exc:  # noqa: BLE001 - no listing (credentials, network): ask rather than fail the turn
            log.warning("could not list ECS services: %s", exc)
            problems.append(str(exc))
            return []
        if not records:
            problems += getattr(directory, "last_scan_errors", None) or []
        return records

    def sessions(self, settings: ECSDeepAgentConfig) -> SessionPool:
        """Sessions by target: the credentials configured for the target's account, in its region."""
        return self.discovery(settings).pool

    def aws(self, settings: ECSDeepAgentConfig, context: dict[str, Any]) -> AwsContext:
        """The session for the context's service: its own account and region when discovery resolved it,
        else the configured account. Raises DiscoveryError (a TriageError) when its credential fails."""
        record = ctxr.resolved_record(context)
        if record is not None:
            return self.discovery(settings).session_for_service(record)
        discovery = self.discovery(settings)
        credentials = discovery.credentials_for_account(context["account_id"]) if context.get("account_id") else None
        return discovery.pool.context(context.get("region") or settings.aws_region, credentials)

    def lifecycle(self, settings: ECSDeepAgentConfig) -> Lifecycle:
        from ..operations.lifecycle import Lifecycle
        from ..reports.store import ReportStore

        base = self.reports_dir or Path(tempfile.gettempdir()) / "ecs-agent-reports"

        def reports(incident: Any) -> ReportStore:
            return ReportStore.from_config(settings, local_dir=base / incident.incident_id,
                                           ctx=self.sessions(settings).context(settings.aws_region))

        return Lifecycle(incidents=self.incidents, approvals=self.approvals, audit=self.audit,
                         sessions=self.sessions(settings), scope=WriteScope.of(settings.allow_write,
                                                                               self.writable_clusters),
                         reports=reports, lock=self.lock, allow_sensitive_data=settings.allow_sensitive_data)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _thread_id(config: RunnableConfig | None) -> str:
    return str(((config or {}).get("configurable") or {}).get("thread_id") or "no-thread")


def _progress() -> Callable[[str], None]:
    write = get_stream_writer()
    return lambda line: write({"progress": line})


def _last_user_text(state: AgentState) -> str:
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return str(message.content if isinstance(message.content, str) else message.text)
    return ""


def _same_target(findings: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    """The findings are about the service the context names: cluster, service, and the region and account when the
    context knows them (prod/api in us-west-2 is not prod/api in us-east-1)."""
    target = (findings or {}).get("target") or {}
    if not target or (target.get("cluster"), target.get("service")) != (context.get("cluster"), context.get("service")):
        return False
    return all(not context.get(key) or context[key] == target.get(field)
               for key, field in (("region", "region"), ("account_id", "account")))


def _route(state: AgentState) -> str:
    return state["turn"]["route"]


def _changed(state: AgentState, context: dict[str, Any]) -> dict[str, Any]:
    """Write the context only when it changed: every write is stored again by the checkpointer."""
    return {"context": context} if context != state.get("context") else {}


def _turn(state: AgentState, **changes: Any) -> dict[str, Any]:
    """This turn's scratch values (route, prepared reply, notes) live in one channel: one write per node."""
    return {"turn": {**(state.get("turn") or {}), **changes}}


def build_graph(deps: Dependencies) -> StateGraph:
    """The uncompiled graph; compile it with a checkpointer (memory.open_memory / aopen_memory)."""

    # ---- contextualizer -------------------------------------------------------------------------------
    def contextualize(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = deps.settings(config)
        text = _last_user_text(state)
        previous = dict(state.get("context") or {})
        pending = (state.get("turn") or {}).get("pending_question")
        if pending and (choice := ctxr.pick_candidate(text, pending.get("candidates") or [])):
            context = ctxr.resolved_to(previous, choice)
            if pending.get("follow_up"):  # the question was asked to answer a follow-up: answer it now
                return {"context": context, "turn": {"route": "follow_up", "follow_up": pending["follow_up"]}}
            return {"context": context, "turn": {"route": _intent_route(context, state)}}  # the answer names one

        draft = ctxr.extract(text)
        model = deps.model(settings)
        if model is not None:
            try:
                draft = ctxr.with_model_refinement(draft, llm.refine_context(model, text, draft), text)
            except llm.ModelUnavailable:
                pass  # the rules' reading stands
        preferences = {**(state.get("preferences") or {}), **draft.pop("preferences", {})}
        context = ctxr.merge(previous, draft)
        follow_up = follow_ups.asked(text)
        answered_here = follow_ups.answers_itself(follow_up, state, context)
        if follow_up != "more":
            context.pop("last_follow_up", None)
        intent = follow_ups.intent_for(follow_up, state, context) or draft.get("intent")
        refines = any(k in draft for k in ("started_after", "symptoms", "cluster", "service", "region", "environment"))
        if answered_here:
            intent = previous.get("intent") or "question"  # a follow-up leaves the thread's intent as it was
        elif intent is None:
            if refines and (previous.get("intent") or "diagnose") != "question":
                intent = "diagnose"  # a follow-up about the incident: look again with what we now know
            elif state.get("findings") and preferences != (state.get("preferences") or {}):
                return {"context": context, "preferences": preferences, "turn": {"route": "explain"}}
            else:
                intent = previous.get("intent") or ("diagnose" if context.get("service") else "question")
        context["intent"] = intent
        update: dict[str, Any] = {"preferences": preferences} if preferences != state.get("preferences") else {}
        if answered_here and follow_up in follow_ups.UNTARGETED:
            return {**update, **_changed(state, context), "turn": {"route": "follow_up", "follow_up": follow_up}}

        if not (context.get("cluster") and context.get("service")):
            problems: list[str] = []
            context, candidates = ctxr.resolve_target(context, text, lambda: deps.listing(settings,
                                                                                       context.get("region"), problems))
            ambiguous = len(candidates) > 1
            if not (context.get("cluster") and context.get("service")) and (intent in _TARGETED or ambiguous
                                                                            or answered_here):
                question = (follow_ups.listing_problem(problems[0]) if problems and not candidates
                            else ctxr.clarifying_question(candidates, context))
                return {**update, **_changed(state, context), "turn": {
                    "route": "clarify", "reply_text": question,
                    "pending_question": {"text": question, "candidates": candidates[:ctxr.MAX_CANDIDATES_SHOWN],
                                         **({"follow_up": follow_up} if answered_here else {})}}}
        route = "follow_up" if answered_here else _intent_route(context, state)
        return {**update, **_changed(state, context), "turn": {"route": route, "follow_up": follow_up}}

    def _intent_route(context: dict[str, Any], state: AgentState) -> str:
        intent = context.get("intent") or "diagnose"
        same = _same_target(state.get("findings"), context)
        # findings of this target whose plans nobody decided yet; after a decision (final), a new ask looks again
        decided = any(a.get("incident_id") == state.get("incident_id") for a in state.get("approvals") or [])
        if intent == "question":
            return "answer"
        if intent == "fix" and same and not decided:
            return "plan"
        if intent == "report" and same and state.get("incident_id"):
            return "report"  # the incident this thread worked on, decided or not
        return "triage"

    # ---- operations -----------------------------------------------------------------------------------
    def triage(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = deps.settings(config)
        context = state["context"]
        cluster, service = context["cluster"], context["service"]
        since = dt.timedelta(seconds=context["since_s"]) if context.get("since_s") else None
        try:
            result, evidence = triage_service(deps.aws(settings, context), cluster, service, since,
                                              settings.allow_sensitive_data, _progress())
        except TriageError as exc:  # a name that does not exist gets the closest ones that do
            return _turn(state, **follow_ups.not_found_turn(exc, context, lambda: deps.services(
                settings, context.get("region"))))
        if context.get("account_id") and result.target.account != context["account_id"]:
            return _turn(state, route="reply", reply_text=(
                f"{cluster}/{service} is in account {context['account_id']}, but the credentials I have reach account "
                f"{result.target.account}: I looked at another service of the same name there, so I stop here. Add "
                f"a target for account {context['account_id']} (agent.yaml `targets`) to work on it."))
        # the incident of exactly this service (account, region, ARNs): its open one, or a new one
        life = deps.lifecycle(settings)
        thread = _thread_id(config)
        incident, _ = life.open(result.target, Trigger(
            kind="chat", summary=f"chat thread {thread}: {_last_user_text(state)[:200]}",
            event_id=f"{thread}:{uuid.uuid4().hex[:12]}", at=_now(), signature="chat"), prefix="chat")
        life.record_triage(incident, result, evidence, source=f"chat thread {thread}: ")
        findings = result.to_json_dict()
        update: dict[str, Any] = {"findings": findings, "evidence": compact_evidence(evidence),
                                  "incident_id": incident.incident_id, "plans": [], "chosen_plan": None,
                                  "audit": [], "verification": None}
        explanation, note = _explain(deps.model(settings), findings, state.get("preferences") or {})
        return {**update, "explanation": explanation, **_turn(state, route="plan", model_note=note)}

    def planner(state: AgentState) -> dict[str, Any]:
        from ..operations.planner import build_plans

        result = TriageResult.model_validate(state["findings"])
        prefs = state.get("preferences") or {}
        plans = build_plans(result, state.get("evidence") or {}, state["incident_id"],
                            {k: prefs[k] for k in ("risk", "deadline", "tone") if prefs.get(k)})
        chosen = _chosen_option(_last_user_text(state), plans)
        intent = state["context"].get("intent")
        if intent == "fix" and plans[chosen].requires_write:
            route = "approval"
        else:
            route = "report" if intent == "report" else "reply"
        return {"plans": [p.model_dump(mode="json") for p in plans], "chosen_plan": chosen, **_turn(state, route=route)}

    def approval(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        plan = Plan.model_validate(state["plans"][state["chosen_plan"]])
        # Nothing before this line may change anything: on resume the node runs again from the top.
        answer = interrupt({
            "type": "approval", "incident_id": plan.incident_id, "plan_hash": plan.plan_hash, "title": plan.title,
            "summary": plan.summary, "risk": plan.risk, "steps": [s.api_call for s in plan.steps],
            "brief": approval_brief(plan, state.get("findings")),
            "question": f"Approve plan {plan.plan_hash[:12]} ({plan.title}, risk {plan.risk})? Resume with "
                        '{"decision": "approve"} or {"decision": "reject"}.'})
        decision, by = _decision(answer)
        handoff = answer.get("handoff") if isinstance(answer, dict) and decision == "approved" else None
        if handoff:  # recorded by the caller and applied by the incident workflow: nothing to do here
            handed = Approval(plan_hash=handoff["plan_hash"], incident_id=handoff["incident_id"], decision=decision,
                              decided_by=handoff["decided_by"], decided_at=handoff["decided_at"], channel="chat",
                              target=plan.target)
            return {"approvals": [*(state.get("approvals") or []), handed.model_dump(mode="json")],
                    "handoff": handoff, **_turn(state, route="reply", reply_text=handoff_text(handoff))}
        settings = deps.settings(config)
        life = deps.lifecycle(settings)
        incident = _thread_incident(life, state, config)
        # the thread's plan becomes its incident's (only for the incident's own service), then the decision
        plan = life.adopt(incident, plan, TriageResult.model_validate(state["findings"]), state.get("evidence") or {},
                          f"chat thread {_thread_id(config)}")
        recorded = life.decide(incident, Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id,
                                                  decision=decision, decided_by=by, decided_at=_now(), channel="chat"))
        return {"approvals": [*(state.get("approvals") or []), recorded.model_dump(mode="json")],
                **_turn(state, route="remediate" if recorded.decision == "approved" else "report")}

    def remediator(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = deps.settings(config)
        life = deps.lifecycle(settings)
        incident = _thread_incident(life, state, config)
        approved = Approval.model_validate(state["approvals"][-1])
        if deps.approvals.get(approved.incident_id, approved.plan_hash) is None:
            # resumed in a process whose store did not see the decision (in-memory store): the thread's
            # checkpoint holds it, so it is recorded again before the guard looks for it
            deps.approvals.record(approved)
        changed_at = _now()
        # the thread is the lease's holder: another conversation or the workflow waits for it
        entries = life.remediate(incident, actor=f"ecs-agent chat, thread {_thread_id(config)} (approved by "
                                                 f"{approved.decided_by})", progress=_progress())
        return {"audit": [e.model_dump(mode="json") for e in entries], "changed_at": changed_at,
                **_turn(state, route="verify" if applied(entries) else "report")}

    def verifier(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = deps.settings(config)
        life = deps.lifecycle(settings)
        incident = _thread_incident(life, state, config)
        evidence = state.get("evidence") or {}
        alarms = [a["AlarmName"] for a in evidence.get("alarms") or [] if a.get("StateValue") == "ALARM"]
        result = life.verify(incident, state["changed_at"], timeout_s=deps.verify_timeout_s,
                             poll_s=deps.verify_poll_s, progress=_progress(),
                             trigger_alarm=alarms[0] if alarms else None)
        return {"verification": result.model_dump(mode="json"), **_turn(state, route="report")}

    def reporter(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        """After a decision (and the change, if approved) the incident settles with its reports; asked for the
        report, the incident's own record is rendered (its timeline, approvals and write calls)."""
        from ..reports.summary_report import render_summary_report

        settings = deps.settings(config)
        life = deps.lifecycle(settings)
        incident = _thread_incident(life, state, config) if state.get("findings") else None
        if incident is None:
            return _turn(state, route="reply", reply_text="There is no incident to report on yet: ask me to look at a "
                                                          "service first.")
        decided = incident.approval_of(incident.chosen_plan_hash) is not None
        if decided and not incident.settled:
            life.close(incident)
        if state["context"].get("intent") == "report":
            return _turn(state, outcome=incident.status, reply_text=render_summary_report(incident), route="reply")
        return _turn(state, outcome=incident.status if incident.settled else None, route="reply")

    def answer(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        from ..operations.answers import ReadTools, offline_answer

        settings = deps.settings(config)
        context, text = state["context"], _last_user_text(state)

        def tools() -> ReadTools:
            return ReadTools(deps.aws(settings, context), settings.allow_sensitive_data)

        model = deps.model(settings)
        if model is not None:
            try:
                return _turn(state, route="reply", reply_text=llm.answer_with_tools(
                    model, text, context, tools().langchain_tools(), state.get("findings")))
            except llm.ModelUnavailable as exc:
                note = llm.unavailable_line(str(exc))
                return _turn(state, route="reply", model_note=note,  # the turn says the model failed (API: 503)
                             reply_text=f"{offline_answer(text, context, state.get('findings'), tools)}\n\n{note}")
        try:
            return _turn(state, route="reply", reply_text=offline_answer(text, context, state.get("findings"), tools))
        except TriageError as exc:
            return _turn(state, route="reply", reply_text=f"I could not read that: {exc}")

    def follow_up(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        settings = deps.settings(config)
        kind = state["turn"]["follow_up"]
        reach = follow_ups.Reach(
            aws=lambda context: deps.aws(settings, context), incident=deps.incidents.find,
            services=lambda: deps.services(settings, state["context"].get("region")),
            session_for=lambda record: deps.discovery(settings).session_for_service(record),
            allow_sensitive_data=settings.allow_sensitive_data, progress=_progress())
        text = follow_ups.answer(kind, state, _last_user_text(state), reach)
        context = {**state["context"], "last_follow_up": kind} if kind == "logs" else state["context"]
        return {**_changed(state, context), **_turn(state, route="reply", reply_text=text)}

    # ---- reply --------------------------------------------------------------------------------------
    def reply(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        turn = dict(state.get("turn") or {})
        update: dict[str, Any] = {}
        if turn.get("reply_text"):
            text = turn.pop("reply_text")
        else:
            if turn.get("route") == "explain":
                update["explanation"], turn["model_note"] = _explain(deps.model(deps.settings(config)),
                                                                     state["findings"], state.get("preferences") or {})
            text = compose_reply({**state, **update, **turn}, allow_write=deps.settings(config).allow_write)
        user = _last_user_text(state)
        return {**update, "messages": [AIMessage(text)], "turn": turn,
                "summary": [summary_line("user", user), summary_line("agent", text)]}

    graph = StateGraph(AgentState)
    for name, node in (("contextualize", contextualize), ("triage", triage), ("planner", planner),
                       ("approval", approval), ("remediator", remediator), ("verifier", verifier),
                       ("reporter", reporter), ("answer", answer), ("follow_up", follow_up), ("reply", reply)):
        graph.add_node(name, node)
    graph.add_edge(START, "contextualize")
    graph.add_conditional_edges("contextualize", _route, {"clarify": "reply", "explain": "reply", "triage": "triage",
                                                          "plan": "planner", "report": "reporter",
                                                          "answer": "answer", "follow_up": "follow_up"})
    graph.add_conditional_edges("triage", _route, {"plan": "planner", "reply": "reply"})
    graph.add_conditional_edges("planner", _route, {"approval": "approval", "report": "reporter", "reply": "reply"})
    graph.add_conditional_edges("approval", _route, {"remediate": "remediator", "report": "reporter",
                                                     "reply": "reply"})
    graph.add_conditional_edges("remediator", _route, {"verify": "verifier", "report": "reporter"})
    graph.add_edge("verifier", "reporter")
    graph.add_edge("reporter", "reply")
    graph.add_edge("answer", "reply")
    graph.add_edge("follow_up", "reply")
    graph.add_edge("reply", END)
    return graph


def _thread_incident(life: Lifecycle, state: AgentState, config: RunnableConfig) -> Any:
    """The incident the thread works on. A thread resumed in another process whose incident store did not keep it (an
    in-memory store) brings it back from its checkpoint: the same id, service, triage and evidence."""
    found = life.incidents.find(state["incident_id"])
    if found is not None:
        return found
    result = TriageResult.model_validate(state["findings"])
    trigger = Trigger(kind="chat", summary=f"chat thread {_thread_id(config)} (resumed)", at=_now(), signature="chat",
                      event_id=f"{_thread_id(config)}:{state['incident_id']}")
    incident, _ = life.incidents.open_or_join(life.open_record(result.target, trigger, state["incident_id"]), trigger)
    life.record_triage(incident, result, state.get("evidence") or {}, source=f"chat thread {_thread_id(config)}: ")
    return incident


def _explain(model: Any, findings: dict[str, Any], preferences: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the model's explanation, or None; the "explanation unavailable" note when the model failed)."""
    if model is None:
        return None, None
    try:
        return llm.explain_findings(model, findings, preferences), None
    except llm.ModelUnavailable as exc:
        return None, llm.unavailable_line(str(exc))


def _chosen_option(text: str, plans: list[Plan]) -> int:
    """The option the user named ("option 2", "the rollback", "scale out"), else the recommended one."""
    import re

    lowered = text.lower()
    if (m := re.search(r"\b(?:option|plan|number|#)\s*(\d)\b", lowered)) and 0 < int(m.group(1)) <= len(plans):
        return int(m.group(1)) - 1
    for i, plan in enumerate(plans):
        if plan.option.replace("-", " ") in lowered.replace("-", " ") or (
                plan.option == "rollback" and re.search(r"\broll ?back\b", lowered)):
            return i
    return 0


def _decision(answer: Any) -> tuple[str, str]:
    """The resume value -> ("approved" | "rejected", who). Anything but an explicit approve is a rejection."""
    if isinstance(answer, dict):
        word, by = str(answer.get("decision", "")), str(answer.get("by") or "chat user")
    else:
        word, by = str(answer), "chat user"
    approved = word.strip().lower() in ("approve", "approved", "yes", "y")
    return ("approved" if approved else "rejected"), by


def make_graph(config: RunnableConfig | None = None):
    """Graph factory for `langgraph dev` / LangGraph Platform (they bring their own checkpointer)."""
    settings = ECSDeepAgentConfig.load(configurable=(config or {}).get("configurable"))
    return build_graph(Dependencies(config=settings)).compile()
