"""EventBridge target: ECS/CloudWatch events -> the service's one open incident and its Step Functions execution.

Unparseable or irrelevant events are logged and dropped (returned normally, so EventBridge and
Lambda never retry them); a failing database or StartExecution raises, to be retried. No Tracer here:
Lambda's active tracing records the invocation, and the X-Ray SDK would add ~160 ms of cold start.
"""
from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.incidents.alarm_actions import AlarmActions
from agents.aws_ecs_service.incidents.approval_store import PostgresApprovalStore
from agents.aws_ecs_service.incidents.database import shared_connection
from agents.aws_ecs_service.incidents.incident_store import PostgresIncidentStore
from agents.aws_ecs_service.incidents.intake import Normaliser
from agents.aws_ecs_service.incidents.settings import RuntimeSettings
from agents.aws_ecs_service.incidents.starter import Intake

logger = Logger()
_intake: Intake | None = None


def _service() -> Intake:
    global _intake
    if _intake is None:
        settings = RuntimeSettings.from_env()
        session = boto3.session.Session()
        account = settings.state_machine_arn.split(":")[4] if settings.state_machine_arn.count(":") >= 5 else ""
        actions = AlarmActions(session.client("cloudwatch"), account)
        _intake = Intake(session.client("stepfunctions"), settings.state_machine_arn, settings.workflow_knobs(),
                         Normaliser(settings.allowed_clusters, alarm_actions=actions), stores=lambda: _stores(settings))
    return _intake


def _stores(settings: RuntimeSettings) -> tuple[PostgresIncidentStore, PostgresApprovalStore]:
    conn = shared_connection()
    return PostgresIncidentStore(conn, settings.join_policy()), PostgresApprovalStore(conn)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = _service().handle(event)
    if outcome["outcome"] == "dropped":
        logger.info("event dropped", extra=outcome)
    else:
        logger.set_correlation_id(outcome["incident_id"])
        logger.info(f"incident {outcome['outcome']}", extra=outcome)
    return outcome
