"""API Gateway (REST proxy, IAM/SigV4): the chat API. Thin: validate, call incidents.chat_service, shape errors.

    POST /threads                   open a thread (optionally on an incident, optionally with a first message)
    POST /threads/{id}/messages     one turn of the conversation
    GET  /threads/{id}              messages, context, findings, pending approval
    POST /threads/{id}/approvals    approve or reject the pending plan (the workflow's or the thread's); 202 when a
                                    new workflow execution applies the thread's approved plan (this function
                                    never writes to ECS), with the incident to follow
    GET  /incidents/{id}            status, plan, approvals, pending approval, presigned report links

Errors are JSON {"message": ...}: 400 invalid request (naming the field), 404 unknown thread, incident or
plan, 409 already decided (or the incident's workflow is busy), 410 expired, 503 model unavailable (the body still
has the findings).
`python -m functions.chat_api --openapi` prints the OpenAPI document, committed as functions/openapi.json.
"""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import psycopg
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.domain.approval import AlreadyDecided
from agents.aws_ecs_service.domain.target import TargetMismatch
from agents.aws_ecs_service.incidents.approval_store import ApprovalExpired, NoPendingApproval
from agents.aws_ecs_service.incidents.chat_handoff import IncidentBusy
from agents.aws_ecs_service.incidents.chat_models import (
    ID_PATTERN,
    DecisionReply,
    DecisionRequest,
    ErrorBody,
    IncidentView,
    MessageReply,
    ModelUnavailableReply,
    NewMessage,
    NewThread,
    ThreadOpened,
    ThreadView,
)
from agents.aws_ecs_service.incidents.chat_service import TURN_BUDGET_S, ChatService, ModelUnavailableTurn
from agents.aws_ecs_service.incidents.database import shared_connection
from agents.aws_ecs_service.incidents.incident_store import IncidentNotFound
from agents.aws_ecs_service.incidents.metrics import IncidentMetrics, namespace
from agents.aws_ecs_service.incidents.services import Services
from agents.aws_ecs_service.incidents.thread_store import ThreadNotFound

OPENAPI_TITLE = "ECS incident agent: chat API"
OPENAPI_VERSION = "1.0.0"
LAMBDA_MARGIN_S = 5.0

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=namespace())
app = APIGatewayRestResolver(enable_validation=True)
_chat: ChatService | None = None

ThreadId = Annotated[str, Path(alias="id", pattern=ID_PATTERN,
                               description="a thread id (an incident's thread has the incident id)")]
IncidentId = Annotated[str, Path(alias="id", pattern=ID_PATTERN, description="an incident id")]


def _error_doc(description: str, model: type = ErrorBody) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


ERRORS = {
    400: _error_doc("invalid request: the message names the field"),
    404: _error_doc("unknown thread, incident or plan"),
    409: _error_doc("the plan was already decided, its incident's workflow is busy with another plan, or the plan is "
                    "not about the incident's service"),
    410: _error_doc("the approval request expired"),
    503: _error_doc("the model did not answer: the body carries the deterministic findings", ModelUnavailableReply),
}


def _responses(status: int, description: str, *errors: int) -> dict[int, dict[str, Any]]:
    """The success response (its schema comes from the route's return type) and the errors the route answers."""
    return {status: {"description": description}, **{code: ERRORS[code] for code in errors}}


def service() -> ChatService:
    """One per Lambda container, rebuilt when the database connection had to be reopened."""
    global _chat
    conn = shared_connection()
    if _chat is None or _chat.svc.conn is not conn:
        _chat = ChatService(Services.from_env(conn, IncidentMetrics(metrics)))
    return _chat


def _caller() -> str:
    """Who is calling, as API Gateway's IAM authorization saw it."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or f"unknown caller from {identity.source_ip or '?'}"


def _turn_budget_s() -> float:
    """The turn's budget: API Gateway's limit, or less when the function itself has less time left (its own
    timeout, a slow cold start), keeping LAMBDA_MARGIN_S to save the turn and answer."""
    left_s = app.lambda_context.get_remaining_time_in_millis() / 1000 - LAMBDA_MARGIN_S
    return max(0.0, min(TURN_BUDGET_S, left_s))


def _follow(thread_id: str) -> None:
    logger.set_correlation_id(thread_id)
    tracer.put_annotation("thread_id", thread_id)


# ---- routes --------------------------------------------------------------------------------------------

@app.post("/threads", status_code=201, summary="Open a thread", operation_id="openThread",
          responses=_responses(201, "the thread (and the answer to the first message)", 400, 404, 503))
def open_thread(body: NewThread) -> ThreadOpened:
    thread, created = service().open_thread(_caller(), body.incident_id)
    _follow(thread.thread_id)
    first = service().send(thread.thread_id, body.message, _turn_budget_s()) if body.message else None
    return ThreadOpened(thread_id=thread.thread_id, incident_id=thread.incident_id, created=created, first_reply=first)


@app.post("/threads/<id>/messages", summary="Send a message", operation_id="sendMessage",
          responses=_responses(200, "the agent's reply", 400, 404, 503))
def send_message(thread_id: ThreadId, body: NewMessage) -> MessageReply:
    _follow(thread_id)
    return service().send(thread_id, body.message, _turn_budget_s())


@app.get("/threads/<id>", summary="Read a thread", operation_id="readThread",
         responses=_responses(200, "the thread", 400, 404))
def read_thread(thread_id: ThreadId) -> ThreadView:
    _follow(thread_id)
    return service().thread(thread_id)


@app.post("/threads/<id>/approvals", summary="Approve or reject the pending plan", operation_id="decidePlan",
          responses={**_responses(200, "the decision, and what acted on it", 400, 404, 409, 410),
                     202: {"description": "approved: a new workflow execution applies the plan; follow "
                                          "`incident_url` (also the Location header)",
                           "content": {"application/json": {"model": DecisionReply}}}})
def decide_plan(thread_id: ThreadId, body: DecisionRequest) -> Response[DecisionReply]:
    _follow(thread_id)
    reply = service().decide(thread_id, body.plan_hash, body.decision, f"{_caller()} (chat)", body.comment)
    logger.info("approval decided in chat", extra={"decision": reply.decision, "resumed": reply.resumed,
                                                   "execution_arn": reply.execution_arn})
    if reply.resumed == "handed-off":
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=reply,
                        headers={"Location": reply.incident_url})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=reply)


@app.get("/incidents/<id>", summary="Read an incident", operation_id="readIncident",
         responses=_responses(200, "the incident", 400, 404))
def read_incident(incident_id: IncidentId) -> IncidentView:
    _follow(incident_id)
    return service().incident(incident_id)


# ---- errors --------------------------------------------------------------------------------------------

def _error(status: int, message: str, **extra: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"message": message, **extra}, default=str))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            problems.append(f"body: not valid JSON ({(error.get('ctx') or {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "path", "query"))
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return _error(400, "invalid request: " + "; ".join(problems))


@app.exception_handler([ThreadNotFound, IncidentNotFound, NoPendingApproval, NotFoundError])
def _not_found(exc: Exception) -> Response:
    return _error(404, str(exc) or "not found")


@app.exception_handler([IncidentBusy, TargetMismatch])
def _conflict(exc: Exception) -> Response:
    return _error(409, str(exc))


@app.exception_handler(AlreadyDecided)
def _already(exc: AlreadyDecided) -> Response:
    a = exc.existing
    if a.decision == "expired":
        return _error(410, f"the approval request for plan {a.plan_hash} expired: nobody decided in time")
    return _error(409, f"plan {a.plan_hash} was already {a.decision} by {a.decided_by} at {a.decided_at}; "
                       "a decision is final")


@app.exception_handler(ApprovalExpired)
def _expired(exc: ApprovalExpired) -> Response:
    return _error(410, str(exc))


@app.exception_handler(ModelUnavailableTurn)
def _model_unavailable(exc: ModelUnavailableTurn) -> Response:
    body = ModelUnavailableReply(message=f"the model is unavailable ({exc}); the findings are the rules' result",
                                 **exc.reply.model_dump())
    return Response(status_code=503, content_type=content_types.APPLICATION_JSON, body=body.model_dump_json())


@app.exception_handler(psycopg.OperationalError)
def _database_down(exc: psycopg.OperationalError) -> Response:
    # The next invocation reconnects (shared_connection drops a broken connection).
    logger.warning("database unavailable", extra={"error": str(exc)})
    return _error(503, "the database is unreachable right now; try again in a minute")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return _error(500, "internal error")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# ---- OpenAPI -------------------------------------------------------------------------------------------

def openapi_document() -> str:
    """The document as committed: Powertools' generation, with the 400 this API answers instead of its 422."""
    doc = json.loads(app.get_openapi_json_schema(
        title=OPENAPI_TITLE, version=OPENAPI_VERSION,
        description="Chat with the ECS incident agent, read incidents, approve repair plans. Every route needs "
                    "SigV4 (IAM) authorization.",
        security_schemes={"sigv4": {"type": "apiKey", "name": "Authorization", "in": "header",
                                    "x-amazon-apigateway-authtype": "awsSigv4"}},
        security=[{"sigv4": []}]))
    for operations in doc["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schemas = doc["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return json.dumps(doc, indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--openapi"]:
        sys.exit("usage: python -m functions.chat_api --openapi > functions/openapi.json")
    sys.stdout.write(openapi_document())
