"""An explicit change request, answered about that request: a plan for exactly it when the write policy allows it,
else a refusal by name with the policy's reason, the nearest step it allows and the command a person can run.

The request is checked by the guard's own functions (domain/write_policy.py: check_shape, check_change) against
what ECS shows now (the service, the named revision, the service's running tasks are read again), so the answer
here is the answer the guard would give. The diagnosis' own plan is never put in the request's place: it is
named only as an alternative ("Instead, the diagnosis suggests ...").
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import ecs_reads
from ..aws.session import AwsContext
from ..diagnosis.result import TriageResult
from ..diagnosis.revisions import HealthyRevision, last_healthy_revision
from ..domain.plan import Plan
from ..domain.target import ServiceTarget
from ..domain.write_policy import Refused, check_change, check_shape
from ..operations.planner import PlanBuilder
from . import plan_preferences
from .change_requests import ChangeRequest

_RUNNING_CAP = 100  # running tasks read to pick one to restart


@dataclass
class Now:
    """What ECS shows now for the request: the service, the revision it names, the service's running tasks."""

    service: dict[str, Any]
    task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by full ARN
    running: list[dict[str, Any]] = field(default_factory=list)
    unreadable: str | None = None  # why the named revision could not be read


@dataclass
class Answer:
    plan: Plan | None = None  # a plan for exactly the request: it goes to the approval prompt
    text: str = ""  # the reply when there is no plan (refused, or nothing to change)


def wanted_revision(request: ChangeRequest, target: ServiceTarget, evidence: dict[str, Any]) -> str | None:
    """The task definition a revision request names, as a full ARN in the target's account and region (family:N
    of the service's family), or the last revision that ran healthy when it names none."""
    current = (evidence.get("service") or {}).get("taskDefinition") or evidence.get("current_task_definition")
    if request.kind != "revision" or not current:
        return None
    if request.revision is None:
        healthy = last_healthy_revision(evidence)
        return healthy.arn if healthy else None
    family = ecs_reads.family_revision(current)[0]
    return f"arn:{target.partition}:ecs:{target.region}:{target.account}:task-definition/{family}:{request.revision}"


def read_now(ctx: AwsContext, target: ServiceTarget, request: ChangeRequest, revision: str | None) -> Now:
    """Read what the request depends on. ClientError/BotoCoreError of the service read propagate (the caller says
    it could not read); a revision that cannot be read is an answer (refused, with why)."""
    ecs = ctx.client("ecs")
    found = ecs_reads.describe_service(ecs, target.cluster_arn, target.service_arn).get("services") or []
    now = Now(service=found[0] if found else {})
    if revision:
        try:
            now.task_definitions[revision] = ecs_reads.describe_task_definition(ecs, revision)
        except (ClientError, BotoCoreError) as exc:
            now.unreadable = f"{ecs_reads.short_name(revision)} cannot be read ({_error(exc)})"
    if request.kind == "stop-task":
        for page in ecs_reads.task_arn_pages(ecs, target.cluster_arn, target.service, "RUNNING",
                                             _RUNNING_CAP):
            now.running += ecs_reads.describe_tasks(ecs, target.cluster_arn, page)
    return now


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Message") or exc.response.get("Error", {}).get("Code") or str(exc)
    return str(exc)


def answer(request: ChangeRequest, result: TriageResult, evidence: dict[str, Any], incident_id: str, now: Now,
           alternatives: list[Plan], tone: str = "technical") -> Answer:
    """The plan for exactly `request`, or the refusal (with the nearest allowed step and an alternative)."""
    fresh = {**evidence, "service": now.service or evidence.get("service") or {},
             "task_definitions": {**(evidence.get("task_definitions") or {}), **now.task_definitions}}
    builder = PlanBuilder(result, fresh, incident_id, tone)
    ask = _Asked(request, result.target, builder, fresh, now, alternatives)
    return {"scale": ask.scale, "revision": ask.revision, "restart": ask.restart, "stop-task": ask.stop_task,
            "delete": ask.delete, "task-definition": ask.task_definition}[request.kind]()


class _Asked:
    """One request against one service: each kind's answer."""

    def __init__(self, request: ChangeRequest, target: ServiceTarget, builder: PlanBuilder, evidence: dict[str, Any],
                 now: Now, alternatives: list[Plan]):
        self.request, self.target, self.builder, self.now = request, target, builder, now
        self.evidence, self.alternatives = evidence, alternatives
        self.name = f"{target.cluster}/{target.service}"
        self.cli = (f"aws ecs {{}} --region {target.region} --cluster {target.cluster}")
        self.current = ecs_reads.short_name(builder.current) if builder.current else "its current revision"

    # ---- the checks: the guard's own --------------------------------------------------------------------------
    def _checked(self, plan: Plan, task: dict[str, Any] | None = None,
                 task_definition: dict[str, Any] | None = None) -> str | None:
        """None when the write policy allows the plan's step against what ECS shows now, else the reason."""
        try:
            check_shape(self.target, plan.steps[0])
            check_change(self.target, plan.steps[0], self.now.service, task, task_definition)
        except Refused as exc:
            return str(exc)
        return None

    def _refused(self, what: str, reason: str, nearest: str | None = None, command: str | None = None) -> Answer:
        lines = [f"You asked me to {what} (account {self.target.account}, {self.target.region}). I won't: {reason}."]
        if nearest:
            lines.append(nearest)
        if command:
            lines.append(f"To do it yourself: `{command}`")
        lines += self._alternative()
        return Answer(text="\n".join(lines))

    def _alternative(self) -> list[str]:
        plan = next((p for p in self.alternatives if p.requires_write), None)
        if plan is None:
            return []
        return [f'Instead, the diagnosis suggests: {plan.title} (risk {plan.risk}). Say "fix it" and I will ask for '
                f"your approval of that."]

    # ---- the kinds ------------------------------------------------------------------------------------------
    def scale(self) -> Answer:
        observed = self.builder.desired
        wanted = self.request.count if self.request.count is not None else observed + (self.request.delta or 0)
        what = f"scale {self.name} to {wanted} task{'s' if wanted != 1 else ''}"
        if wanted == observed:
            return Answer(text=f"{self.name} already runs with desiredCount {observed}: there is nothing to change.")
        plan = self.builder.scale_to(wanted)
        reason = self._checked(plan)
        if reason is None:
            return Answer(plan=plan)
        command = self.cli.format("update-service") + f" --service {self.target.service} --desired-count {wanted}"
        step = observed + (1 if wanted > observed else -1)
        if step < 1:
            return self._refused(what, reason, f"{self.name} runs {observed} task: there is no smaller step I may "
                                               "take.", command)
        again = "and again once it is steady" if abs(wanted - observed) > 1 else "in one step"
        nearest = (f"I can scale {observed} → {step} now, {again}: say \"scale {self.name} to {step}\" and I will ask "
                   f"for your approval.")
        return self._refused(what, reason, nearest, command)

    def revision(self) -> Answer:
        healthy = last_healthy_revision(self.evidence)
        if not self.now.task_definitions and not self.now.unreadable:  # no revision named, none ran healthy
            return self._refused(f"roll {self.name} back", f"there is no earlier revision of {self.current} known "
                                 "to have run healthy, so I have nothing to roll back to",
                                 command=self.cli.format("update-service")
                                 + f" --service {self.target.service} --task-definition <family:revision>")
        wanted = (f"{self.current.rpartition(':')[0]}:{self.request.revision}" if self.request.revision is not None
                  else ecs_reads.short_name(healthy.arn if healthy else ""))
        what = f"move {self.name} to {wanted}" if self.request.revision is not None else f"roll {self.name} back"
        if wanted == self.current:
            return Answer(text=f"{self.name} already runs {wanted}: there is nothing to change.")
        nearest = (f"The last revision known to have run healthy is {ecs_reads.short_name(healthy.arn)}: say \"roll "
                   f"back to {ecs_reads.family_revision(healthy.arn)[1]}\" and I will ask for your approval."
                   if healthy and ecs_reads.short_name(healthy.arn) != wanted else None)
        if self.now.unreadable:
            return self._refused(what, self.now.unreadable, nearest)
        [(arn, td)] = self.now.task_definitions.items()
        confirmed = healthy is not None and ecs_reads.short_name(healthy.arn) == wanted
        plan = self.builder.rollback_to(HealthyRevision(
            arn, healthy.source if confirmed and healthy else "the revision you named (not known to have run healthy)",
            confirmed))
        reason = self._checked(plan, task_definition=td)
        return Answer(plan=plan) if reason is None else self._refused(what, reason, nearest)

    def restart(self) -> Answer:
        return self._refused(
            f"restart {self.name}",
            "restarting every task is a forced new deployment, which is not on my write allow-list (UpdateService "
            "may change only desiredCount by ±1 or the task definition revision)",
            f"I can restart one task at a time (StopTask; ECS starts a replacement): say \"restart one task of "
            f"{self.name}\" and I will ask for your approval.",
            self.cli.format("update-service") + f" --service {self.target.service} --force-new-deployment")

    def stop_task(self) -> Answer:
        what = f"restart a task of {self.name}"
        ours = [t for t in self.now.running if t.get("group") == f"service:{self.target.service}"]
        if self.request.task:
            ours = [t for t in ours if ecs_reads.short_name(t.get("taskArn") or "").startswith(self.request.task)]
        if not ours:
            named = f"task {self.request.task}" if self.request.task else "a running task"
            return self._refused(what, f"{named} of {self.name} is not running now, so there is nothing to restart")
        deployments = {d.get("id") for d in self.now.service.get("deployments") or []}
        # the oldest task the service's own deployment started (any other is refused by the guard, with its reason)
        task = sorted(ours, key=lambda t: (t.get("startedBy") not in deployments,
                                           str(t.get("startedAt") or t.get("createdAt") or "")))[0]
        plan = self.builder.stop_task(task["taskArn"])
        reason = self._checked(plan, task=task)
        return Answer(plan=plan) if reason is None else self._refused(what, reason)

    def delete(self) -> Answer:
        if self.request.what == "cluster":
            return self._refused(f"delete cluster {self.target.cluster}", "deleting a cluster is not something I do",
                                 command=f"aws ecs delete-cluster --region {self.target.region} --cluster "
                                         f"{self.target.cluster}")
        return self._refused(f"delete {self.name}", "deleting a service is not something I do",
                             command=self.cli.format("delete-service") + f" --service {self.target.service}")

    def task_definition(self) -> Answer:
        setting = self.request.setting or "the task definition"
        return self._refused(
            f"change {setting} of {self.name}",
            f"changing a task definition ({setting}) is not something I do: a person registers a new revision",
            f"Once the new revision of {self.current} is registered, I can deploy it: say \"deploy "
            f"{self.current.rpartition(':')[0] or self.target.service}:<revision>\" and I will ask for your approval.",
            f"aws ecs describe-task-definition --region {self.target.region} --task-definition {self.current} "
            "--query taskDefinition > td.json  # edit, then: aws ecs register-task-definition --cli-input-json "
            "file://td.json")


def respond(state: dict[str, Any], aws: Callable[[], AwsContext]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state update, turn changes) for the thread's change request: its plan and the approval route, or the
    diagnosis' options kept for later and the refusal as the reply."""
    request = ChangeRequest.from_dict(state["context"]["request"])
    result = TriageResult.model_validate(state["findings"])
    evidence = state.get("evidence") or {}
    prefs = state.get("preferences") or {}
    alternatives, _ = plan_preferences.options(result, evidence, state["incident_id"], prefs)
    now = read_now(aws(), result.target, request, wanted_revision(request, result.target, evidence))
    found = answer(request, result, evidence, state["incident_id"], now, alternatives, str(prefs.get("tone") or
                                                                                        "technical"))
    if found.plan is not None:
        return {"plans": [found.plan.model_dump(mode="json")], "chosen_plan": 0}, {"route": "approval"}
    return ({"plans": [p.model_dump(mode="json") for p in alternatives], "chosen_plan": None},
            {"route": "reply", "reply_text": found.text})
