"""A plan approved in the deployed chat is applied by the incident workflow, never by the chat function.

The chat function reads AWS but may not change it (its role has no ECS write, and API Gateway ends a
request at 29 s). The thread's triage opened or joined the incident of its exact service; when the
thread's plan is approved, `hand_off` makes the plan that incident's chosen plan (only when the plan's
target is the incident's: lifecycle.adopt), records the approval (single use), and starts an execution
whose input says the plan is approved. The state machine's entry Choice sends that input straight to
Remediate (the service's lease, then the policy guard, which checks this approval in PostgreSQL and the
observed "before" again) -> Verify -> Report.

Every step after the recorded approval can run again and leaves the same record and one execution (its
name derives from the incident and the plan), so an attempt cut off half-way is finished by `resume`,
which a repeated approval in chat calls.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..diagnosis.result import TriageResult
from ..domain.incident_keys import approved_execution_name
from ..domain.plan import Approval, Plan
from .chat_models import HandOff
from .decisions import task_output
from .services import Services
from .starter import execution_arn, start_once
from .workflow_steps import plan_state

# The incident's own workflow is at work on another plan: a second execution would race it.
BUSY = ("awaiting-approval", "remediating")


class IncidentBusy(Exception):
    """The incident's workflow is still working on it; the message says what it is waiting for."""


def hand_off(svc: Services, sfn: Any, thread_id: str, plan: Plan, findings: dict[str, Any],
             evidence: dict[str, Any], decided_by: str, comment: str = "") -> HandOff:
    """Record the approval of `plan` for its own incident and start the workflow that applies it.

    Raises AlreadyDecided (the plan has a decision: nothing else happens), IncidentBusy, or TargetMismatch (the
    plan is not about the incident's service)."""
    life = svc.lifecycle()
    incident = svc.incidents.load(plan.incident_id)
    if incident.status in BUSY and incident.chosen_plan_hash != plan.plan_hash:
        raise IncidentBusy(f"incident {incident.incident_id} is {incident.status} with plan "
                           f"{incident.chosen_plan_hash}: decide or wait for that first")
    plan = life.adopt(incident, plan, TriageResult.model_validate(findings), evidence, f"chat thread {thread_id}")
    approval = svc.approvals.record(Approval(
        plan_hash=plan.plan_hash, incident_id=incident.incident_id, decision="approved", decided_by=decided_by,
        decided_at=dt.datetime.now(dt.UTC).isoformat(), channel="chat", comment=comment, target=plan.target))
    svc.metrics.count("ApprovalApproved")
    return resume(svc, sfn, thread_id, plan, approval)


def resume(svc: Services, sfn: Any, thread_id: str, plan: Plan, approval: Approval) -> HandOff:
    """The execution of a recorded approval (again, after an attempt was cut off)."""
    life = svc.lifecycle()
    incident = svc.incidents.load(approval.incident_id)
    life.note_decision(incident, approval)
    blocked = life.blocked_reason(plan)
    name = approved_execution_name(incident.incident_id, plan.plan_hash)
    state = {"incident_id": incident.incident_id, "target": plan.target.model_dump(mode="json"),
             "trigger": {"kind": "chat", "summary": f"plan {plan.plan_hash} approved in chat thread {thread_id}",
                         "event_id": thread_id, "at": approval.decided_at},
             "settings": svc.settings.workflow_knobs(), "plan": plan_state(plan, blocked),
             "approval": task_output(svc.approvals.find(incident.incident_id, plan.plan_hash))}
    _, arn = start_once(sfn, svc.settings.state_machine_arn, name, state)
    if not svc.incidents.execution_arn(incident.incident_id):
        svc.incidents.set_execution(incident.incident_id, execution_arn(svc.settings.state_machine_arn, name))
    life.event(incident, "workflow", f"handed to the workflow: execution {name}")
    svc.incidents.save(incident)
    base = svc.settings.approval_base_url  # the API's base URL (the approval links are routes of it)
    return HandOff(incident_id=incident.incident_id, plan_hash=plan.plan_hash, execution_arn=arn,
                   incident_url=f"{base}/incidents/{incident.incident_id}", decided_by=approval.decided_by,
                   decided_at=approval.decided_at, blocked=blocked)
