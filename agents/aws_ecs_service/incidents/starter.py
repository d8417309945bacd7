"""Open or join the service's incident, and start its Step Functions execution (named by the incident id).

One open incident per service (domain.incident.JoinPolicy): the first signal opens it and starts its
execution; later signals join its timeline. A joined signal that reports a different failure while
the incident waits for an approval makes it triage again: the pending approval is superseded (its
links stop working) and the waiting state is told `Incident.Retriage`, which the state machine sends
back to Triage — at most MAX_RETRIAGES times per incident, so at most one approval is ever pending.
An incident the chat opened has no execution yet: the first event about its service starts one.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..domain.incident import Incident, Trigger, new_incident, signatures
from ..domain.incident_keys import incident_id_for
from .intake import Dropped, IncidentRequest

log = logging.getLogger(__name__)
RETRIAGE_ERROR = "Incident.Retriage"
MAX_RETRIAGES = 2


@dataclass(frozen=True)
class StartOutcome:
    incident_id: str
    started: bool  # False: an execution of that name exists already (a repeat or a retry)
    execution_arn: str


def execution_input(incident: Incident, trigger: Trigger, knobs: dict[str, int]) -> dict[str, Any]:
    """The workflow's state: ids and small facts only (evidence and plans live in PostgreSQL and S3)."""
    return {
        "incident_id": incident.incident_id,
        "target": incident.target.model_dump(mode="json"),
        "trigger": trigger.model_dump(mode="json"),
        "settings": knobs,
    }


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_once(sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[bool, str]:
    """(True, its ARN) when execution `name` started now; (False, its ARN) when it exists already."""
    try:
        answer = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
        return True, answer["executionArn"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return False, execution_arn(state_machine_arn, name)


class Intake:
    """Normalise, drop or open/join, start: what the intake function does with each event.

    `stores()` gives (incident store, approval store) over the invocation's database connection. Event ids this
    container handled are remembered, so a redelivered storm costs no database round trip.
    """

    def __init__(self, sfn: Any, state_machine_arn: str, knobs: dict[str, int], normaliser: Any,
                 stores: Callable[[], tuple[Any, Any]], remember: int = 10_000):
        self.sfn, self.state_machine_arn, self.knobs, self.normaliser = sfn, state_machine_arn, knobs, normaliser
        self.stores = stores
        self._handled: OrderedDict[str, str] = OrderedDict()
        self._remember = remember

    def handle(self, raw: Any) -> dict[str, Any]:
        try:
            found = self.normaliser.normalise(raw)
        except Exception as exc:  # noqa: BLE001 - a poison event is dropped and logged, never retried
            log.exception("intake could not read an event")
            found = Dropped(reason=f"unreadable event ({type(exc).__name__})")
        if isinstance(found, Dropped):
            return {"outcome": "dropped", **found.model_dump()}
        known = self._handled.get(found.trigger.event_id)
        if known:
            return {"outcome": "duplicate", "incident_id": known}
        outcome = self._open_or_join(found)
        self._handled[found.trigger.event_id] = outcome["incident_id"]
        while len(self._handled) > self._remember:
            self._handled.popitem(last=False)  # the oldest first
        return outcome

    def _open_or_join(self, request: IncidentRequest) -> dict[str, Any]:
        incidents, approvals = self.stores()
        trigger = request.trigger
        record = new_incident(request.target, trigger, incident_id_for(request.target, trigger.at, trigger.event_id))
        incident, opened = incidents.open_or_join(record, trigger)
        base = {"incident_id": incident.incident_id, "cluster": request.cluster, "service": request.service,
                "account": request.target.account, "region": request.target.region, "trigger": trigger.kind}
        if opened or (not incident.settled and not incidents.execution_arn(incident.incident_id)):
            started, arn = start_once(self.sfn, self.state_machine_arn, incident.incident_id,
                                      execution_input(incident, trigger, self.knobs))
            incidents.set_execution(incident.incident_id, arn)
            return {**base, "outcome": "started" if started else "duplicate", "execution_arn": arn}
        retriage = self._supersede(incident, trigger, approvals) if not incident.settled else None
        return {**base, "outcome": "joined", "settled": incident.settled, **({"retriage": retriage} if retriage else {})}

    def _supersede(self, incident: Incident, trigger: Trigger, approvals: Any) -> str | None:
        """A different failure while an approval is pending: triage again (the pending plan may be wrong now)."""
        earlier = signatures(incident.model_copy(update={
            "events": [e for e in incident.events if e.event_id != trigger.event_id]}))
        if incident.status != "awaiting-approval" or not trigger.signature or trigger.signature in earlier:
            return None
        if approvals.superseded_count(incident.incident_id) >= MAX_RETRIAGES:
            return None
        pending = approvals.supersede_pending(incident.incident_id)
        if pending is None or not pending.task_token:
            return None
        try:
            self.sfn.send_task_failure(taskToken=pending.task_token, error=RETRIAGE_ERROR,
                                       cause=json.dumps({"signature": trigger.signature, "event_id": trigger.event_id,
                                                         "summary": trigger.summary}))
        except ClientError as exc:
            log.warning("could not ask the workflow to triage again: %s", exc)
            return None
        return f"a different failure ({trigger.signature}) while plan {pending.plan_hash} waited for approval"
