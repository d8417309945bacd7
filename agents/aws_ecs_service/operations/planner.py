"""Repair plans from a triage result: what the agent may change, and what a person must do.

    plans = build_plans(result, evidence, incident_id, preferences={"risk": "low"})
    plans[0]  # the recommended option

Plans are built from the root-cause category, the suggested action kinds (the classifier
judges whether a deployment brought the cause) and the evidence's structure (service counts,
deployments, task definitions), never from log or event text and never from a suggestion's
parameters: the only changes a plan can hold are a rollback to the
last revision that ran healthy and desiredCount +1 of the observed value. Everything else a
cause needs is a manual step (DESIGN.md write policy).
"""
from __future__ import annotations

import re
from typing import Any

from ..diagnosis import taskdef_diff, taxonomy
from ..diagnosis.evidence import parse_time
from ..diagnosis.result import TriageResult
from ..diagnosis.revisions import HealthyRevision, last_healthy_revision
from ..domain.plan import Plan, PlanStep

ROLLBACK_DURATION_S = 300  # new tasks start, pass health checks, old ones drain
SCALE_DURATION_S = 120  # one task starts and passes health checks
_RISK_RANK = {"low": 0, "medium": 1, "high": 2}
_SECRET_ARN = re.compile(r"arn:aws[\w-]*:(?:secretsmanager|ssm|kms):[\w-]+:\d{12}:[\w/:+=.,@-]+")


def build_plans(result: TriageResult, evidence: dict[str, Any], incident_id: str,
                preferences: dict[str, Any] | None = None) -> list[Plan]:
    """The repair options for one triage, recommended first (never empty)."""
    prefs = preferences or {}
    builder = PlanBuilder(result, evidence, incident_id, str(prefs.get("tone") or "technical"))
    if result.root_cause.category == "healthy" or result.status == "healthy":
        return [builder.no_action()]
    if not builder.svc:
        return [builder.manual("The service could not be read, so no change can be planned.")]
    plans = [p for p in (builder.rollback(), builder.scale_out()) if p is not None]
    if plans:
        plans.append(builder.manual("Keep the service as it is and let a person fix the cause.", option="fix-forward"))
    else:
        plans.append(builder.manual("Nothing the agent is allowed to change fixes this cause."))
    return order_plans(plans, prefs)


def order_plans(plans: list[Plan], preferences: dict[str, Any]) -> list[Plan]:
    """Plans that change something first (the order they were made in, which puts fixing the cause
    before relieving it), reordered by risk appetite or a deadline; manual plans stay last."""
    writes = [p for p in plans if p.steps]
    manual = [p for p in plans if not p.steps]
    deadline = parse_duration(preferences.get("deadline"))
    risk = str(preferences.get("risk") or "").lower()
    if deadline is not None or risk == "high":
        writes.sort(key=lambda p: p.expected_duration_s)  # stable: ties keep the default order
    elif risk == "low":
        writes.sort(key=lambda p: _RISK_RANK[p.risk])
    if deadline is not None:
        for plan in writes:
            if plan.expected_duration_s > deadline:
                plan.summary += f" It takes longer (~{plan.expected_duration_s // 60} min) than the deadline allows."
    return writes + manual


def parse_duration(value: Any) -> int | None:
    """"15m", "30 min", "2h", "90s", 600 -> seconds; anything else -> None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    m = re.fullmatch(r"\s*(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*", str(value or ""))
    if not m:
        return None
    unit = (m.group(2) or "m")[0]
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[unit]


def _short(arn: Any) -> str:
    return taskdef_diff.short_name(str(arn or ""))


def _revision(arn: Any) -> int:
    tail = _short(arn).rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


class PlanBuilder:
    """Makes the plans of one triage; holds what every plan reads from the evidence. The diagnosis' options and a
    person's explicit request (conversation/requested_changes.py) are built by the same methods."""

    def __init__(self, result: TriageResult, evidence: dict[str, Any], incident_id: str, tone: str):
        self.result, self.evidence, self.incident_id = result, evidence, incident_id
        self.business = tone == "business"
        self.cause = result.root_cause.category
        self.plan = taxonomy.plan_kind(self.cause)  # what the cause's record says a plan can do
        self.kinds = {a.action for a in result.suggested_actions}
        self.target = result.target
        self.svc = evidence.get("service") or {}
        self.cluster, self.service = self.target.cluster, self.target.service
        self.current = self.svc.get("taskDefinition") or evidence.get("current_task_definition") or ""
        self.desired = int(self.svc.get("desiredCount") or 0)
        self.alarms = [a.get("AlarmName") for a in evidence.get("alarms") or []
                       if a.get("StateValue") == "ALARM" and a.get("AlarmName")]

    def _plan(self, **fields: Any) -> Plan:
        return Plan(incident_id=self.incident_id, target=self.target, root_cause=self.cause,
                    rationale=self.result.root_cause.summary, **fields)

    def _criteria(self, running: str) -> list[str]:
        criteria = [running, f"no new stopped tasks of category {self.cause} after the change"]
        criteria += [f"alarm {name} back to OK" for name in self.alarms]
        return criteria

    def _taskdef(self, arn: str) -> dict[str, Any]:
        return (self.evidence.get("task_definitions") or {}).get(arn) or {}

    # ---- the options -----------------------------------------------------------------------------
    def no_action(self) -> Plan:
        return self._plan(option="no-action", title="No change needed",
                          summary=f"{self.service} is healthy: nothing to repair.", risk="low")

    def manual(self, summary: str, option: str = "manual") -> Plan:
        return self._plan(option=option, title="Manual fix (the agent changes nothing)", summary=summary,
                          manual_steps=self.manual_steps(), risk="low")

    def rollback(self) -> Plan | None:
        # The classifier judges whether a deployment introduced the cause (its "rollback" suggestion);
        # without suggestions, a cause a revision can bring is enough.
        wanted = "rollback" in self.kinds or (not self.kinds and self.plan == "rollback") or (
            self.plan == "scale-out" and self._recent_deployment())
        healthy = last_healthy_revision(self.evidence) if wanted and self.current else None
        return self.rollback_to(healthy) if healthy is not None else None

    def rollback_to(self, healthy: HealthyRevision) -> Plan:
        """UpdateService to another revision of the family: the last one that ran healthy, or the one a person
        named (its health unknown unless `confirmed`)."""
        now, then = _short(self.current), _short(healthy.arn)
        params = {"cluster": self.target.cluster_arn, "service": self.target.service_arn, "taskDefinition": healthy.arn}
        step = PlanStep(
            number=1, action="update_service_task_definition",
            api_call=f"ecs:UpdateService(cluster={self.cluster}, service={self.service}, taskDefinition={then})",
            params=params, expected_before={"taskDefinition": self.current},
            description=f"Roll {self.service} back from {now} to {then}",
            success_criteria=[f"the PRIMARY deployment runs {then} and is COMPLETED (or a steady-state event after "
                              "the change)", f"runningCount == desiredCount ({self.desired})"],
            undo=f"ecs:UpdateService(cluster={self.cluster}, service={self.service}, taskDefinition={now}): back to "
                 "the revision observed before",
        )
        # what the rollback itself changes, read from the running revision to the target one
        reverted = taskdef_diff.diff_task_definitions(self._taskdef(self.current), self._taskdef(healthy.arn))
        cost = ("; ".join(c.describe() for c in reverted[:4]) if reverted else f"everything {now} changed")
        if self.business:
            summary = (f"Return {self.service} to the version that last ran without problems ({then}). What {now} "
                       f"changed is withdrawn until it is fixed.")
        else:
            summary = (f"UpdateService {self.cluster}/{self.service} taskDefinition {now} -> {then}, the last revision "
                       f"that ran healthy ({healthy.source}). Cost: reverts {cost}.")
        forward = _revision(healthy.arn) > _revision(self.current)
        title = f"{'Move' if forward else 'Roll back'} {self.service} {'forward ' if forward else ''}to {then}"
        return self._plan(option="rollback", title=title, summary=summary, steps=[step],
                          reverts=[c.describe() for c in reverted] or [f"everything {now} changed"],
                          risk="low" if healthy.confirmed else "medium", expected_duration_s=ROLLBACK_DURATION_S,
                          success_criteria=self._criteria(f"runningCount == desiredCount ({self.desired}) on {then}"),
                          manual_steps=self.manual_steps(then))

    def scale_out(self) -> Plan | None:
        from_zero = self.plan == "restore-capacity" and self.desired == 0
        if not (from_zero or (self.desired > 0 and (self.plan == "scale-out" or "scale" in self.kinds))):
            return None
        return self.scale_to(self.desired + 1)

    def scale_to(self, wanted: int) -> Plan:
        """desiredCount to `wanted` (the write policy allows ±1 of the observed count, never 0)."""
        from_zero = self.desired == 0
        step = PlanStep(
            number=1, action="update_service_desired_count",
            api_call=f"ecs:UpdateService(cluster={self.cluster}, service={self.service}, desiredCount={wanted})",
            params={"cluster": self.target.cluster_arn, "service": self.target.service_arn, "desiredCount": wanted},
            expected_before={"desiredCount": self.desired, "taskDefinition": self.current},
            description=f"Scale {self.service} from {self.desired} to {wanted} task(s)",
            success_criteria=[f"runningCount == desiredCount == {wanted}", "a steady-state event after the change"],
            undo=f"ecs:UpdateService(cluster={self.cluster}, service={self.service}, desiredCount={self.desired}): "
                 "back to the count observed before",
        )
        td = self._taskdef(self.current)
        size = f"{td.get('cpu', '?')} CPU units / {td.get('memory', '?')} MiB"
        removes: list[str] = []
        if from_zero:
            title = f"Restore {self.service} to 1 task"
            summary = (f"Start one task of {self.service} again ({_short(self.current)}, {size}). If the scale to 0 "
                       "was intended (maintenance, cost), this undoes it.")
        elif wanted > self.desired:
            title = f"Scale {self.service} out to {wanted} tasks"
            summary = (f"Add one task to {self.service} ({self.desired} -> {wanted}). Cost: one more "
                       f"{_short(self.current)} task ({size}) while it runs.")
        else:
            title = f"Scale {self.service} in to {wanted} task{'s' if wanted > 1 else ''}"
            summary = (f"Remove one task of {self.service} ({self.desired} -> {wanted}): ECS stops one running task; "
                       "the others take its load.")
            removes = [f"one of the {self.desired} tasks (desiredCount {self.desired} -> {wanted})"]
        if not self.business:
            summary = f"UpdateService {self.cluster}/{self.service} desiredCount {self.desired} -> {wanted}. " + summary
        option = "restore-capacity" if from_zero else "scale-out" if wanted > self.desired else "scale-in"
        return self._plan(option=option, title=title, summary=summary, steps=[step], reverts=removes,
                          risk="low" if option == "scale-out" else "medium", expected_duration_s=SCALE_DURATION_S,
                          success_criteria=self._criteria(f"runningCount == desiredCount == {wanted}"),
                          manual_steps=self.manual_steps())

    def stop_task(self, task_arn: str) -> Plan:
        """StopTask of one of the service's own tasks: ECS starts a replacement (a restart of one task)."""
        name = _short(task_arn)
        step = PlanStep(
            number=1, action="stop_task", api_call=f"ecs:StopTask(cluster={self.cluster}, task={name})",
            params={"cluster": self.target.cluster_arn, "task": task_arn,
                    "reason": "restarted by the ECS incident agent (approved in chat)"},
            expected_before={}, description=f"Stop task {name} of {self.service}; ECS starts a replacement",
            success_criteria=[f"a replacement task runs and runningCount == desiredCount ({self.desired})"],
            undo="nothing to undo: ECS replaces the stopped task from the service's current revision")
        return self._plan(option="stop-task", title=f"Restart one task of {self.service} ({name})",
                          summary=f"StopTask {name}: the service's scheduler starts a new task in its place.",
                          steps=[step], reverts=[f"task {name} (its in-flight requests fail; a replacement starts)"],
                          risk="low" if self.desired > 1 else "medium", expected_duration_s=SCALE_DURATION_S,
                          success_criteria=self._criteria(f"runningCount == desiredCount ({self.desired})"),
                          manual_steps=self.manual_steps())

    # ---- what a person must do ------------------------------------------------------------------
    def manual_steps(self, rolled_back_to: str | None = None) -> list[str]:
        td = self._taskdef(self.current)
        values = {
            "current": _short(self.current) or self.service,
            "memory_now": f"now {td['memory']} MiB" if td.get("memory") else "current value",
            "execution_role": td.get("executionRoleArn") or "(see the task definition)",
            "task_role": td.get("taskRoleArn") or "(see the task definition)",
            "secrets": self._secret_arns() or "the secrets the task definition references",
        }
        record = taxonomy.record(self.cause)
        steps = [text.format(**values) for text in (record.manual_steps if record else [])]
        if rolled_back_to:
            steps.append(f"After the rollback, {self.service} runs {rolled_back_to}: ship the fix as a new revision "
                         f"(the next deployment replaces {rolled_back_to}).")
        return steps

    def _secret_arns(self) -> str:
        """Secret ARNs named in stopped tasks' stoppedReason (an ECS field): text for a person, never a parameter."""
        found: list[str] = []
        for task in (self.evidence.get("tasks") or {}).get("stopped") or []:
            for arn in _SECRET_ARN.findall(task.get("stoppedReason") or ""):
                if arn not in found:
                    found.append(arn)
        return ", ".join(found[:3])

    def _recent_deployment(self) -> bool:
        """The PRIMARY deployment started inside the triage window (so it may be what changed)."""
        start = parse_time((self.evidence.get("window") or {}).get("start"))
        primary = next((d for d in self.svc.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
        created = parse_time(primary.get("createdAt"))
        return bool(start and created and created >= start)
