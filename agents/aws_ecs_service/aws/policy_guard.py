"""The policy guard: the only code that calls ECS write APIs (DESIGN.md "Write policy").

The decisions are pure functions (domain/write_policy.py); the guard does the I/O around them. It
builds its ECS client from the plan's own target (that account's credentials, that region), checks
before any write that the client's account and region and the service AWS describes are exactly
the plan's, and audits every attempt, allowed or refused.

Retries are idempotent: a step the audit log shows applied, whose result the service still shows,
is skipped instead of written again; RunTask carries a client token derived from the plan hash and
step. ECS has no conditional update, so compare-and-set is "re-read, compare, write" under one lock
per guard.

Every write is audited "pending" before the call. An attempt cut off after that (a Lambda timeout)
leaves it pending; the retry reads the service: showing the step's result means the call went out,
so the retry records that outcome and writes nothing; showing the state the plan expected means it
did not, so the step runs. A cut-off StopTask or RunTask cannot be told apart that way and is
refused for a person to check.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain import write_policy as policy
from ..domain.approval import ApprovalStore
from ..domain.plan import SKIPPED, AuditEntry, Plan, PlanStep
from ..domain.target import ServiceTarget
from ..domain.write_policy import Refused, WriteScope
from .audit_log import PENDING, AuditLog
from .session import AwsContext

Sessions = Callable[[ServiceTarget], AwsContext]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def _state(svc: dict[str, Any]) -> dict[str, Any]:
    return {"taskDefinition": svc.get("taskDefinition"), "desiredCount": svc.get("desiredCount"),
            "runningCount": svc.get("runningCount")}


class PolicyGuard:
    """`sessions(target)` gives the AWS context for a plan's target (SessionPool.for_target)."""

    def __init__(self, sessions: Sessions, scope: WriteScope, approvals: ApprovalStore, audit: AuditLog):
        self.sessions = sessions
        self.scope = scope
        self.approvals = approvals
        self.audit = audit
        self._lock = threading.Lock()

    def execute(self, plan: Plan, step: PlanStep, actor: str) -> AuditEntry:
        """Run one plan step if the policy allows it; the returned entry is also in the audit log."""
        entry = self._entry(plan, step, actor)
        with self._lock:
            try:
                self._run(plan, step, entry)
            except Refused as refusal:
                entry.allowed, entry.reason, entry.result = False, str(refusal), "refused"
            except (ClientError, BotoCoreError) as exc:
                if not entry.allowed:  # a read the checks need failed: nothing was written
                    entry.reason = f"could not check the change: {_error_text(exc)}"
                    entry.result = "refused"
                else:
                    entry.result = f"error: {_error_text(exc)}"
            self.audit.append(entry)
        return entry

    def refuse(self, plan: Plan, step: PlanStep, actor: str, reason: str) -> AuditEntry:
        """Audit a step refused before its checks ran (its service is busy with another remediation)."""
        entry = self._entry(plan, step, actor)
        entry.reason, entry.result = reason, "refused"
        self.audit.append(entry)
        return entry

    @staticmethod
    def _entry(plan: Plan, step: PlanStep, actor: str) -> AuditEntry:
        return AuditEntry(at=_now(), incident_id=plan.incident_id, plan_hash=plan.plan_hash, target=plan.target,
                          step=step.number, actor=actor, operation=policy.OPERATIONS.get(step.action, step.action),
                          params=dict(step.params), allowed=False, reason="")

    # ---- the checks, in order; each raises Refused ---------------------------------------------
    def _run(self, plan: Plan, step: PlanStep, entry: AuditEntry) -> None:
        target = plan.target
        approval = policy.check_request(plan, step, self.scope, self.approvals.get(plan.incident_id, plan.plan_hash))
        ctx = self.sessions(target)
        policy.check_identity(target, ctx.account(), ctx.region)
        ecs = ctx.client("ecs")
        svc = self._service(ecs, target)
        policy.check_service(target, svc)
        entry.before = _state(svc)

        if self.audit.has_applied(plan.incident_id, plan.plan_hash, step.number):
            if not policy.shows_result(step, svc):
                raise Refused(f"step {step.number} was applied before, but the service no longer shows its result: "
                              "someone changed it since; re-plan")
            entry.allowed, entry.reason, entry.result = True, "an earlier attempt of this step was applied and the " \
                "service still shows its result: no second write", SKIPPED
            entry.after = dict(entry.before)
            return
        if self._settle_cut_off_attempts(plan, step, svc, entry):
            return
        policy.check_expected(step, svc)
        task = self._task(ecs, target, step) if step.action == "stop_task" else None
        task_definition = self._task_definition(ecs, step) if "taskDefinition" in step.params else None
        why = policy.check_change(target, step, svc, task=task, task_definition=task_definition)
        entry.allowed = True
        entry.reason = f"approved by {approval.decided_by} ({approval.channel}) at {approval.decided_at}; {why}"
        entry.result = PENDING
        self.audit.append(entry.model_copy())  # before the call: a cut-off attempt leaves this trace
        self._write(ecs, plan, step, svc, entry)

    def _settle_cut_off_attempts(self, plan: Plan, step: PlanStep, svc: dict[str, Any], entry: AuditEntry) -> bool:
        """Record what became of earlier attempts of this step left "pending"; True when one of them did the
        write (this attempt is then skipped). Raises Refused when that cannot be told."""
        cut_off = [e for e in self.audit.list(plan.incident_id)
                   if e.plan_hash == plan.plan_hash and e.step == step.number and e.result == PENDING]
        for earlier in cut_off:
            if not step.action.startswith("update_service"):
                raise Refused(f"an earlier attempt of step {step.number} was cut off after it was allowed; whether its "
                              f"{earlier.operation} took effect cannot be told from the service: a person must check, "
                              "then re-plan")
            if policy.shows_result(step, svc):
                self.audit.append(earlier.model_copy(update={
                    "result": "ok", "after": dict(entry.before),
                    "reason": f"{earlier.reason}; the attempt was cut off after its call, which the service shows "
                              "(recorded by the retry)"}))
                entry.allowed, entry.result, entry.after = True, SKIPPED, dict(entry.before)
                entry.reason = ("an earlier attempt was cut off after its write, which the service shows: no second "
                                "write")
                return True
            self.audit.append(earlier.model_copy(update={
                "result": "error: cut off before its change took effect (the service does not show it)"}))
        return False

    # ---- reads ---------------------------------------------------------------------------------------
    @staticmethod
    def _service(ecs, target: ServiceTarget) -> dict[str, Any] | None:
        services = ecs.describe_services(cluster=target.cluster_arn, services=[target.service_arn]).get("services")
        return (services or [None])[0]

    @staticmethod
    def _task(ecs, target: ServiceTarget, step: PlanStep) -> dict[str, Any] | None:
        tasks = ecs.describe_tasks(cluster=target.cluster_arn, tasks=[step.params["task"]]).get("tasks") or []
        return tasks[0] if tasks else None

    @staticmethod
    def _task_definition(ecs, step: PlanStep) -> dict[str, Any]:
        try:
            return ecs.describe_task_definition(taskDefinition=step.params["taskDefinition"])["taskDefinition"]
        except ClientError as exc:
            raise Refused(f"task definition {step.params['taskDefinition']!r} cannot be described: "
                          f"{_error_text(exc)}") from exc

    # ---- the one place that writes --------------------------------------------------------------
    def _write(self, ecs, plan: Plan, step: PlanStep, svc: dict[str, Any], entry: AuditEntry) -> None:
        params = dict(step.params)
        if step.action.startswith("update_service"):
            entry.after = _state(ecs.update_service(**params)["service"])
        elif step.action == "stop_task":
            params.setdefault("reason", f"ecs-agent: incident {plan.incident_id}, plan {plan.plan_hash[:12]}")
            task = ecs.stop_task(**params)["task"]
            entry.after = {"task": task.get("taskArn"), "lastStatus": task.get("lastStatus")}
        else:
            params = policy.run_task_params(step, svc)
            # a SHA-256 hex digest is 64 characters: RunTask's clientToken limit
            params.update(count=1, startedBy=f"ecs-agent/{plan.plan_hash[:16]}",
                          clientToken=hashlib.sha256(f"{plan.plan_hash}:{step.number}".encode()).hexdigest())
            answer = ecs.run_task(**params)
            if answer.get("failures"):
                entry.params, entry.result = params, f"error: {answer['failures']}"
                return
            entry.after = {"tasks": [t.get("taskArn") for t in answer.get("tasks", [])]}
        entry.params = params
        entry.result = "ok"
