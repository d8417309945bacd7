"""API Gateway (REST proxy): GET/POST /approvals/{token}, the signed link of an approval email.

GET never decides (mail scanners prefetch links): it shows the plan and the buttons. POST decides
once -> SendTaskSuccess/SendTaskFailure. 403 forged or altered link, 404 nothing asked, 409 already
decided, 410 expired, 503 database unreachable (the link keeps working: the next click decides).
Kept light (no LangChain, no event-handler framework): it must start fast.
"""
from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import boto3
import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service import approval_links
from agents.aws_ecs_service.incidents.approval_page import HEADERS, message_page, plan_page
from agents.aws_ecs_service.incidents.approval_store import ApprovalExpired, NoPendingApproval, PostgresApprovalStore
from agents.aws_ecs_service.incidents.database import shared_connection
from agents.aws_ecs_service.incidents.decisions import decide, redeliver
from agents.aws_ecs_service.incidents.incident_store import PostgresIncidentStore
from agents.aws_ecs_service.incidents.metrics import IncidentMetrics
from agents.aws_ecs_service.incidents.settings import RuntimeSettings
from agents.aws_ecs_service.operations.approvals import AlreadyDecided

logger = Logger()
metrics = IncidentMetrics()
_sfn: Any = None
RETRY_AFTER_S = 60
UNAVAILABLE = ("The approval service cannot reach its database right now. Open the link again in a minute: it still "
               "works, and if your decision was recorded the page will say so.")


def _page(status: int, html: str, **headers: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**HEADERS, **headers}, "body": html}


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    content_type = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(body or "{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(body).items()}


def _who(event: dict[str, Any], name: str) -> str:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    source = identity.get("sourceIp") or "unknown address"
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:80]  # NUL would not store, controls would forge
    return f"{name or 'approval link holder'} (email link, from {source})"


def _already(exc: AlreadyDecided) -> dict[str, Any]:
    a = exc.existing
    return _page(409, message_page("Already decided", f"This plan was already {a.decision} by {a.decided_by} at "
                                                      f"{a.decided_at}. A decision is final."))


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = (event.get("httpMethod") or "").upper()
    token = (event.get("pathParameters") or {}).get("token") or ""
    settings = RuntimeSettings.from_env()
    try:
        claims = approval_links.verify(approval_links.load_key(settings.approval_key_secret_arn), token)
    except approval_links.LinkError as exc:
        logger.warning("approval link refused", extra={"status": exc.status, "reason": str(exc)})
        return _page(exc.status, message_page("Link not usable", str(exc)))
    logger.set_correlation_id(claims.incident_id)
    try:
        return _answer(event, method, claims)
    except psycopg.OperationalError as exc:
        # Down or restarted: the next invocation reconnects (shared_connection drops a broken connection).
        # A decision either committed before the failure (the next click says so) or did not happen.
        logger.warning("database unavailable", extra={"error": str(exc)})
        return _page(503, message_page("Try again in a minute", UNAVAILABLE), **{"Retry-After": str(RETRY_AFTER_S)})


def _client() -> Any:
    global _sfn
    _sfn = _sfn or boto3.client("stepfunctions")
    return _sfn


def _answer(event: dict[str, Any], method: str, claims: approval_links.LinkClaims) -> dict[str, Any]:
    conn = shared_connection()
    approvals = PostgresApprovalStore(conn)
    request = approvals.find(claims.incident_id, claims.plan_hash)
    if request is None:
        return _page(404, message_page("Nothing to decide", "No approval was requested for this plan."))
    if request.status != "pending":
        if method == "POST" and request.nonce == claims.nonce and redeliver(approvals, _client(), request):
            logger.warning("recorded decision delivered late", extra={"decision": request.status})
        return _already(AlreadyDecided(request.approval()))
    if request.nonce != claims.nonce:
        return _page(410, message_page("Link replaced", "A newer approval email replaced this one; use its links."))
    if method == "GET":
        incident = PostgresIncidentStore(conn).find(claims.incident_id)
        plan = incident.chosen_plan() if incident else None
        if plan is None or plan.plan_hash != claims.plan_hash:
            return _page(404, message_page("Plan not found", "The plan of this link is no longer the incident's plan."))
        expires = request.expires_at.isoformat(timespec="minutes") if request.expires_at else "?"
        return _page(200, plan_page(incident, plan, claims.decision, expires))
    if method != "POST":
        return _page(405, message_page("Method not allowed", "Open the link, then press a button."))
    form = _form(event)
    decision = form.get("decision") or claims.decision
    if decision not in ("approve", "reject"):
        return _page(400, message_page("Bad request", "decision must be approve or reject"))
    try:
        decided = decide(approvals, _client(), metrics, claims.incident_id, claims.plan_hash, decision,
                         _who(event, form.get("name", "")), "email-link", nonce=claims.nonce)
    except AlreadyDecided as exc:
        return _already(exc)
    except ApprovalExpired as exc:
        return _page(410, message_page("Expired", str(exc)))
    except NoPendingApproval as exc:
        return _page(410, message_page("Link replaced", str(exc)))
    finally:
        metrics.flush()
    logger.info("approval decided", extra={"decision": decided.status, "by": decided.decided_by})
    verb = "Approved: the agent applies the plan now" if decided.status == "approved" else "Rejected: nothing changes"
    return _page(200, message_page(verb.split(":")[0], f"{verb}. Recorded as {decided.decided_by}."))
