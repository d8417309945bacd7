"""EventBridge target: ECS/CloudWatch events -> one Step Functions execution per incident.

Unparseable or irrelevant events are logged and dropped (returned normally, so EventBridge and
Lambda never retry them); only a failing StartExecution raises, to be retried. No Tracer here:
Lambda's active tracing records the invocation, and the X-Ray SDK would add ~160 ms of cold start.
"""
from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.incidents.intake import Normaliser
from agents.aws_ecs_service.incidents.settings import RuntimeSettings
from agents.aws_ecs_service.incidents.starter import Intake

logger = Logger()
_intake: Intake | None = None


def _service() -> Intake:
    global _intake
    if _intake is None:
        settings = RuntimeSettings.from_env()
        _intake = Intake(boto3.client("stepfunctions"), settings.state_machine_arn, settings.workflow_knobs(),
                         Normaliser(settings.allowed_clusters))
    return _intake


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = _service().handle(event)
    if outcome["outcome"] == "dropped":
        logger.info("event dropped", extra=outcome)
    else:
        logger.set_correlation_id(outcome["incident_id"])
        logger.info(f"incident {outcome['outcome']}", extra=outcome)
    return outcome
