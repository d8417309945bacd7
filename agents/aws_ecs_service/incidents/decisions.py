"""Deciding a pending approval, and telling the waiting workflow: the email link and the chat do exactly this.

The decision is recorded once in PostgreSQL (single use); its row is then the outbox of the
decision. `deliver` claims the row and tells Step Functions (SendTaskSuccess to go on,
SendTaskFailure("Approval.Rejected") to stop), with retries; a decision it could not deliver stays
claimable, so a second click, a repeated chat approval or the scheduled deliverer
(`deliver_pending`) tells the workflow later. A claim keeps two deliverers from racing; Step Functions
accepts a task token once, and a token it no longer knows (the workflow stopped waiting, or an
earlier delivery got through before it could be marked) ends the delivery without touching the
recorded decision.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ..aws.session import is_transient
from .approval_store import ApprovalExpired, ApprovalRequest, PostgresApprovalStore

REJECTED_ERROR = "Approval.Rejected"
# Longer than any deciding function runs (approval links 15 s, chat 60 s): a claim older than this was abandoned.
CLAIM_HOLD = dt.timedelta(seconds=90)
DELIVERY_ATTEMPTS = 3  # ours, on top of botocore's own retries, before leaving it to the next deliverer
RETRY_PAUSE_S = 0.5
_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}


def task_output(request: ApprovalRequest) -> dict[str, Any]:
    return {"decision": request.status, "decided_by": request.decided_by, "channel": request.channel,
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "plan_hash": request.plan_hash}


def resume_workflow(sfn: Any, request: ApprovalRequest) -> None:
    """Tell the waiting state the decision (raises ApprovalExpired when it no longer waits)."""
    try:
        if request.status == "approved":
            sfn.send_task_success(taskToken=request.task_token, output=json.dumps(task_output(request)))
        else:
            sfn.send_task_failure(taskToken=request.task_token, error=REJECTED_ERROR,
                                  cause=json.dumps(task_output(request)))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _GONE:
            raise ApprovalExpired("the workflow no longer waits for this approval") from exc
        raise


def deliver(approvals: PostgresApprovalStore, sfn: Any, incident_id: str, plan_hash: str,
            claimed: ApprovalRequest | None = None, sleep: Any = time.sleep) -> bool | None:
    """Tell the workflow a recorded decision (`claimed`: its row, when the caller holds the claim already). True:
    told now; False: not told (retried, then released for the next deliverer); None: nothing to deliver (delivered
    before, being delivered elsewhere, or nobody waits)."""
    request = claimed or approvals.claim_delivery(incident_id, plan_hash, CLAIM_HOLD)
    if request is None:
        return None
    error = ""
    for attempt in range(DELIVERY_ATTEMPTS):
        try:
            resume_workflow(sfn, request)
        except ApprovalExpired as exc:
            approvals.delivered(incident_id, plan_hash, note=f"not delivered: {exc}")
            return None
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and not is_transient(exc):
                error = f"{exc.response.get('Error', {}).get('Code')}: {exc}"
                break
            error = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < DELIVERY_ATTEMPTS:
                sleep(RETRY_PAUSE_S * 2 ** attempt)
            continue
        approvals.delivered(incident_id, plan_hash)
        return True
    approvals.delivery_failed(incident_id, plan_hash, error)
    return False


def decide(approvals: PostgresApprovalStore, sfn: Any, metrics: Any, incident_id: str, plan_hash: str,
           decision: Literal["approve", "reject"], decided_by: str, channel: str, nonce: str | None = None,
           comment: str = "") -> tuple[ApprovalRequest, bool]:
    """Decide once and tell the workflow: (the decision, whether the workflow has been told). Raises AlreadyDecided,
    ApprovalExpired or NoPendingApproval when there is nothing to decide."""
    status = "approved" if decision == "approve" else "rejected"
    request = approvals.decide(incident_id, plan_hash, status, decided_by, channel, nonce=nonce, comment=comment)
    metrics.count("ApprovalApproved" if status == "approved" else "ApprovalRejected")
    told = deliver(approvals, sfn, incident_id, plan_hash, claimed=request) if request.task_token else True
    return request, told is not False


def deliver_pending(approvals: PostgresApprovalStore, sfn: Any, limit: int = 100) -> dict[str, int]:
    """Every decision the workflow has not been told yet, told now where it can be (the scheduled deliverer)."""
    outcome = {"delivered": 0, "not_delivered": 0, "skipped": 0}
    for request in approvals.undelivered(limit):
        told = deliver(approvals, sfn, request.incident_id, request.plan_hash)
        outcome["delivered" if told else "not_delivered" if told is False else "skipped"] += 1
    return outcome
