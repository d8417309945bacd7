"""An incident: one service's trouble from the first signal to the settled outcome.

At most one incident per service is open at a time (`ServiceTarget.key`): later signals about the
service join it as events, and a new incident opens only after it settled. The lifecycle
(operations/lifecycle.py) is the only code that moves an incident from one status to the next.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from .plan import Approval, AuditEntry, Plan
from .target import ServiceTarget

Status = Literal["open", "awaiting-approval", "remediating", "resolved", "rejected", "expired", "failed", "no-action"]


PERSON_TRIGGERS = frozenset({"chat", "manual"})  # a person asking again wants a fresh look, not the old record


class Trigger(BaseModel):
    """A signal about a service: what opened an incident, or joined an open one."""

    kind: str  # deployment-failed | service-action | task-stopped | alarm | chat | manual
    summary: str
    event_id: str
    at: str  # ISO, when the signal happened
    alarm_name: str | None = None
    signature: str = ""  # the kind of failure it reports (e.g. "deployment-failed", "alarm:cpu-high"): a different
    # signature on an open incident is a different failure, which can make it triage again


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str
    before: Any = None
    after: Any = None


class VerificationResult(BaseModel):
    ok: bool
    checks: list[CheckResult] = Field(default_factory=list)
    started_at: str
    finished_at: str
    polls: int = 0
    next_step: str = ""  # what to do when not ok
    interrupted: bool = False  # the person stopped the wait (Ctrl-C): not a verdict on the change


class TimelineEvent(BaseModel):
    at: str  # ISO
    kind: str  # triggered | event | triage | plan | approval | write | verify | settled | report | notify | error
    text: str


class Incident(BaseModel):
    """Everything one incident accumulates; the reporter renders it, the stores persist it."""

    incident_id: str
    target: ServiceTarget
    trigger: str = "manual"
    opened_by: Trigger | None = None  # the signal that opened it
    opened_at: str
    status: Status = "open"
    outcome: str = ""  # one line: why it settled as it did
    settled_at: str | None = None
    triage: dict[str, Any] | None = None  # TriageResult.to_json_dict()
    plans: list[Plan] = Field(default_factory=list)
    chosen_plan_hash: str | None = None
    approvals: list[Approval] = Field(default_factory=list)
    audit: list[AuditEntry] = Field(default_factory=list)
    verification: VerificationResult | None = None
    timeline: list[TimelineEvent] = Field(default_factory=list)
    events: list[Trigger] = Field(default_factory=list)  # signals that joined after it opened (newest last, capped)

    @property
    def settled(self) -> bool:
        """Closed by the lifecycle (final status, reports written): from then on its service may open a new one."""
        return self.settled_at is not None

    def chosen_plan(self) -> Plan | None:
        return next((p for p in self.plans if p.plan_hash == self.chosen_plan_hash), None)

    def approval_of(self, plan_hash: str | None) -> Approval | None:
        """The last decision recorded on the incident for a plan."""
        return next((a for a in reversed(self.approvals) if a.plan_hash == plan_hash), None)


def new_incident(target: ServiceTarget, trigger: Trigger, incident_id: str) -> Incident:
    """An incident opened by `trigger` (not stored yet)."""
    opened = _time(trigger.at) or dt.datetime.now(dt.UTC)
    text = f"{trigger.kind}: {trigger.summary}".strip(": ")
    return Incident(incident_id=incident_id, target=target, trigger=text, opened_by=trigger,
                    opened_at=opened.isoformat(), timeline=[TimelineEvent(at=opened.isoformat(), kind="triggered",
                                                                          text=text)])


@dataclass(frozen=True)
class JoinPolicy:
    """When a signal joins an incident instead of opening one.

    An open incident takes every signal about its service. A settled one that did not end resolved takes
    repeats of the failure it was about for `quiet_after_settle` (a crash loop keeps one incident, not one per
    signal); a different failure, any failure after a resolution, or a person asking, opens a new incident. An open incident
    with no activity for `stale_after` (its workflow died) is abandoned: the next signal opens a new one.
    """

    quiet_after_settle: dt.timedelta = dt.timedelta(hours=6)
    stale_after: dt.timedelta = dt.timedelta(hours=26)

    def takes_repeat(self, settled: Incident, trigger: Trigger) -> bool:
        if settled.status == "resolved" or not settled.settled_at or trigger.kind in PERSON_TRIGGERS:
            return False
        at, closed = _time(trigger.at), _time(settled.settled_at)
        if at is None or closed is None or at - closed > self.quiet_after_settle:
            return False
        return bool(trigger.signature) and trigger.signature in signatures(settled)

    def abandoned(self, incident: Incident, last_activity: dt.datetime, now: dt.datetime) -> bool:
        return not incident.settled and now - last_activity > self.stale_after


def signatures(incident: Incident) -> set[str]:
    """The kinds of failure an incident was opened by or has seen."""
    return {t.signature for t in [*([incident.opened_by] if incident.opened_by else []), *incident.events]
            if t.signature}


def seen(incident: Incident, trigger: Trigger) -> bool:
    """The signal is already on the incident (a redelivered event)."""
    return any(t.event_id == trigger.event_id for t in [*([incident.opened_by] if incident.opened_by else []),
                                                         *incident.events])


def _time(value: str | None) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class IncidentStore(Protocol):
    """Incidents and their evidence (PostgreSQL in the serverless runtime, a local file for the CLI)."""

    def open_or_join(self, incident: Incident, trigger: Trigger) -> tuple[Incident, bool]:
        """(the new incident, True), or (the service's open incident, False) with `trigger` joined to it."""
        ...

    def open_for(self, target: ServiceTarget) -> Incident | None: ...

    def load(self, incident_id: str) -> Incident: ...

    def find(self, incident_id: str) -> Incident | None: ...

    def save(self, incident: Incident) -> None: ...

    def save_evidence(self, incident_id: str, evidence: dict[str, Any]) -> None: ...

    def load_evidence(self, incident_id: str) -> dict[str, Any]: ...
