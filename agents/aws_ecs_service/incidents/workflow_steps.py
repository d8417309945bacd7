"""The incident workflow's steps: Triage -> Plan -> RequestApproval -> Remediate -> Verify -> Report.

Each step gets {"state": <the execution's small state>, "execution": <execution ARN>} and returns
the next state. The Incident document (PostgreSQL) is the record; every step can run twice (a
Step Functions retry) and leaves the same record. Rules find the cause and build the plan: no
model runs here, and no write happens without the approval row the policy guard checks.
A plan approved in the deployed chat starts an execution of its own at Remediate (chat_handoff.py).
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from ..diagnosis.evidence import parse_time
from ..operations.approvals import AlreadyDecided
from ..operations.plan_model import Approval, Incident, Plan, TimelineEvent
from .services import Services

REPORT_NAMES = ("triage_report.md", "plan_repair_plan.md", "verify_post_check.md", "report_summary.md")


class StepError(Exception):
    """A step cannot do its job with what it was given (the workflow's Catch sends it to Report)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _event(incident: Incident, kind: str, text: str) -> None:
    incident.timeline.append(TimelineEvent(at=_now().isoformat(), kind=kind, text=text))


def _chosen(incident: Incident) -> Plan:
    plan = incident.chosen_plan()
    if plan is None:
        raise StepError(f"incident {incident.incident_id} has no chosen plan")
    return plan


def _triage_result(incident: Incident) -> Any:
    from ..diagnosis.result import TriageResult

    if not incident.triage:
        raise StepError(f"incident {incident.incident_id} has no triage")
    return TriageResult.model_validate(incident.triage)


def new_incident(state: dict[str, Any]) -> Incident:
    trigger = state.get("trigger") or {}
    opened = trigger.get("at") or _now().isoformat()
    incident = Incident(incident_id=state["incident_id"], target=state["target"], opened_at=opened,
                        trigger=f"{trigger.get('kind', 'manual')}: {trigger.get('summary', '')}".strip(": "))
    incident.timeline.append(TimelineEvent(at=opened, kind="triggered", text=incident.trigger))
    return incident


# -- Triage ----------------------------------------------------------------------------------------
def triage(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..diagnosis.engine import run_triage

    state = event["state"]
    t = state["target"]
    incident = svc.incidents.open(new_incident(state), execution_arn=event.get("execution"))
    svc.metrics.count("TriageStarted")
    ctx = svc.ctx(t["region"])
    result, evidence = run_triage(ctx, t["cluster"], t["service"],
                                  allow_sensitive_data=svc.config.allow_sensitive_data)
    rc = result.root_cause
    incident.triage = result.to_json_dict()
    _event(incident, "triage", f"{result.status}; root cause {rc.category} ({rc.confidence:.2f}), "
                               f"{result.stats.api_calls} API calls in {result.stats.duration_ms} ms")
    svc.incidents.save_evidence(incident.incident_id, evidence)
    svc.incidents.save(incident)
    store = svc.reports(t["region"])
    store.write(incident.incident_id, "triage.json", json.dumps(incident.triage, indent=1))
    store.write(incident.incident_id, "evidence.json", json.dumps(evidence, indent=1, default=str))
    svc.metrics.count("RootCauseFound", category=rc.category)
    triggered = parse_time((state.get("trigger") or {}).get("at"))
    if triggered:
        svc.metrics.milliseconds("TimeToDiagnosis", (_now() - triggered).total_seconds() * 1000)
    return {**state, "triage": {"status": result.status, "category": rc.category, "confidence": rc.confidence}}


# -- Plan ------------------------------------------------------------------------------------------
def write_blocked_reason(svc: Services, plan: Plan) -> str | None:
    """Why the workflow will not ask to apply a plan that changes AWS (None: it may ask)."""
    cluster = plan.target.get("cluster")
    if not svc.config.allow_write:
        return "writes are off (ALLOW_WRITE=false): the plan is a proposal only"
    if svc.settings.allowed_clusters and cluster not in svc.settings.allowed_clusters:
        return f"cluster {cluster} is not in ALLOWED_CLUSTERS"
    return None


def plan(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..operations.planner import build_plans

    state = event["state"]
    incident = svc.incidents.load(state["incident_id"])
    result = _triage_result(incident)
    incident.plans = build_plans(result, svc.incidents.load_evidence(incident.incident_id), incident.incident_id)
    chosen = incident.plans[0]
    incident.chosen_plan_hash = chosen.plan_hash
    blocked = write_blocked_reason(svc, chosen) if chosen.requires_write else None
    if not chosen.requires_write:
        incident.status = "no-action"
    _event(incident, "plan", f"{chosen.title}; hash {chosen.plan_hash}" + (f"; {blocked}" if blocked else ""))
    svc.incidents.save(incident)
    return {**state, "plan": plan_state(chosen, blocked)}


def plan_state(chosen: Plan, blocked: str | None) -> dict[str, Any]:
    """What the execution's state says of the chosen plan (the approval Choice and Report read it)."""
    return {"hash": chosen.plan_hash, "title": chosen.title, "requires_write": chosen.requires_write,
            "needs_approval": chosen.requires_write and blocked is None, "blocked": blocked}


# -- RequestApproval (.waitForTaskToken) ------------------------------------------------------------
def request_approval(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..approval_links import LinkClaims, link_url, load_key, sign
    from .approval_email import approval_email, approval_subject
    from .decisions import resume_workflow

    state, token = event["state"], event["task_token"]
    incident = svc.incidents.load(state["incident_id"])
    chosen = _chosen(incident)
    ttl = int((state.get("settings") or {}).get("approval_ttl_s") or svc.settings.approval_ttl_s)
    expires = _now() + dt.timedelta(seconds=ttl)
    nonce = secrets.token_urlsafe(16)
    try:
        svc.approvals.request(incident.incident_id, chosen.plan_hash, token, nonce, expires)
    except AlreadyDecided:
        # A retry after someone decided: hand the recorded decision to this (new) task token.
        decided = svc.approvals.find(incident.incident_id, chosen.plan_hash)
        resume_workflow(svc.ctx().client("stepfunctions"), decided.model_copy(update={"task_token": token}))
        return {"requested": False, "decision": decided.status}
    key = load_key(svc.settings.approval_key_secret_arn)
    urls = {d: link_url(svc.settings.approval_base_url, sign(key, LinkClaims(
        incident_id=incident.incident_id, plan_hash=chosen.plan_hash, decision=d, nonce=nonce,
        expires_at=int(expires.timestamp())))) for d in ("approve", "reject")}
    svc.ctx(incident.target.get("region")).client("sns").publish(
        TopicArn=svc.settings.notification_topic_arn, Subject=approval_subject(incident, chosen),
        Message=approval_email(incident, chosen, urls["approve"], urls["reject"], expires))
    incident.status = "awaiting-approval"
    _event(incident, "approval", f"approval requested by email for plan {chosen.plan_hash}, expires {expires:%H:%M} UTC")
    svc.incidents.save(incident)
    svc.metrics.count("ApprovalRequested")
    return {"requested": True, "expires_at": expires.isoformat()}


# -- Remediate -------------------------------------------------------------------------------------
def record_approval(incident: Incident, approval: Approval | None) -> None:
    if approval and not any(a.plan_hash == approval.plan_hash and a.decision == approval.decision
                            for a in incident.approvals):
        incident.approvals.append(approval)
        _event(incident, "approval", f"{approval.decision} by {approval.decided_by} ({approval.channel})")


def remediate(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..aws.policy_guard import SKIPPED, PolicyGuard
    from ..operations.remediator import remediate as apply_plan
    from .remediation_lock import PostgresRemediationLock

    state = event["state"]
    incident = svc.incidents.load(state["incident_id"])
    chosen = _chosen(incident)
    record_approval(incident, svc.approvals.get(incident.incident_id, chosen.plan_hash))
    guard = PolicyGuard(svc.ctx(incident.target.get("region")), allow_write=svc.config.allow_write,
                        approvals=svc.approvals, audit=svc.audit)
    changed_at = _now()
    incident.status = "remediating"
    actor = f"workflow {event.get('execution') or ''}".strip()
    blocked = write_blocked_reason(svc, chosen) if chosen.steps else None
    if blocked:  # checked again here: a plan approved in chat enters at Remediate, past the Plan step's check
        entries = [guard.refuse(chosen, chosen.steps[0], actor, blocked)]
    else:
        # The holder is the execution: a retry of this step takes its own lease back, another incident waits.
        lock = PostgresRemediationLock(svc.conn, wait_s=svc.settings.remediation_lock_wait_s,
                                       ttl_s=svc.settings.remediation_lock_ttl_s)
        entries = apply_plan(chosen, guard, actor=actor, lock=lock)
    incident.audit = svc.audit.list(incident.incident_id)
    for entry in entries:
        _event(incident, "write", f"step {entry.step} {entry.operation}: {entry.result}"
                                  + ("" if entry.allowed else f" ({entry.reason})"))
    ok = bool(entries) and all(e.allowed and e.result in ("ok", SKIPPED) for e in entries)
    if not ok:
        incident.status = "failed"
    svc.incidents.save(incident)
    svc.metrics.count("RemediationSucceeded" if ok else "RemediationFailed")
    return {**state, "remediation": {"ok": ok, "changed_at": changed_at.isoformat(), "steps": len(entries)}}


# -- Verify (one poll per invocation; the state machine waits between polls) ----------------------
def verify(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..operations.verifier import Stability
    from ..operations.verifier import verify as check

    state = event["state"]
    incident = svc.incidents.load(state["incident_id"])
    chosen = _chosen(incident)
    polls = int((state.get("verify") or {}).get("polls", 0)) + 1
    limit = int((state.get("settings") or {}).get("verify_max_polls") or svc.settings.verify_max_polls)
    alarm = (state.get("trigger") or {}).get("alarm_name")
    stability = Stability.from_state((state.get("verify") or {}).get("stability"))  # what the earlier polls saw
    result = check(svc.ctx(incident.target.get("region")), chosen, _triage_result(incident),
                   state["remediation"]["changed_at"], timeout_s=0, trigger_alarm=alarm,
                   evidence=svc.incidents.load_evidence(incident.incident_id), stability=stability)
    result.polls = polls
    done = result.ok or polls >= limit
    incident.verification = result
    if done:
        incident.status = "resolved" if result.ok else "failed"
        passed = sum(c.ok for c in result.checks)
        _event(incident, "verify", f"{'passed' if result.ok else 'failed'}: {passed}/{len(result.checks)} checks "
                                   f"after {polls} polls" + ("" if result.ok else f"; next: {result.next_step}"))
    svc.incidents.save(incident)
    return {**state, "verify": {"ok": result.ok, "polls": polls, "done": done, "stability": stability.to_state()}}


# -- Report ----------------------------------------------------------------------------------------
def _settle(incident: Incident, state: dict[str, Any], svc: Services) -> None:
    """The final status from what the execution went through."""
    error = state.get("error")
    approval = state.get("approval") or {}
    chosen = incident.chosen_plan()
    if chosen and approval.get("decision") in ("rejected", "expired"):
        if approval["decision"] == "expired":
            svc.approvals.expire(incident.incident_id, chosen.plan_hash)
            svc.metrics.count("ApprovalExpired")
        record_approval(incident, svc.approvals.get(incident.incident_id, chosen.plan_hash))
        incident.status = "rejected"
    elif error:
        incident.status = "failed"
        _event(incident, "error", f"{error.get('Error', 'error')}: {str(error.get('Cause', ''))[:500]}")
    elif chosen and chosen.requires_write and not (state.get("plan") or {}).get("needs_approval"):
        incident.status = "no-action"
    elif incident.status == "open":
        incident.status = "no-action"


def report(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..reports.plan_report import render_plan_report
    from ..reports.store import KEY_PREFIX
    from ..reports.summary_report import render_summary_report
    from ..reports.triage_report import render_triage_report
    from ..reports.verify_report import render_verify_report

    state = event["state"]
    incident = svc.incidents.find(state["incident_id"])
    if incident is None:  # the failure came before Triage could open the record
        incident = svc.incidents.open(new_incident(state), execution_arn=event.get("execution"))
    _settle(incident, state, svc)
    store = svc.reports(incident.target.get("region"))
    locations = {name: f"s3://{store.bucket}/{store.key(incident.incident_id, name)}" for name in REPORT_NAMES}
    _event(incident, "report", f"reports written to s3://{store.bucket}/{KEY_PREFIX}/{incident.incident_id}/")
    if incident.triage:
        triage_text = render_triage_report(_triage_result(incident), svc.incidents.load_evidence(incident.incident_id))
    else:
        why = (state.get("error") or {}).get("Cause") or "the triage did not run"
        triage_text = f"# Triage: {incident.target.get('cluster')}/{incident.target.get('service')}\n\n" \
                      f"The triage did not complete: {why}\n"
    files = {"triage_report.md": triage_text, "plan_repair_plan.md": render_plan_report(incident),
             "verify_post_check.md": render_verify_report(incident),
             "report_summary.md": render_summary_report(incident, locations)}
    store.write_all(incident.incident_id, files)
    svc.incidents.save(incident)
    return {**state, "status": incident.status, "reports": list(locations.values())}
