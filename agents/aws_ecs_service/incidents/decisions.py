"""Deciding a pending approval: the email link and the chat do exactly this.

Record the decision once in PostgreSQL (single use), then hand it to the waiting workflow:
SendTaskSuccess to go on, SendTaskFailure("Approval.Rejected") to stop. When Step Functions
has already stopped waiting (timed out), the request becomes expired.

Recording and telling are two calls: if the database fails after committing a decision but before
answering, the deciding invocation ends without telling the workflow. `redeliver` closes that gap
the next time the link is used. Step Functions accepts a task token once, so a decision is never
delivered twice.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from botocore.exceptions import ClientError

from .approval_store import ApprovalExpired, ApprovalRequest, PostgresApprovalStore

REJECTED_ERROR = "Approval.Rejected"
# Longer than any deciding function runs (approval links 15 s, chat 60 s): an older undelivered decision's
# invocation has ended.
UNDELIVERED_AFTER = dt.timedelta(seconds=90)
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
            raise ApprovalExpired("the workflow stopped waiting for this approval (it timed out)") from exc
        raise


def decide(approvals: PostgresApprovalStore, sfn: Any, metrics: Any, incident_id: str, plan_hash: str,
           decision: Literal["approve", "reject"], decided_by: str, channel: str, nonce: str | None = None,
           comment: str = "") -> ApprovalRequest:
    """Decide once; raises AlreadyDecided, ApprovalExpired or NoPendingApproval otherwise."""
    status = "approved" if decision == "approve" else "rejected"
    request = approvals.decide(incident_id, plan_hash, status, decided_by, channel, nonce=nonce, comment=comment)
    if request.task_token:
        try:
            resume_workflow(sfn, request)
        except ApprovalExpired:
            approvals.conn.execute(
                "update ecs_agent_approvals set status = 'expired' where incident_id = %s and plan_hash = %s",
                (incident_id, plan_hash))
            raise
        approvals.mark_delivered(incident_id, plan_hash)
    metrics.count("ApprovalApproved" if status == "approved" else "ApprovalRejected")
    return request


def redeliver(approvals: PostgresApprovalStore, sfn: Any, request: ApprovalRequest) -> bool:
    """Tell the workflow a recorded decision that never reached it; True when it got it now."""
    if request.status not in ("approved", "rejected") or not request.task_token or request.delivered_at:
        return False
    if request.decided_at is None or dt.datetime.now(dt.UTC) - request.decided_at < UNDELIVERED_AFTER:
        return False  # the invocation that decided may still be telling it
    try:
        resume_workflow(sfn, request)
        delivered = True
    except ApprovalExpired:
        delivered = False  # it stopped waiting; its report records the expiry
    approvals.mark_delivered(request.incident_id, request.plan_hash)
    return delivered
