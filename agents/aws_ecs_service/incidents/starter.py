"""Start one Step Functions execution per incident; the execution name is the incident id (or derived from it)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .intake import Dropped, IncidentRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartOutcome:
    incident_id: str
    started: bool  # False: an execution of that name exists already (a repeat or a retry)
    execution_arn: str


def execution_input(request: IncidentRequest, knobs: dict[str, int]) -> dict[str, Any]:
    """The workflow's state: ids and small facts only (evidence and plans live in PostgreSQL and S3)."""
    return {
        "incident_id": request.incident_id,
        "target": {"region": request.region, "cluster": request.cluster, "service": request.service},
        "trigger": request.trigger.model_dump(),
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


def start_incident(sfn: Any, state_machine_arn: str, request: IncidentRequest, knobs: dict[str, int]) -> StartOutcome:
    started, arn = start_once(sfn, state_machine_arn, request.incident_id, execution_input(request, knobs))
    return StartOutcome(request.incident_id, started, arn)


class Intake:
    """Normalise, drop, start: what the intake function does with each event.

    Incidents this container already started are remembered, so the rest of a storm costs no API call.
    """

    def __init__(self, sfn: Any, state_machine_arn: str, knobs: dict[str, int], normaliser: Any,
                 remember: int = 10_000):
        self.sfn, self.state_machine_arn, self.knobs, self.normaliser = sfn, state_machine_arn, knobs, normaliser
        self._started: dict[str, str] = {}
        self._remember = remember

    def handle(self, raw: Any) -> dict[str, Any]:
        try:
            found = self.normaliser.normalise(raw)
        except Exception as exc:  # noqa: BLE001 - a poison event is dropped and logged, never retried
            log.exception("intake could not read an event")
            found = Dropped(reason=f"unreadable event ({type(exc).__name__})")
        if isinstance(found, Dropped):
            return {"outcome": "dropped", **found.model_dump()}
        known = self._started.get(found.incident_id)
        if known:
            return {"outcome": "duplicate", "incident_id": found.incident_id, "execution_arn": known}
        outcome = start_incident(self.sfn, self.state_machine_arn, found, self.knobs)
        self._started[found.incident_id] = outcome.execution_arn
        if len(self._started) > self._remember:
            self._started.pop(next(iter(self._started)))
        return {"outcome": "started" if outcome.started else "duplicate", "incident_id": found.incident_id,
                "execution_arn": outcome.execution_arn, "cluster": found.cluster, "service": found.service,
                "trigger": found.trigger.kind}
