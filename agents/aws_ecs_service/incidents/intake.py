"""EventBridge event -> incident request (the exact service, the trigger), or a reason to drop it.

Pure functions over the parser models plus a small in-memory de-duplicator; opening or joining the
service's incident and starting its execution is `starter.py`. Nothing here imports LangChain:
intake must start fast.

The service is the event's own account and region with the cluster and service it names (the ARN
when the event carries one). Each trigger gets a signature, the kind of failure it reports, so a
repeat of the same failure can be told from a new one. Alarms that Application Auto Scaling
manages (target tracking, or an alarm whose only actions are scaling policies) are scaling signals,
not incidents: they are dropped.

Events are untrusted input: whatever their shape, `normalise` answers (a request or a reason
to drop), never raises. Summaries and drop reasons are redacted and cut, because they end up in
logs, the execution input and the incident's reports.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from ..diagnosis.redaction import redact_text
from ..domain.incident import Trigger
from ..domain.target import ServiceTarget, TargetError, cluster_arn, parse_ecs_arn
from . import events as ev

# Stop codes that are not failures (§3/§4.5); ServiceSchedulerInitiated counts only for health-check replacements.
_BENIGN_STOP_CODES = {"UserInitiated"}
_SCALING_PREFIX = "Scaling activity initiated by"
_HEALTH_WORDS = ("health check", "health checks")
_ACT_ON_EVENT_TYPES = {"WARN", "ERROR"}
_ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")  # what ECS allows in cluster and service names
TEXT_LIMIT = 500


class IncidentRequest(BaseModel):
    target: ServiceTarget
    trigger: Trigger

    @property
    def cluster(self) -> str:
        return self.target.cluster

    @property
    def service(self) -> str:
        return self.target.service


class Dropped(BaseModel):
    reason: str
    detail_type: str | None = None
    event_id: str | None = None


def _arn_resource(arn: str) -> tuple[str, list[str]] | None:
    """("service", ["prod", "api"]) for arn:aws:ecs:r:a:service/prod/api; None when not an ARN."""
    parts = (arn or "").split(":", 5)
    if len(parts) < 6 or not parts[5]:
        return None
    kind, _, rest = parts[5].partition("/")
    return kind, [p for p in rest.split("/") if p]


def cluster_from_arn(arn: str | None) -> str | None:
    found = _arn_resource(arn or "")
    return found[1][0] if found and found[0] == "cluster" and found[1] else None


def service_from_arn(arn: str) -> tuple[str | None, str | None]:
    """(cluster, service) from a service ARN: new format service/<cluster>/<service>, legacy service/<service>."""
    found = _arn_resource(arn)
    if not found or found[0] != "service" or not found[1]:
        return None, None
    names = found[1]
    return (names[0], names[1]) if len(names) >= 2 else (None, names[0])


def task_cluster_from_arn(arn: str) -> str | None:
    """New task ARNs are task/<cluster>/<id>; legacy ones (task/<id>) carry no cluster."""
    found = _arn_resource(arn)
    return found[1][0] if found and found[0] == "task" and len(found[1]) >= 2 else None


class Normaliser:
    """Turns raw events into incident requests. `allowed_clusters` empty means every cluster."""

    def __init__(self, allowed_clusters: list[str] | None = None, dedupe_capacity: int = 10_000,
                 alarm_actions: Callable[[str, str, str], list[str] | None] | None = None):
        """`alarm_actions(account, region, alarm name)`: the alarm's actions (DescribeAlarms), None when unknown."""
        self.allowed = {c for c in (allowed_clusters or []) if c}
        self.alarm_actions = alarm_actions
        self._seen_tasks: OrderedDict[tuple[str, int | None], None] = OrderedDict()
        self._capacity = dedupe_capacity

    def normalise(self, raw: Any) -> IncidentRequest | Dropped:
        if not isinstance(raw, dict):
            return Dropped(reason="not a JSON object")
        detail_type, event_id = raw.get("detail-type"), _text(raw.get("id"))
        model = ev.MODELS.get(detail_type) if isinstance(detail_type, str) else None
        if model is None:
            return _dropped("not an incident event kind", _text(detail_type), event_id)
        try:
            event = model.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
            return _dropped(f"unparseable {detail_type} event ({fields})", detail_type, event_id)
        handler = {
            ev.DEPLOYMENT: self._deployment, ev.SERVICE_ACTION: self._service_action,
            ev.TASK: self._task, ev.ALARM: self._alarm,
        }[detail_type]
        return handler(event)

    # -- the four kinds -----------------------------------------------------------------------------
    def _deployment(self, event: ev.DeploymentEvent) -> IncidentRequest | Dropped:
        d = event.detail
        if d.event_name != "SERVICE_DEPLOYMENT_FAILED":
            return self._drop(event, f"deployment event {d.event_name} is not a failure")
        # No clusterArn in deployment events: the service ARN in resources[0] names both.
        cluster, service = service_from_arn(event.resources[0] if event.resources else "")
        cluster = cluster or self._only_cluster()
        if not (cluster and service):
            return self._drop(event, "deployment event without a service ARN that names the cluster "
                                     f"({event.resources[:1]}); legacy ARNs need exactly one ALLOWED_CLUSTERS entry")
        summary = f"{d.event_name} ({d.deployment_id or '?'}): {d.reason or 'no reason given'}"
        return self._request(event, cluster, service, "deployment-failed", summary, signature="deployment-failed",
                             service_arn=event.resources[0])  # the service came from it: it is there

    def _service_action(self, event: ev.ServiceActionEvent) -> IncidentRequest | Dropped:
        d = event.detail
        if d.event_type not in _ACT_ON_EVENT_TYPES:
            return self._drop(event, f"service action {d.event_type} {d.event_name} is informational")
        arn_cluster, service = service_from_arn(event.resources[0] if event.resources else "")
        cluster = cluster_from_arn(d.cluster_arn) or arn_cluster
        if not (cluster and service):
            return self._drop(event, f"service action without a service/cluster ({event.resources[:1]})")
        summary = f"{d.event_type} {d.event_name}" + (f": {d.reason}" if d.reason else "")
        return self._request(event, cluster, service, "service-action", summary, signature=f"service:{d.event_name}",
                             service_arn=event.resources[0])  # the service came from it: it is there

    def _task(self, event: ev.TaskStateEvent) -> IncidentRequest | Dropped:
        d = event.detail
        stopped = d.last_status == "STOPPED" or (d.desired_status == "STOPPED" and bool(d.stop_code))
        if not stopped:
            return self._drop(event, f"task {d.last_status}/{d.desired_status} has not stopped")
        if not (d.group or "").startswith("service:"):
            return self._drop(event, f"task of group {d.group!r} belongs to no service")
        why_benign = self._benign_stop(d)
        if why_benign:
            return self._drop(event, why_benign)
        key = (d.task_arn, d.version)
        if key in self._seen_tasks:
            return self._drop(event, f"duplicate task event {d.task_arn} version {d.version}")
        self._remember(key)
        cluster = cluster_from_arn(d.cluster_arn) or task_cluster_from_arn(d.task_arn) or self._only_cluster()
        if not cluster:
            return self._drop(event, "task event without a cluster")
        service = (d.group or "").removeprefix("service:")
        reasons = [c.reason for c in d.containers if c.reason]
        summary = f"task {d.task_arn.rsplit('/', 1)[-1]} stopped ({d.stop_code}): {d.stopped_reason or '?'}" + (
            f"; {reasons[0]}" if reasons else "")
        return self._request(event, cluster, service, "task-stopped", summary,
                             signature=f"task-stopped:{d.stop_code or 'unknown'}")

    def _alarm(self, event: ev.AlarmEvent) -> IncidentRequest | Dropped:
        d = event.detail
        if d.state.value != "ALARM":
            return self._drop(event, f"alarm {d.alarm_name} went to {d.state.value}, not ALARM")
        scaling = scaling_alarm(d, self.alarm_actions, event.account, event.region)
        if scaling:
            return self._drop(event, f"alarm {d.alarm_name} is a scaling signal, not an incident: {scaling}")
        found = alarm_target(d)
        if not found:
            kind = "composite alarm" if d.configuration.alarm_rule else "alarm"
            children = [a.get("arn", "?") for a in d.state.reason_data.get("triggeringAlarms") or []]
            return self._drop(event, f"{kind} {d.alarm_name} does not point at an ECS service (no ClusterName + "
                                     "ServiceName dimensions or tags)" + (f"; child alarms {children}" if children else ""))
        cluster, service = found
        summary = f"alarm {d.alarm_name} in ALARM: {d.state.reason or ''}".strip()
        return self._request(event, cluster, service, "alarm", summary, alarm_name=d.alarm_name,
                             signature=f"alarm:{d.alarm_name}")

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _benign_stop(d: ev.TaskDetail) -> str | None:
        reason = d.stopped_reason or ""
        if d.stop_code in _BENIGN_STOP_CODES:
            return f"task stopped by a user ({d.stop_code})"
        if reason.startswith(_SCALING_PREFIX):
            return "task stopped by scaling"
        if d.stop_code == "ServiceSchedulerInitiated" and not any(w in reason.lower() for w in _HEALTH_WORDS):
            return f"task replaced by the scheduler: {reason or 'no reason'}"
        return None

    def _remember(self, key: tuple[str, int | None]) -> None:
        self._seen_tasks[key] = None
        while len(self._seen_tasks) > self._capacity:
            self._seen_tasks.popitem(last=False)

    def _only_cluster(self) -> str | None:
        return next(iter(self.allowed)) if len(self.allowed) == 1 else None

    def _request(self, event: Any, cluster: str, service: str, kind: str, summary: str, signature: str,
                 alarm_name: str | None = None, service_arn: str | None = None) -> IncidentRequest | Dropped:
        """The exact service: the event's own service ARN when it names the cluster (its account and region are
        authoritative), else the names in the event's account and region."""
        invalid = [f"{what} {name[:80]!r}" for what, name in (("cluster", cluster), ("service", service))
                   if not _ECS_NAME.fullmatch(name)]
        if invalid:
            return self._drop(event, f"{' and '.join(invalid)}: not a valid ECS name")
        if self.allowed and cluster not in self.allowed:
            return self._drop(event, f"cluster {cluster} is not in ALLOWED_CLUSTERS")
        try:
            target = ServiceTarget.from_names(event.account, event.region, cluster, service,
                                              partition=_partition(event.resources))
            found = parse_ecs_arn(service_arn or "")
            if found and found["kind"] == "service" and found["names"] == [cluster, service]:
                target = ServiceTarget.from_arns(cluster_arn(found["partition"], found["region"], found["account"],
                                                             cluster), str(service_arn))
        except TargetError as exc:
            return self._drop(event, f"not a service identity: {exc}")
        at: dt.datetime = event.time
        trigger = Trigger(kind=kind, summary=_clean(summary), event_id=event.id, at=at.isoformat(),
                          alarm_name=alarm_name, signature=signature[:200])
        return IncidentRequest(target=target, trigger=trigger)

    @staticmethod
    def _drop(event: Any, reason: str) -> Dropped:
        return _dropped(reason, event.detail_type, event.id)


def _text(value: Any) -> str | None:
    """A string field of a raw event as text (cut), or None when it is missing or not a string."""
    return value[:TEXT_LIMIT] if isinstance(value, str) else None


def _clean(text: str) -> str:
    return redact_text(text[:4 * TEXT_LIMIT])[:TEXT_LIMIT]


def _dropped(reason: str, detail_type: str | None, event_id: str | None) -> Dropped:
    return Dropped(reason=_clean(reason), detail_type=detail_type, event_id=event_id and event_id[:TEXT_LIMIT])


def alarm_target(detail: ev.AlarmDetail) -> tuple[str, str] | None:
    """(cluster, service) from any metric row's dimensions (metric math included), else from alarm tags."""
    for row in detail.configuration.metrics:
        dims = row.metric_stat.metric.dimensions if row.metric_stat else {}
        if dims.get("ClusterName") and dims.get("ServiceName"):
            return dims["ClusterName"], dims["ServiceName"]
    tags = detail.alarm_tags
    if tags.get("ClusterName") and tags.get("ServiceName"):
        return tags["ClusterName"], tags["ServiceName"]
    return None


_SCALING_POLICY = re.compile(r"^arn:aws[a-z-]*:autoscaling:[^:]*:\d{12}:scalingPolicy:")
_MANAGED_DESCRIPTION = re.compile(r"DO NOT EDIT OR DELETE\. For (?:TargetTracking|StepScaling|Predictive)", re.I)


def scaling_alarm(detail: ev.AlarmDetail, actions: Callable[[str, str, str], list[str] | None] | None,
                  account: str, region: str) -> str | None:
    """Why an alarm is Application Auto Scaling's (None: it is not, as far as can be told)."""
    if detail.alarm_name.startswith("TargetTracking-"):
        return "Application Auto Scaling's target tracking alarm"
    if _MANAGED_DESCRIPTION.search(detail.configuration.description or ""):
        return "an alarm Application Auto Scaling created and manages"
    found = actions(account, region, detail.alarm_name) if actions else None
    if found and all(_SCALING_POLICY.match(a) for a in found):
        return "its only actions are Application Auto Scaling policies (step scaling)"
    return None


def _partition(resources: list[str]) -> str:
    """The partition of the event's resources (aws, aws-cn, aws-us-gov)."""
    for arn in resources or []:
        parts = str(arn).split(":", 2)
        if len(parts) == 3 and parts[0] == "arn" and parts[1].startswith("aws"):
            return parts[1]
    return "aws"
