"""Scheduled (EventBridge, every minute): tell waiting workflows the approval decisions they have not been told.

A decision is recorded before it is delivered (incidents/decisions.py); when Step Functions throttled or failed
every attempt of the deciding request, the row stays undelivered. This function is the outbox's deliverer: it
claims each such row and delivers it, so a decision is never lost even when nobody clicks again. Kept light (no
LangChain): the approval asset's dependencies.
"""
from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.incidents.approval_store import PostgresApprovalStore
from agents.aws_ecs_service.incidents.database import shared_connection
from agents.aws_ecs_service.incidents.decisions import deliver_pending

logger = Logger()
_sfn: Any = None


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    global _sfn
    _sfn = _sfn or boto3.client("stepfunctions")
    outcome = deliver_pending(PostgresApprovalStore(shared_connection()), _sfn)
    if any(outcome.values()):
        logger.info("undelivered decisions", extra=outcome)
    return outcome
