"""CloudFormation custom resource: checkpointer tables and the runtime's tables, on every deploy.

Idempotent and safe when two run at once (advisory locks). Delete does nothing: data outlives the stack update.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.incidents.database import connect
from agents.aws_ecs_service.incidents.schema import setup_all

logger = Logger()
PHYSICAL_ID = "ecs-agent-schema"


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("RequestType") == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    with connect() as conn:
        setup_all(conn)
    logger.info("schema up to date")
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Schema": "ok"}}
