"""A plan approved in the deployed chat is applied by the incident workflow, never by the chat function.

The chat function reads AWS but may not change it (its role has no ECS write, and API Gateway ends a
request at 29 s). When a thread's own plan is approved there, `hand_off` records the approval (single
use), opens or updates the incident record the workflow reads (the thread's triage, evidence and plan),
and starts an execution whose input says the plan is approved. The state machine's entry Choice sends
that input straight to Remediate (the service's lease, then the policy guard, which checks this approval
in PostgreSQL and the observed "before" again) -> Verify -> Report.

Every step after the recorded approval can run again and leaves the same record and one execution (its
name derives from the incident and the plan), so an attempt cut off half-way is finished by `resume`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..operations.plan_model import Approval, Incident, Plan, TimelineEvent
from .chat_models import HandOff
from .decisions import task_output
from .keys import approved_execution_name
from .services import Services
from .starter import execution_arn, start_once
from .workflow_steps import new_incident, plan_state, record_approval, write_blocked_reason

# The incident's own workflow is at work on another plan: a second execution would race it.
BUSY = ("awaiting-approval", "remediating")


class IncidentBusy(Exception):
    """The incident's workflow is still working on it; the message says what it is waiting for."""


def hand_off(svc: Services, sfn: Any, thread_id: str, incident_id: str, plan: Plan, findings: dict[str, Any],
             evidence: dict[str, Any], decided_by: str, comment: str = "") -> HandOff:
    """Record the approval of `plan` for `incident_id` and start the workflow that applies it.

    Raises AlreadyDecided (the plan has a decision: nothing else happens) or IncidentBusy."""
    existing = svc.incidents.find(incident_id)
    if existing is not None and existing.status in BUSY and existing.chosen_plan_hash != plan.plan_hash:
        raise IncidentBusy(f"incident {incident_id} is {existing.status} with plan {existing.chosen_plan_hash}: "
                           "decide or wait for that first")
    approval = svc.approvals.record(Approval(
        plan_hash=plan.plan_hash, incident_id=incident_id, decision="approved", decided_by=decided_by,
        decided_at=dt.datetime.now(dt.UTC).isoformat(), channel="chat", comment=comment))
    svc.metrics.count("ApprovalApproved")
    return resume(svc, sfn, thread_id, plan, findings, evidence, approval)


def resume(svc: Services, sfn: Any, thread_id: str, plan: Plan, findings: dict[str, Any], evidence: dict[str, Any],
           approval: Approval) -> HandOff:
    """The incident record and the execution of a recorded approval (again, after an attempt was cut off)."""
    incident_id = approval.incident_id
    plan = plan.model_copy(update={"incident_id": incident_id})  # the hash binds the change, not the id
    blocked = write_blocked_reason(svc, plan)
    name = approved_execution_name(incident_id, plan.plan_hash)
    arn = execution_arn(svc.settings.state_machine_arn, name)
    state = {"incident_id": incident_id, "target": plan.target,
             "trigger": {"kind": "chat", "summary": f"plan {plan.plan_hash} approved in chat thread {thread_id}",
                         "event_id": thread_id, "at": approval.decided_at},
             "settings": svc.settings.workflow_knobs(), "plan": plan_state(plan, blocked),
             "approval": task_output(svc.approvals.find(incident_id, plan.plan_hash))}
    incident = svc.incidents.find(incident_id) or svc.incidents.open(new_incident(state), execution_arn=arn)
    _take_over(incident, plan, findings, approval, name)
    svc.incidents.save_evidence(incident_id, evidence)
    svc.incidents.save(incident)
    _, arn = start_once(sfn, svc.settings.state_machine_arn, name, state)
    base = svc.settings.approval_base_url  # the API's base URL (the approval links are routes of it)
    return HandOff(incident_id=incident_id, plan_hash=plan.plan_hash, execution_arn=arn,
                   incident_url=f"{base}/incidents/{incident_id}", decided_by=approval.decided_by,
                   decided_at=approval.decided_at, blocked=blocked)


def _take_over(incident: Incident, plan: Plan, findings: dict[str, Any], approval: Approval, execution: str) -> None:
    """The thread's triage and plan become the incident's, once (a repeat changes nothing)."""
    if any(a.plan_hash == plan.plan_hash for a in incident.approvals):
        return
    incident.triage = findings
    incident.plans = [p for p in incident.plans if p.plan_hash != plan.plan_hash] + [plan]
    incident.chosen_plan_hash = plan.plan_hash
    incident.status = "remediating"
    rc = findings.get("root_cause") or {}
    at = approval.decided_at
    incident.timeline += [
        TimelineEvent(at=at, kind="triage", text=f"from the chat thread: {findings.get('status')}; root cause "
                                                 f"{rc.get('category')} ({float(rc.get('confidence') or 0):.2f})"),
        TimelineEvent(at=at, kind="plan", text=f"{plan.title}; hash {plan.plan_hash}")]
    record_approval(incident, approval)
    incident.timeline.append(TimelineEvent(at=at, kind="workflow", text=f"handed to the workflow: execution {execution}"))
