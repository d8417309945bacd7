"""What every workflow step handler shares: observability, one DB connection per invocation, error mapping.

The connection is opened for the invocation and closed at its end (unlike the APIs, where latency counts): a
storm of incidents leaves many warm step containers behind, and idle ones hold no connection, so connections
are bounded by the steps running at once; and a database restart between two steps costs no failed attempt.

Errors the state machine should retry (throttling, a dropped database connection) are raised as
TransientStepError, which its Retry blocks retry for up to ~4 minutes (a database restart or failover
outlasts the Lambda errors' four attempts); anything else goes to its Catch -> Report.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from agents.aws_ecs_service.aws.session import THROTTLING_CODES
from agents.aws_ecs_service.incidents.database import connect
from agents.aws_ecs_service.incidents.metrics import IncidentMetrics, namespace
from agents.aws_ecs_service.incidents.services import Services

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=namespace())


class TransientStepError(Exception):
    """Worth a retry by the state machine."""


def step_handler(step: Callable[[dict[str, Any], Services], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @logger.inject_lambda_context(log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        incident_id = (event.get("state") or {}).get("incident_id")
        logger.set_correlation_id(incident_id)
        tracer.put_annotation("incident_id", incident_id or "")
        try:
            with connect() as conn:
                return step(event, Services.from_env(conn, IncidentMetrics(metrics)))
        except psycopg.OperationalError as exc:
            raise TransientStepError(f"database unavailable: {exc}") from exc
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in THROTTLING_CODES:
                raise TransientStepError(str(exc)) from exc
            raise

    handler.__name__ = f"{step.__name__}_handler"
    return handler
