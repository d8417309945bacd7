"""The write policy as pure decisions: (plan step, what AWS shows now, approval) -> allowed, or why not.

DESIGN.md "Write policy": writes only when allowWrite is on, the cluster is writable, and a person
approved this exact plan (by hash); allowed are UpdateService changing desiredCount by ±1 from the
observed value (never to 0), or taskDefinition to another ACTIVE revision of the same family;
StopTask of one task the service's own deployment started; RunTask of one task of the service's
family, launched the way the service launches its tasks. Every check is about the plan's exact
target: the caller's account and region, the cluster and service ARNs, task definitions by full ARN.

Nothing here does I/O: `aws/policy_guard.py` reads AWS, asks these functions, and writes. Each check
raises `Refused` with the reason that is shown and audited.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .plan import Approval, Plan, PlanStep
from .target import ServiceTarget

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
    "run_task": (frozenset({"cluster", "taskDefinition"}), frozenset({"count", *(
        "launchType", "platformVersion", "networkConfiguration", "capacityProviderStrategy")})),
}
# How the service launches its tasks: a RunTask of its family must launch the same way.
LAUNCH_FIELDS = ("launchType", "platformVersion", "networkConfiguration", "capacityProviderStrategy")


class Refused(Exception):
    """A step the policy does not allow; the message is the reason shown and audited."""


@dataclass(frozen=True)
class WriteScope:
    """Where writes may happen at all: allowWrite, and the clusters IAM lets the agent change (None: any)."""

    allow_write: bool
    writable_clusters: frozenset[str] | None = None

    @classmethod
    def of(cls, allow_write: bool, writable_clusters: Iterable[str] | None = None) -> WriteScope:
        return cls(allow_write, frozenset(c for c in writable_clusters if c) if writable_clusters is not None else None)

    def blocked_reason(self, target: ServiceTarget) -> str | None:
        """Why nothing may be written to this service (None: writes are possible with an approval)."""
        if not self.allow_write:
            return "writes are disabled (allowWrite is off): nothing was changed"
        if self.writable_clusters is not None and not ({target.cluster, target.cluster_arn} & self.writable_clusters):
            allowed = ", ".join(sorted(self.writable_clusters)) or "none"
            return (f"cluster {target.cluster} is watched but not writable (writable clusters: {allowed}): the plan "
                    "is for a person to apply")
        return None


def short_name(name_or_arn: str | None) -> str:
    return str(name_or_arn or "").rsplit("/", 1)[-1]


def family_of(task_definition_arn: str) -> str:
    return short_name(task_definition_arn).rpartition(":")[0]


# ---- before any AWS call -------------------------------------------------------------------------------
def check_request(plan: Plan, step: PlanStep, scope: WriteScope, approval: Approval | None) -> Approval:
    """The plan holds the step, writes are possible for the target, this exact plan is approved, and the step's
    parameters name the target and nothing else. Returns the approval."""
    if step not in plan.steps:
        raise Refused(f"step {step.number} is not part of plan {plan.plan_hash}")
    blocked = scope.blocked_reason(plan.target)
    if blocked:
        raise Refused(blocked)
    check_approval(plan, approval)
    check_shape(plan.target, step)
    return approval  # type: ignore[return-value]  # check_approval refused None


def check_approval(plan: Plan, approval: Approval | None) -> None:
    if approval is None or approval.plan_hash != plan.plan_hash or approval.incident_id != plan.incident_id:
        raise Refused(f"no approval for plan {plan.plan_hash} of incident {plan.incident_id}")
    if approval.decision != "approved":
        raise Refused(f"plan {plan.plan_hash} was {approval.decision} by {approval.decided_by} at "
                      f"{approval.decided_at}: nothing may be applied")
    if approval.target is not None and not approval.target.same_service(plan.target):
        raise Refused(f"the approval is for {approval.target.label}, the plan changes {plan.target.label}")


def check_shape(target: ServiceTarget, step: PlanStep) -> None:
    if step.action not in PARAMETERS:
        raise Refused(f"{step.action} is not an allowed action")
    operation = OPERATIONS[step.action]
    required, optional = PARAMETERS[step.action]
    keys = set(step.params)
    if missing := required - keys:
        raise Refused(f"{operation} needs {', '.join(sorted(missing))}")
    if extra := keys - required - optional:
        raise Refused(f"{operation} may not set {', '.join(sorted(extra))} (not on the allow-list)")
    if step.params["cluster"] != target.cluster_arn:
        raise Refused(f"cluster {step.params['cluster']!r} is not the plan's target cluster {target.cluster_arn}")
    if "service" in step.params and step.params["service"] != target.service_arn:
        raise Refused(f"service {step.params['service']!r} is not the plan's target service {target.service_arn}")
    if step.action == "update_service_desired_count":
        count = step.params["desiredCount"]
        if isinstance(count, bool) or not isinstance(count, int):
            raise Refused(f"desiredCount must be an integer, got {count!r}")
        if count < 1:
            raise Refused(f"desiredCount {count}: the agent never scales a service to 0 tasks")
    if step.action == "run_task" and step.params.get("count", 1) != 1:
        raise Refused(f"RunTask may start exactly one task, not {step.params['count']!r}")
    if step.action in ("update_service_task_definition", "run_task"):
        check_in_target(target, str(step.params["taskDefinition"]), "task definition")
    if step.action == "stop_task":
        check_in_target(target, str(step.params["task"]), "task")


def check_in_target(target: ServiceTarget, arn: str, what: str) -> None:
    """A full ARN in the target's partition, region and account (names and family:revision are ambiguous)."""
    prefix = f"arn:{target.partition}:ecs:{target.region}:{target.account}:"
    if not arn.startswith(prefix):
        raise Refused(f"{what} {arn!r} is not a full ARN in {target.label}: only the target's own account and "
                      "region may be changed")


# ---- against what AWS shows now ---------------------------------------------------------------------------
def check_identity(target: ServiceTarget, account: str, region: str) -> None:
    """The credentials and region the writes would use are the target's."""
    if region != target.region:
        raise Refused(f"the AWS client is for region {region}, the plan's service is in {target.region}")
    if account != target.account:
        raise Refused(f"the AWS credentials are for account {account}, the plan's service is in {target.account}")


def check_service(target: ServiceTarget, service: dict[str, Any] | None) -> None:
    if not service or service.get("status") != "ACTIVE":
        raise Refused(f"{target.label} is not an ACTIVE service")
    if service.get("serviceArn") != target.service_arn or service.get("clusterArn") != target.cluster_arn:
        raise Refused(f"AWS answered with service {service.get('serviceArn')} of {service.get('clusterArn')}, not the "
                      f"plan's {target.service_arn}")


def check_expected(step: PlanStep, service: dict[str, Any]) -> None:
    """Compare-and-set: the service still shows what the plan was made against."""
    for key, expected in step.expected_before.items():  # task definitions compare by full ARN
        if expected != service.get(key):
            raise Refused(f"the service changed since the plan was made: {key} is {service.get(key)!r}, the plan "
                          f"expected {expected!r}; re-plan")


def shows_result(step: PlanStep, service: dict[str, Any]) -> bool:
    """The service shows the step's UpdateService change. StopTask/RunTask leave no mark on the service: for them the
    audit log's "ok" is the result (and RunTask carries a client token)."""
    if step.action == "update_service_desired_count":
        return service.get("desiredCount") == step.params["desiredCount"]
    if step.action == "update_service_task_definition":
        return service.get("taskDefinition") == step.params["taskDefinition"]
    return True


def check_change(target: ServiceTarget, step: PlanStep, service: dict[str, Any], task: dict[str, Any] | None = None,
                 task_definition: dict[str, Any] | None = None) -> str:
    """The change itself is on the allow-list; returns why it is allowed (for the audit)."""
    if step.action == "update_service_desired_count":
        return _desired_count(service, step.params["desiredCount"])
    if step.action == "update_service_task_definition":
        td = _same_family_active(service, task_definition)
        if td["taskDefinitionArn"] == service.get("taskDefinition"):
            raise Refused(f"the service already runs {short_name(td['taskDefinitionArn'])}: nothing to change")
        return (f"taskDefinition {short_name(service['taskDefinition'])} -> "
                f"{short_name(td['taskDefinitionArn'])} (ACTIVE, same family)")
    if step.action == "stop_task":
        return _stoppable(target, service, task)
    td = _same_family_active(service, task_definition)
    for name in LAUNCH_FIELDS:
        if name in step.params and step.params[name] != service.get(name):
            raise Refused(f"RunTask {name} {step.params[name]!r} is not the service's own ({service.get(name)!r}): a "
                          "task of the family runs the way the service runs its tasks")
    return f"one task of family {td['family']} ({short_name(td['taskDefinitionArn'])}), launched like the service's"


def run_task_params(step: PlanStep, service: dict[str, Any]) -> dict[str, Any]:
    """What RunTask sends: the step's parameters, with the service's own launch settings where the step has none."""
    params = dict(step.params)
    for name in LAUNCH_FIELDS:
        if name not in params and service.get(name) not in (None, "", []):
            params[name] = service[name]
    if "capacityProviderStrategy" in params:
        params.pop("launchType", None)  # ECS takes one or the other
    return params


def _desired_count(service: dict[str, Any], wanted: int) -> str:
    observed = service.get("desiredCount")
    if isinstance(observed, bool) or not isinstance(observed, int):
        raise Refused(f"the service's desiredCount {observed!r} cannot be read: nothing to compare against")
    if wanted < 1:
        raise Refused(f"desiredCount {wanted}: the agent never scales a service to 0 tasks")
    if abs(wanted - observed) != 1:
        raise Refused(f"desiredCount {observed} -> {wanted} is a change of {wanted - observed:+d}: only ±1 from the "
                      "observed value is allowed")
    return f"desiredCount {observed} -> {wanted} ({wanted - observed:+d} from the observed value)"


def _same_family_active(service: dict[str, Any], td: dict[str, Any] | None) -> dict[str, Any]:
    current = service.get("taskDefinition")
    if not current:
        raise Refused("the service's task definition cannot be read: no family to compare against")
    if not td:
        raise Refused("the task definition cannot be described")
    family = family_of(current)
    if td.get("family") != family:
        raise Refused(f"{short_name(td.get('taskDefinitionArn'))} is of family {td.get('family')!r}, the service "
                      f"runs {family!r}: only a revision of the same family is allowed")
    if td.get("status") != "ACTIVE":
        raise Refused(f"{short_name(td.get('taskDefinitionArn'))} is {td.get('status')}, not ACTIVE")
    return td


def _stoppable(target: ServiceTarget, service: dict[str, Any], task: dict[str, Any] | None) -> str:
    if not task:
        raise Refused("the task was not found")
    name = short_name(task.get("taskArn"))
    if task.get("clusterArn") != target.cluster_arn:
        raise Refused(f"task {name} runs in {task.get('clusterArn')}, not in {target.cluster_arn}")
    if task.get("group") != f"service:{service.get('serviceName')}":
        raise Refused(f"task {name} belongs to {task.get('group')!r}, not to service {target.service}")
    deployments = {d.get("id") for d in service.get("deployments") or [] if d.get("id")}
    if task.get("startedBy") not in deployments:
        raise Refused(f"task {name} was started by {task.get('startedBy')!r}, not by a deployment of {target.service} "
                      f"({', '.join(sorted(deployments)) or 'none'}): only the service's own tasks may be stopped")
    if "STOPPED" in (task.get("lastStatus"), task.get("desiredStatus")):
        raise Refused(f"task {name} is already stopped")
    return f"one task of service {target.service} ({name}, started by {task.get('startedBy')})"
