"""The policy guard: the only code that calls ECS write APIs (DESIGN.md "Write policy").

A step of a plan runs only when writes are allowed, the plan (by hash) is approved for the
incident, the step is on the allow-list, and the service still looks the way the plan saw
it. Allowed: UpdateService changing desiredCount by exactly ±1 from the observed value, or
taskDefinition to another ACTIVE revision of the same family; StopTask of one task of the
target service; RunTask of one task of the service's family. Every attempt, allowed or
refused, is written to the audit log.

Retries are idempotent: a step the audit log shows applied, whose result the service still
shows, is skipped instead of written again; RunTask carries a client token derived from the
plan hash and step. ECS has no conditional update, so compare-and-set is "re-read, compare,
write" under one lock per guard.

Every write is audited "pending" before the call. An attempt cut off after that (a Lambda
timeout) leaves it pending; the retry reads the service: showing the step's result means the
call went out, so the retry records that outcome and writes nothing; showing the state the plan
expected means it did not, so the step runs. A cut-off StopTask or RunTask cannot be told
apart that way and is refused for a person to check.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..operations.approvals import ApprovalStore
from ..operations.plan_model import Approval, AuditEntry, Plan, PlanStep
from .audit_log import PENDING, AuditLog
from .ecs_reads import describe_service, family_revision, short_name
from .session import AwsContext

OPERATIONS = {
    "update_service_task_definition": "ecs:UpdateService",
    "update_service_desired_count": "ecs:UpdateService",
    "stop_task": "ecs:StopTask",
    "run_task": "ecs:RunTask",
}
# (required, optional) parameter names per action: anything else is refused
PARAMETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "update_service_task_definition": (frozenset({"cluster", "service", "taskDefinition"}), frozenset()),
    "update_service_desired_count": (frozenset({"cluster", "service", "desiredCount"}), frozenset()),
    "stop_task": (frozenset({"cluster", "task"}), frozenset({"reason"})),
    "run_task": (frozenset({"cluster", "taskDefinition"}),
                 frozenset({"count", "launchType", "platformVersion", "networkConfiguration",
                            "capacityProviderStrategy"})),
}
SKIPPED = "skipped (already applied)"


class Refused(Exception):
    """A step the policy does not allow; the message is the reason shown and audited."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _revision(task_definition: str) -> str:
    """ARN or family:revision -> family:revision."""
    return short_name(str(task_definition))


def _same(key: str, expected: Any, observed: Any) -> bool:
    if key == "taskDefinition":
        return _revision(expected) == _revision(observed or "")
    return expected == observed


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


class PolicyGuard:
    def __init__(self, ctx: AwsContext, allow_write: bool, approvals: ApprovalStore, audit: AuditLog):
        self.ctx = ctx
        self.allow_write = allow_write
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
        return AuditEntry(at=_now(), incident_id=plan.incident_id, plan_hash=plan.plan_hash, step=step.number,
                          actor=actor, operation=OPERATIONS.get(step.action, step.action), params=dict(step.params),
                          allowed=False, reason="")

    # ---- the checks, in order; each raises Refused ---------------------------------------------
    def _run(self, plan: Plan, step: PlanStep, entry: AuditEntry) -> None:
        if step not in plan.steps:
            raise Refused(f"step {step.number} is not part of plan {plan.plan_hash}")
        if not self.allow_write:
            raise Refused("writes are disabled (allowWrite is off): nothing was changed")
        approval = self._approval(plan)
        cluster, service = self._check_shape(plan, step)
        ecs = self.ctx.client("ecs")
        svc = self._service(ecs, cluster, service)
        entry.before = {"taskDefinition": svc.get("taskDefinition"), "desiredCount": svc.get("desiredCount"),
                        "runningCount": svc.get("runningCount")}

        if self.audit.has_applied(plan.incident_id, plan.plan_hash, step.number):
            if not self._shows_result(step, svc):
                raise Refused(f"step {step.number} was applied before, but the service no longer shows its result: "
                              "someone changed it since; re-plan")
            entry.allowed, entry.reason, entry.result = True, "an earlier attempt of this step was applied and the " \
                "service still shows its result: no second write", SKIPPED
            entry.after = dict(entry.before)
            return
        if self._settle_cut_off_attempts(plan, step, svc, entry):
            return

        for key, expected in step.expected_before.items():
            if not _same(key, expected, svc.get(key)):
                raise Refused(f"the service changed since the plan was made: {key} is {svc.get(key)!r}, the plan "
                              f"expected {expected!r}; re-plan")

        why = self._allow_list(ecs, plan, step, svc)
        entry.allowed = True
        entry.reason = (f"approved by {approval.decided_by} ({approval.channel}) at {approval.decided_at}; {why}")
        entry.result = PENDING
        self.audit.append(entry.model_copy())  # before the call: a cut-off attempt leaves this trace
        self._write(ecs, plan, step, entry)

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
            if self._shows_result(step, svc):
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

    def _approval(self, plan: Plan) -> Approval:
        approval = self.approvals.get(plan.incident_id, plan.plan_hash)
        if approval is None:
            raise Refused(f"no approval for plan {plan.plan_hash} of incident {plan.incident_id}")
        if approval.decision != "approved":
            raise Refused(f"plan {plan.plan_hash} was {approval.decision} by {approval.decided_by} at "
                          f"{approval.decided_at}: nothing may be applied")
        return approval

    def _check_shape(self, plan: Plan, step: PlanStep) -> tuple[str, str]:
        if step.action not in PARAMETERS:
            raise Refused(f"{step.action} is not an allowed action")
        required, optional = PARAMETERS[step.action]
        keys = set(step.params)
        if missing := required - keys:
            raise Refused(f"{OPERATIONS[step.action]} needs {', '.join(sorted(missing))}")
        if extra := keys - required - optional:
            raise Refused(f"{OPERATIONS[step.action]} may not set {', '.join(sorted(extra))} (not on the allow-list)")
        cluster, service = plan.target.get("cluster", ""), plan.target.get("service", "")
        if short_name(str(step.params["cluster"])) != short_name(cluster):
            raise Refused(f"cluster {step.params['cluster']!r} is not the plan's target cluster {cluster!r}")
        if "service" in step.params and short_name(str(step.params["service"])) != short_name(service):
            raise Refused(f"service {step.params['service']!r} is not the plan's target service {service!r}")
        if step.action == "update_service_desired_count":
            count = step.params["desiredCount"]
            if isinstance(count, bool) or not isinstance(count, int):
                raise Refused(f"desiredCount must be an integer, got {count!r}")
        if step.action == "run_task" and step.params.get("count", 1) != 1:
            raise Refused(f"RunTask may start exactly one task, not {step.params['count']!r}")
        return cluster, service

    def _service(self, ecs, cluster: str, service: str) -> dict[str, Any]:
        services = describe_service(ecs, cluster, service).get("services") or []
        if not services or services[0].get("status") != "ACTIVE":
            raise Refused(f"service {service!r} is not an ACTIVE service of cluster {cluster!r}")
        return services[0]

    def _shows_result(self, step: PlanStep, svc: dict[str, Any]) -> bool:
        if step.action == "update_service_desired_count":
            return svc.get("desiredCount") == step.params["desiredCount"]
        if step.action == "update_service_task_definition":
            return _same("taskDefinition", step.params["taskDefinition"], svc.get("taskDefinition"))
        return True  # StopTask/RunTask: the audit log's "ok" is the result (RunTask also has its client token)

    def _allow_list(self, ecs, plan: Plan, step: PlanStep, svc: dict[str, Any]) -> str:
        current = svc.get("taskDefinition") or ""
        if step.action == "update_service_desired_count":
            observed, wanted = svc.get("desiredCount"), step.params["desiredCount"]
            if not isinstance(observed, int) or abs(wanted - observed) != 1:
                raise Refused(f"desiredCount {observed} -> {wanted} is a change of {wanted - (observed or 0):+d}: only "
                              "±1 from the observed value is allowed")
            return f"desiredCount {observed} -> {wanted} ({wanted - observed:+d} from the observed value)"
        if step.action == "update_service_task_definition":
            td = self._active_same_family(ecs, step.params["taskDefinition"], current)
            if td["taskDefinitionArn"] == current:
                raise Refused(f"the service already runs {_revision(current)}: nothing to change")
            return f"taskDefinition {_revision(current)} -> {_revision(td['taskDefinitionArn'])} (ACTIVE, same family)"
        if step.action == "stop_task":
            service = plan.target["service"]
            tasks = ecs.describe_tasks(cluster=step.params["cluster"], tasks=[step.params["task"]]).get("tasks") or []
            if not tasks:
                raise Refused(f"task {step.params['task']!r} not found")
            if tasks[0].get("group") != f"service:{short_name(service)}":
                raise Refused(f"task {short_name(step.params['task'])} belongs to {tasks[0].get('group')!r}, not to "
                              f"service {service!r}")
            if tasks[0].get("lastStatus") == "STOPPED":
                raise Refused(f"task {short_name(step.params['task'])} is already stopped")
            return f"one task of service {service} ({short_name(step.params['task'])})"
        td = self._active_same_family(ecs, step.params["taskDefinition"], current)
        return f"one task of family {td['family']} ({_revision(td['taskDefinitionArn'])})"

    def _active_same_family(self, ecs, task_definition: str, current: str) -> dict[str, Any]:
        try:
            td = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        except ClientError as exc:
            raise Refused(f"task definition {task_definition!r} cannot be described: {_error_text(exc)}") from exc
        family = family_revision(current)[0] if current else None
        if td.get("family") != family:
            raise Refused(f"{_revision(td['taskDefinitionArn'])} is of family {td.get('family')!r}, the service runs "
                          f"{family!r}: only a revision of the same family is allowed")
        if td.get("status") != "ACTIVE":
            raise Refused(f"{_revision(td['taskDefinitionArn'])} is {td.get('status')}, not ACTIVE")
        return td

    # ---- the one place that writes --------------------------------------------------------------
    def _write(self, ecs, plan: Plan, step: PlanStep, entry: AuditEntry) -> None:
        params = dict(step.params)
        if step.action.startswith("update_service"):
            svc = ecs.update_service(**params)["service"]
            entry.after = {"taskDefinition": svc.get("taskDefinition"), "desiredCount": svc.get("desiredCount"),
                           "runningCount": svc.get("runningCount")}
        elif step.action == "stop_task":
            params.setdefault("reason", f"ecs-agent: incident {plan.incident_id}, plan {plan.plan_hash[:12]}")
            task = ecs.stop_task(**params)["task"]
            entry.after = {"task": task.get("taskArn"), "lastStatus": task.get("lastStatus")}
        else:
            params.update(count=1, startedBy=f"ecs-agent/{plan.plan_hash[:16]}",
                          clientToken=hashlib.sha256(f"{plan.plan_hash}:{step.number}".encode()).hexdigest()[:64])
            answer = ecs.run_task(**params)
            if answer.get("failures"):
                entry.params, entry.result = params, f"error: {answer['failures']}"
                return
            entry.after = {"tasks": [t.get("taskArn") for t in answer.get("tasks", [])]}
        entry.params = params
        entry.result = "ok"
