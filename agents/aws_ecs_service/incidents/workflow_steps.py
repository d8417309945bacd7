"""The incident workflow's steps: Triage -> Plan -> RequestApproval -> Remediate -> Verify -> Report.

Each step gets {"state": <the execution's small state>, "execution": <execution ARN>} and returns
the next state; each is a thin driver over one stage of the lifecycle (operations/lifecycle.py),
which keeps the Incident record in PostgreSQL. Every step can run twice (a Step Functions retry) and
leaves the same record. Rules find the cause and build the plan: no model runs here, and no write
happens without the approval row the policy guard checks. The intake opened the incident (one per
service); a plan approved in the deployed chat starts an execution of its own at Remediate
(chat_handoff.py).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import secrets
from typing import Any

from ..diagnosis.evidence import parse_time
from ..domain.approval import AlreadyDecided
from ..domain.incident import Incident, Trigger
from ..domain.plan import Plan, applied
from ..domain.target import ServiceTarget
from .services import Services


class StepError(Exception):
    """A step cannot do its job with what it was given (the workflow's Catch sends it to Report)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _incident(state: dict[str, Any], svc: Services, life: Any) -> Incident:
    """The execution's incident: the one the intake (or the chat) opened, else opened now from the state."""
    found = svc.incidents.find(state["incident_id"])
    if found is not None:
        return found
    target = ServiceTarget.model_validate(state["target"])
    trigger = Trigger.model_validate({"kind": "manual", "summary": "", "event_id": state["incident_id"],
                                      "at": _now().isoformat(), **(state.get("trigger") or {})})
    incident, _ = svc.incidents.open_or_join(life.open_record(target, trigger, state["incident_id"]), trigger)
    return incident


def _chosen(incident: Incident) -> Plan:
    plan = incident.chosen_plan()
    if plan is None:
        raise StepError(f"incident {incident.incident_id} has no chosen plan")
    return plan


def plan_state(chosen: Plan, blocked: str | None) -> dict[str, Any]:
    """What the execution's state says of the chosen plan (the approval Choice and Report read it)."""
    return {"hash": chosen.plan_hash, "title": chosen.title, "requires_write": chosen.requires_write,
            "needs_approval": chosen.requires_write and blocked is None, "blocked": blocked}


# -- Triage ----------------------------------------------------------------------------------------
def triage(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    state = event["state"]
    life = svc.lifecycle()
    incident = _incident(state, svc, life)
    svc.incidents.set_execution(incident.incident_id, event.get("execution"))
    svc.metrics.count("TriageStarted")
    result, evidence = life.triage(incident)
    store = svc.reports(incident)
    store.write(incident.incident_id, "triage.json", json.dumps(incident.triage, indent=1))
    store.write(incident.incident_id, "evidence.json", json.dumps(evidence, indent=1, default=str))
    rc = result.root_cause
    svc.metrics.count("RootCauseFound", category=rc.category)
    triggered = parse_time((state.get("trigger") or {}).get("at"))
    if triggered:
        svc.metrics.milliseconds("TimeToDiagnosis", (_now() - triggered).total_seconds() * 1000)
    return {**state, "target": incident.target.model_dump(mode="json"),
            "triage": {"status": result.status, "category": rc.category, "confidence": rc.confidence}}


# -- Plan ------------------------------------------------------------------------------------------
def plan(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    state = event["state"]
    life = svc.lifecycle()
    incident = svc.incidents.load(state["incident_id"])
    chosen = life.plan(incident)
    return {**state, "plan": plan_state(chosen, life.blocked_reason(chosen))}


# -- RequestApproval (.waitForTaskToken) ------------------------------------------------------------
def request_approval(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from .approval_email import approval_email, approval_subject
    from .approval_links import LinkClaims, link_url, load_key, sign
    from .decisions import resume_workflow

    state, token = event["state"], event["task_token"]
    life = svc.lifecycle()
    incident = svc.incidents.load(state["incident_id"])
    chosen = _chosen(incident)
    ttl = int((state.get("settings") or {}).get("approval_ttl_s") or svc.settings.approval_ttl_s)
    expires = _now() + dt.timedelta(seconds=ttl)
    nonce = secrets.token_urlsafe(16)
    try:
        svc.approvals.request(incident.incident_id, chosen.plan_hash, token, nonce, expires, target=chosen.target)
    except AlreadyDecided:
        # A retry after someone decided: hand the recorded decision to this (new) task token.
        decided = svc.approvals.find(incident.incident_id, chosen.plan_hash)
        resume_workflow(svc.ctx().client("stepfunctions"), decided.model_copy(update={"task_token": token}))
        return {"requested": False, "decision": decided.status}
    key = load_key(svc.settings.approval_key_secret_arn)
    urls = {d: link_url(svc.settings.approval_base_url, sign(key, LinkClaims(
        incident_id=incident.incident_id, plan_hash=chosen.plan_hash, decision=d, nonce=nonce,
        expires_at=int(expires.timestamp())))) for d in ("approve", "reject")}
    svc.ctx().client("sns").publish(
        TopicArn=svc.settings.notification_topic_arn, Subject=approval_subject(incident, chosen),
        Message=approval_email(incident, chosen, urls["approve"], urls["reject"], expires))
    life.approval_requested(incident, chosen, f"by email, expires {expires:%Y-%m-%d %H:%M} UTC")
    svc.metrics.count("ApprovalRequested")
    return {"requested": True, "expires_at": expires.isoformat()}


# -- Remediate -------------------------------------------------------------------------------------
def remediate(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    state = event["state"]
    life = svc.lifecycle()
    incident = svc.incidents.load(state["incident_id"])
    changed_at = _now()
    # The holder is the execution: a retry of this step takes its own lease back, another incident waits.
    entries = life.remediate(incident, actor=f"workflow {event.get('execution') or ''}".strip())
    ok = applied(entries)
    svc.metrics.count("RemediationSucceeded" if ok else "RemediationFailed")
    return {**state, "remediation": {"ok": ok, "changed_at": changed_at.isoformat(), "steps": len(entries)}}


# -- Verify (one poll per invocation; the state machine waits between polls) ----------------------
def verify(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    from ..operations.verifier import Stability

    state = event["state"]
    life = svc.lifecycle()
    incident = svc.incidents.load(state["incident_id"])
    polls = int((state.get("verify") or {}).get("polls", 0)) + 1
    limit = (state.get("verify") or {}).get("max_polls")
    if not limit:  # the first poll: as many polls as the service's window needs (its load balancer's drain)
        knobs = state.get("settings") or {}
        wait = max(1, int(knobs.get("verify_wait_s") or svc.settings.verify_wait_s))
        base = wait * int(knobs.get("verify_max_polls") or svc.settings.verify_max_polls)
        limit = math.ceil(life.verification_window(incident, base, svc.settings.verify_ceiling_s).seconds / wait)
    stability = Stability.from_state((state.get("verify") or {}).get("stability"))  # what the earlier polls saw
    first = life.verify(incident, state["remediation"]["changed_at"], timeout_s=0, poll_s=0,
                        trigger_alarm=(state.get("trigger") or {}).get("alarm_name"), stability=stability,
                        final=False)
    done = first.ok or polls >= limit
    if done:  # settle resolved/failed on the record with this poll's result
        first.polls = polls
        life.finish_verification(incident, first)
    return {**state, "verify": {"ok": first.ok, "polls": polls, "done": done, "max_polls": limit,
                                "stability": stability.to_state()}}


# -- Report ----------------------------------------------------------------------------------------
def report(event: dict[str, Any], svc: Services) -> dict[str, Any]:
    state = event["state"]
    life = svc.lifecycle()
    incident = svc.incidents.find(state["incident_id"]) or _incident(state, svc, life)
    chosen = incident.chosen_plan()
    decision = (state.get("approval") or {}).get("decision")
    if chosen and decision in ("rejected", "expired"):
        if decision == "expired":
            svc.approvals.expire(incident.incident_id, chosen.plan_hash)  # a recorded decision stays as it is
            svc.metrics.count("ApprovalExpired")
        life.note_decision(incident, svc.approvals.get(incident.incident_id, chosen.plan_hash))
    error = state.get("error")
    why = f"{error.get('Error', 'error')}: {error.get('Cause', '')}" if error else None
    locations = life.close(incident, error=why)
    return {**state, "status": incident.status, "reports": list(locations.values())}
