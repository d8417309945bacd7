"""API Gateway (REST proxy): GET/POST /approvals/{token}, the signed link of an approval email.

GET never decides (mail scanners prefetch links): it shows the plan and the one button of that link.
POST decides once -> SendTaskSuccess/SendTaskFailure. The link's signed decision is the decision: the
form must repeat it (a bare POST, or `approve` posted to the reject link, is a 400). 400 malformed
body, 403 forged or altered link, 404 nothing asked, 409 already decided (and told), 202 recorded but the
workflow not told yet (the next click, or the scheduled deliverer, tells it), 410 expired, 503
database unreachable (the link keeps working: the next click decides).
Kept light (no LangChain, no event-handler framework): it must start fast.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

import boto3
import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agents.aws_ecs_service.domain.approval import AlreadyDecided
from agents.aws_ecs_service.incidents import approval_links
from agents.aws_ecs_service.incidents.approval_page import HEADERS, message_page, plan_page
from agents.aws_ecs_service.incidents.approval_store import ApprovalExpired, NoPendingApproval, PostgresApprovalStore
from agents.aws_ecs_service.incidents.database import shared_connection
from agents.aws_ecs_service.incidents.decisions import decide, deliver
from agents.aws_ecs_service.incidents.incident_store import PostgresIncidentStore
from agents.aws_ecs_service.incidents.metrics import IncidentMetrics
from agents.aws_ecs_service.incidents.settings import RuntimeSettings

logger = Logger()
metrics = IncidentMetrics()
_sfn: Any = None
RETRY_AFTER_S = 60
UNAVAILABLE = ("The approval service cannot reach its database right now. Open the link again in a minute: it still "
               "works, and if your decision was recorded the page will say so.")


def _page(status: int, html: str, **headers: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**HEADERS, **headers}, "body": html}


class BadRequest(ValueError):
    """A body that cannot be read; the message says why."""


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    try:
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body, validate=True).decode("utf-8")
        content_type = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}.get("content-type", "")
        if "json" in str(content_type):
            data = json.loads(body or "{}")
            if not isinstance(data, dict):
                raise BadRequest("the JSON body must be an object")
            return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float | bool)}
        return {k: v[0] for k, v in parse_qs(body, max_num_fields=20).items()}
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid base64 UTF-8 text ({type(exc).__name__})") from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"the body cannot be read: {str(exc)[:120]}") from None


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
    if request.nonce != claims.nonce:
        return _page(410, message_page("Link replaced", "A newer approval email replaced this one; use its links."))
    if method not in ("GET", "POST"):
        return _page(405, message_page("Method not allowed", "Open the link, then press the button."))
    if method == "POST":
        try:
            posted = _form(event).get("decision")
        except BadRequest as exc:
            return _page(400, message_page("Bad request", str(exc)))
        if posted != claims.decision:
            verb = "approve" if claims.decision == "approve" else "reject"
            return _page(400, message_page("Bad request", f"This link can only {verb} the plan: post "
                                                          f"decision={claims.decision} (the page's button does)."))
    if request.status == "superseded":
        return _page(410, message_page("Replaced", "A different failure made the incident triage again; a new approval "
                                                   "request replaces this one."))
    if request.status != "pending":
        return _decided(approvals, method, request, claims.decision)
    if method == "GET":
        incident = PostgresIncidentStore(conn).find(claims.incident_id)
        plan = incident.chosen_plan() if incident else None
        if plan is None or plan.plan_hash != claims.plan_hash:
            return _page(404, message_page("Plan not found", "The plan of this link is no longer the incident's plan."))
        expires = request.expires_at.isoformat(timespec="minutes") if request.expires_at else "?"
        return _page(200, plan_page(incident, plan, claims.decision, expires))
    form = _form(event)
    try:
        decided, told = decide(approvals, _client(), metrics, claims.incident_id, claims.plan_hash, claims.decision,
                               _who(event, form.get("name", "")), "email-link", nonce=claims.nonce)
    except AlreadyDecided:
        return _decided(approvals, method, approvals.find(claims.incident_id, claims.plan_hash), claims.decision)
    except ApprovalExpired as exc:
        return _page(410, message_page("Expired", str(exc)))
    except NoPendingApproval as exc:
        return _page(410, message_page("Link replaced", str(exc)))
    finally:
        metrics.flush()
    logger.info("approval decided", extra={"decision": decided.status, "by": decided.decided_by, "told": told})
    return _recorded(decided, told)


def _decided(approvals: PostgresApprovalStore, method: str, request: Any, posted: str) -> dict[str, Any]:
    """A plan already decided. A POST of that same decision, recorded but not yet told to the workflow, tells it now
    instead of a 409; anything else (the other decision, or a decision already told or being told) is a 409."""
    same = (posted == "approve") == (request.status == "approved")
    if method == "POST" and same and request.undelivered:
        told = deliver(approvals, _client(), request.incident_id, request.plan_hash)
        logger.warning("recorded decision delivered again", extra={"decision": request.status, "told": told})
        if told is not None:
            return _recorded(request, told)
    return _already(AlreadyDecided(request.approval()))


def _recorded(decided: Any, told: bool) -> dict[str, Any]:
    verb = "Approved" if decided.status == "approved" else "Rejected"
    if not told:
        return _page(202, message_page(f"{verb}, not applied yet", f"Your decision is recorded as {decided.decided_by}, "
                                       "but the incident workflow could not be told yet. It is retried automatically; "
                                       "opening the link again and pressing the button retries now."))
    done = "the agent applies the plan now" if decided.status == "approved" else "nothing changes"
    return _page(200, message_page(verb, f"{verb}: {done}. Recorded as {decided.decided_by}."))
