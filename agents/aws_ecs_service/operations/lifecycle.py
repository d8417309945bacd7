"""The incident lifecycle, written once: open → triage → plan → approval → apply → verify → settle → reports.

The Step Functions steps (incidents/workflow_steps.py), the chat graph's nodes and `ecs-agent demo`
are thin drivers over `Lifecycle`: each calls the stage it is at, with its own stores, notifier,
clock and progress. Every stage records itself on the incident (status, timeline) and saves it, so
whichever driver asks "what happened?" renders the same record.

Rules find the cause and build the plans; nothing here calls a model. Writes happen only through
the policy guard, for the incident's exact target, after the approval the guard looks up itself.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..aws.audit_log import AuditLog
from ..aws.policy_guard import PolicyGuard
from ..aws.session import SessionPool
from ..diagnosis.result import TriageResult
from ..domain.approval import AlreadyDecided, ApprovalStore
from ..domain.incident import Incident, IncidentStore, TimelineEvent, Trigger, VerificationResult, new_incident
from ..domain.incident_keys import incident_id_for
from ..domain.plan import Approval, AuditEntry, Plan, applied
from ..domain.target import ServiceTarget, TargetMismatch
from ..domain.write_policy import WriteScope
from ..reports.incident_reports import REPORT_NAMES, render_incident_reports
from ..reports.store import ReportStore
from .remediator import RemediationLock, remediate

if TYPE_CHECKING:
    from .verifier import StopWaiting

Progress = Callable[[str], None]


class Notifier(Protocol):
    def settled(self, incident: Incident, reports: dict[str, str]) -> None:
        """Tell people how the incident ended (outcome, cause, what changed, where the reports are)."""
        ...


def _quiet(_line: str) -> None:
    return None


@dataclass
class Lifecycle:
    incidents: IncidentStore
    approvals: ApprovalStore
    audit: AuditLog
    sessions: SessionPool
    scope: WriteScope
    reports: Callable[[Incident], ReportStore]  # where an incident's reports go (a folder, or S3)
    notifier: Notifier | None = None
    lock: RemediationLock | None = None
    allow_sensitive_data: bool = False
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def now(self) -> str:
        return self.clock().isoformat()

    def event(self, incident: Incident, kind: str, text: str) -> None:
        incident.timeline.append(TimelineEvent(at=self.now(), kind=kind, text=text))

    # ---- open ----------------------------------------------------------------------------------------------
    def open(self, target: ServiceTarget, trigger: Trigger, prefix: str = "inc") -> tuple[Incident, bool]:
        """The service's open incident (the trigger joins it), or a new one opened by the trigger."""
        return self.incidents.open_or_join(self.open_record(target, trigger, prefix=prefix), trigger)

    def open_record(self, target: ServiceTarget, trigger: Trigger, incident_id: str | None = None,
                    prefix: str = "inc") -> Incident:
        """A new incident opened by `trigger` (not stored yet); its id derives from the target and the trigger."""
        trigger = trigger if trigger.at else trigger.model_copy(update={"at": self.now()})
        return new_incident(target, trigger, incident_id or incident_id_for(target, trigger.at, trigger.event_id,
                                                                            prefix))

    # ---- triage --------------------------------------------------------------------------------------------
    def triage(self, incident: Incident, since: dt.timedelta | None = None,
               progress: Progress | None = None) -> tuple[TriageResult, dict[str, Any]]:
        """Collect and classify the incident's own service (its account and region); the result is recorded."""
        from .triage import triage_service

        target = incident.target
        result, evidence = triage_service(self.sessions.for_target(target), target.cluster, target.service, since,
                                          self.allow_sensitive_data, progress or _quiet)
        self.record_triage(incident, result, evidence)
        return result, evidence

    def record_triage(self, incident: Incident, result: TriageResult, evidence: dict[str, Any],
                      source: str = "") -> None:
        if not incident.target.same_service(result.target):
            raise TargetMismatch(f"a triage of {result.target.label} cannot be recorded on incident "
                                 f"{incident.incident_id} of {incident.target.label}")
        rc = result.root_cause
        incident.triage = result.to_json_dict()
        self.event(incident, "triage", f"{source}{result.status}; root cause {rc.category} ({rc.confidence:.2f}), "
                                       f"{result.stats.api_calls} API calls in {result.stats.duration_ms} ms")
        self.incidents.save_evidence(incident.incident_id, evidence)
        self.incidents.save(incident)

    # ---- plan ----------------------------------------------------------------------------------------------
    def plan(self, incident: Incident, evidence: dict[str, Any] | None = None,
             preferences: dict[str, Any] | None = None, choose: Callable[[list[Plan]], int] | None = None) -> Plan:
        """The repair options of the incident's triage, recommended first; the chosen one is returned."""
        from .planner import build_plans

        if not incident.triage:
            raise ValueError(f"incident {incident.incident_id} has no triage to plan from")
        result = TriageResult.model_validate(incident.triage)
        evidence = evidence if evidence is not None else self.incidents.load_evidence(incident.incident_id)
        incident.plans = build_plans(result, evidence, incident.incident_id, preferences)
        chosen = incident.plans[choose(incident.plans) if choose else 0]
        incident.chosen_plan_hash = chosen.plan_hash
        blocked = self.blocked_reason(chosen)
        self.event(incident, "plan", f"{chosen.title}; hash {chosen.plan_hash}" + (f"; {blocked}" if blocked else ""))
        self.incidents.save(incident)
        return chosen

    def blocked_reason(self, plan: Plan) -> str | None:
        """Why a plan that changes AWS will not be offered for approval here (None: it may be)."""
        return self.scope.blocked_reason(plan.target) if plan.requires_write else None

    def adopt(self, incident: Incident, plan: Plan, result: TriageResult, evidence: dict[str, Any],
              source: str) -> Plan:
        """A plan made elsewhere (a chat thread) becomes the incident's chosen plan: only for the same service."""
        if not incident.target.same_service(plan.target):
            raise TargetMismatch(f"plan {plan.plan_hash} changes {plan.target.label}; incident "
                                 f"{incident.incident_id} is about {incident.target.label}")
        plan = plan.model_copy(update={"incident_id": incident.incident_id})  # the hash binds the change, not the id
        if incident.chosen_plan_hash != plan.plan_hash:
            self.record_triage(incident, result, evidence, source=f"{source}: ")
            incident.plans = [p for p in incident.plans if p.plan_hash != plan.plan_hash] + [plan]
            incident.chosen_plan_hash = plan.plan_hash
            self.event(incident, "plan", f"{source}: {plan.title}; hash {plan.plan_hash}")
            self.incidents.save(incident)
        return plan

    # ---- approval --------------------------------------------------------------------------------------------
    def approval_requested(self, incident: Incident, plan: Plan, how: str) -> None:
        incident.status = "awaiting-approval"
        self.event(incident, "approval", f"approval requested for plan {plan.plan_hash} ({how})")
        self.incidents.save(incident)

    def decide(self, incident: Incident, approval: Approval) -> Approval:
        """Record a decision once (a second one gets the first back) and put it on the incident."""
        plan = next((p for p in incident.plans if p.plan_hash == approval.plan_hash), None)
        if plan is None:
            raise TargetMismatch(f"plan {approval.plan_hash} is not a plan of incident {incident.incident_id}")
        try:
            recorded = self.approvals.record(approval.model_copy(update={"target": plan.target}))
        except AlreadyDecided as exc:
            recorded = exc.existing
        self.note_decision(incident, recorded)
        return recorded

    def note_decision(self, incident: Incident, approval: Approval | None) -> None:
        """Put a decision made elsewhere (an email link, chat) on the incident's record, once."""
        if approval is None or any(a.plan_hash == approval.plan_hash and a.decision == approval.decision
                                   for a in incident.approvals):
            return
        incident.approvals.append(approval)
        self.event(incident, "approval", f"{approval.decision} by {approval.decided_by} ({approval.channel})")
        if approval.decision in ("rejected", "expired"):
            incident.status = approval.decision
        self.incidents.save(incident)

    # ---- apply ------------------------------------------------------------------------------------------------
    def remediate(self, incident: Incident, actor: str, progress: Progress | None = None) -> list[AuditEntry]:
        """Apply the chosen plan through the policy guard (the lease on the service held throughout)."""
        plan = self.chosen(incident)
        self.note_decision(incident, self.approvals.get(incident.incident_id, plan.plan_hash))
        guard = PolicyGuard(self.sessions.for_target, self.scope, self.approvals, self.audit)
        incident.status = "remediating"
        blocked = self.blocked_reason(plan)
        if blocked:  # checked here too: a plan approved in chat reaches this stage past the plan stage's check
            entries = [guard.refuse(plan, plan.steps[0], actor, blocked)] if plan.steps else []
        else:
            entries = remediate(plan, guard, actor=actor, progress=progress, lock=self.lock)
        incident.audit = self.audit.list(incident.incident_id)
        for entry in entries:
            self.event(incident, "write", f"step {entry.step} {entry.operation}: {entry.result}"
                                          + ("" if entry.allowed else f" ({entry.reason})"))
        if not applied(entries):
            incident.status = "failed"
        self.incidents.save(incident)
        return entries

    def verify(self, incident: Incident, changed_at: str, timeout_s: float, poll_s: float,
               progress: Progress | None = None, trigger_alarm: str | None = None, stability: Any = None,
               final: bool = True, stop: StopWaiting | None = None) -> VerificationResult:
        """Poll until the change holds (or `timeout_s`, or a person's `stop`); `final` settles
        resolved/failed on the record (the workflow polls once per step and finishes on its last poll)."""
        from .verifier import verify

        plan = self.chosen(incident)
        result = verify(self.sessions.for_target(incident.target), plan,
                        TriageResult.model_validate(incident.triage), changed_at, timeout_s=timeout_s, poll_s=poll_s,
                        progress=progress, trigger_alarm=trigger_alarm,
                        evidence=self.incidents.load_evidence(incident.incident_id), stability=stability, stop=stop)
        if final:
            self.finish_verification(incident, result)
        else:
            incident.verification = result
            self.incidents.save(incident)
        return result

    def verification_window(self, incident: Incident, base_s: int, ceiling_s: int) -> Any:
        """How long the verification may wait for this service (its load balancer's settings), capped."""
        from .verification_window import verification_window

        window = verification_window(self.sessions.for_target(incident.target),
                                     self.incidents.load_evidence(incident.incident_id), base_s, ceiling_s)
        self.event(incident, "verify", f"verification window {window.seconds} s ({window.why})")
        self.incidents.save(incident)
        return window

    def finish_verification(self, incident: Incident, result: VerificationResult) -> None:
        passed = sum(c.ok for c in result.checks)
        incident.verification = result
        if result.interrupted:  # the person stopped waiting: no verdict, the incident stays open
            self.event(incident, "verify", f"interrupted after {result.polls} polls ({passed}/{len(result.checks)} "
                                           "checks passing then)")
            self.incidents.save(incident)
            return
        incident.status = "resolved" if result.ok else "failed"
        self.event(incident, "verify", f"{'passed' if result.ok else 'failed'}: {passed}/{len(result.checks)} checks "
                                       f"after {result.polls} polls" + ("" if result.ok else f"; next: {result.next_step}"))
        self.incidents.save(incident)

    # ---- settle and report ------------------------------------------------------------------------------------
    def close(self, incident: Incident, error: str | None = None) -> dict[str, str]:
        """Settle the incident from its own record, write the four reports, tell people. Returns the reports."""
        status, outcome = settled_outcome(incident, self.blocked_reason(incident.chosen_plan()) if
                                          incident.chosen_plan() else None, error)
        if error:
            self.event(incident, "error", error[:500])
        incident.status, incident.outcome, incident.settled_at = status, outcome, self.now()
        self.event(incident, "settled", f"{status}: {outcome}")
        locations = self.write_reports(incident)
        self.incidents.save(incident)
        if self.notifier is not None:
            self.notifier.settled(incident, locations)
            self.event(incident, "notify", f"outcome sent: {status}")
            self.incidents.save(incident)
        return locations

    def write_reports(self, incident: Incident) -> dict[str, str]:
        store = self.reports(incident)
        where = {name: store.location(incident.incident_id, name) for name in REPORT_NAMES}
        self.event(incident, "report", f"reports written to {store.location(incident.incident_id, '')}")
        files = render_incident_reports(incident, self.incidents.load_evidence(incident.incident_id), where)
        store.write_all(incident.incident_id, files)
        return where

    @staticmethod
    def chosen(incident: Incident) -> Plan:
        plan = incident.chosen_plan()
        if plan is None:
            raise ValueError(f"incident {incident.incident_id} has no chosen plan")
        return plan


def settled_outcome(incident: Incident, blocked: str | None, error: str | None = None) -> tuple[str, str]:
    """(final status, one line why) from what the incident went through."""
    plan = incident.chosen_plan()
    decision = incident.approval_of(plan.plan_hash if plan else None)
    if decision is not None and decision.decision == "rejected":
        return "rejected", f"the plan was rejected by {decision.decided_by}; nothing was changed"
    if decision is not None and decision.decision == "expired":
        return "expired", "nobody decided on the plan in time; nothing was changed"
    if incident.verification is not None:
        if incident.verification.ok:
            return "resolved", "the approved change was applied and verified"
        return "failed", f"the change did not hold: {incident.verification.next_step or 'see the checks'}"
    if blocked and plan is not None and plan.requires_write:  # the policy, not a failure: a person applies it
        return "no-action", blocked
    if any(a.plan_hash == (plan.plan_hash if plan else None) for a in incident.audit):
        refused = next((a for a in reversed(incident.audit) if not a.allowed or a.result not in ("ok",)), None)
        return "failed", f"the change was not applied: {refused.reason or refused.result if refused else 'see audit'}"
    if error:
        return "failed", f"the workflow stopped: {error[:200]}"
    if plan is None:
        return "no-action", "no plan was made"
    if not plan.requires_write:
        healthy = plan.option == "no-action"
        return "no-action", "the service is healthy" if healthy else "nothing the agent may change fixes this cause"
    if decision is not None and decision.decision == "approved":
        return "failed", "the plan was approved but never applied"
    return "no-action", "the plan was not decided on"
