"""Evidence collection: the read-only AWS calls of one triage, run as a few concurrent rounds.

    evidence = collect(ctx, "prod", "api", since=timedelta(hours=2))

Round 1 needs only the names: DescribeServices (with tags), ListTasks RUNNING and STOPPED (each
page's DescribeTasks starts as soon as the page arrives), service deployments and the revisions
they name. Round 2 needs the service: its current and previous task definitions, on EC2 capacity
the container instances, with a load balancer its target groups' health, when a CloudFormation
stack owns it the stack's status, then utilisation metrics and alarms. Round 3 needs the tasks and
task definitions: the other revisions they ran, the log streams that tell the story (diagnosis/
read_targets.py), the ECR images of the deployed revisions and, when a network-looking cause is
in play, the tasks' network path. Every read is bounded (CollectLimits) and skipped when it does
not apply, so a triage stays around 10-20 calls.

A missing cluster/service, missing credentials, or a failed core read (services, tasks) raise
a diagnosis.errors exception with one readable line. Secondary reads (task definitions, logs,
metrics, alarms, deployments, container instances) that fail are recorded in
evidence["errors"] and the triage goes on without them; so do the task reads when AWS is only
struggling (still throttled, 5xx or unreachable after the adaptive retries): during someone
else's outage a partial triage that says what it could not read beats none.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from ..aws import cloudformation_reads, cloudwatch_reads, ec2_reads, ecr_reads, ecs_reads, elbv2_reads, logs_reads
from ..aws.session import AwsContext, is_transient
from .errors import AwsAccessError, ClusterNotFound, NoCredentials, ServiceNotFound, TriageError
from .evidence import empty_evidence, to_jsonable
from .read_targets import (
    awsvpc_configuration,
    ecr_images,
    log_targets,
    log_tasks,
    network_in_play,
    revision_arns,
    rolled_back_revisions,
)

DEFAULT_SINCE = dt.timedelta(hours=2)
_FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True)
class CollectLimits:
    """Caps that keep one triage's work bounded however large the service is."""

    running_tasks: int = 500
    stopped_tasks: int = 300
    extra_task_definitions: int = 2  # other revisions seen in stopped tasks, beyond current/previous
    log_tasks: int = 4  # newest failed tasks whose logs are read
    log_streams: int = 6
    log_lines: int = 50  # per stream
    line_chars: int = 2000
    service_deployments: int = 3
    container_instances: int = 100
    target_groups: int = 5
    ecr_repositories: int = 4
    workers: int = 16


def collect(ctx: AwsContext, cluster: str, service: str, since: dt.timedelta = DEFAULT_SINCE,
            now: dt.datetime | None = None, limits: CollectLimits | None = None) -> dict[str, Any]:
    """The evidence document (diagnosis/evidence.py) for one service over the last `since`."""
    limits = limits or CollectLimits()
    started, calls_before = time.perf_counter(), ctx.counter.calls
    end = now or dt.datetime.now(dt.UTC)
    end = end if end.tzinfo else end.replace(tzinfo=dt.UTC)
    evidence = empty_evidence(ctx.region, cluster, service, end - since, end)
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="ecs-evidence")
    finished = False
    try:
        _Collection(ctx, pool, cluster, service, end - since, end, limits).fill(evidence)
        finished = True
    finally:
        # On failure the answer is already known: don't wait for the rest of round 1.
        pool.shutdown(wait=finished, cancel_futures=not finished)
    evidence["stats"] = {"api_calls": ctx.counter.calls - calls_before,
                         "duration_ms": round((time.perf_counter() - started) * 1000)}
    return evidence


class _Collection:
    """One collection run: the pool, the target, and what could not be read."""

    def __init__(self, ctx: AwsContext, pool: ThreadPoolExecutor, cluster: str, service: str,
                 start: dt.datetime, end: dt.datetime, limits: CollectLimits):
        self.ctx, self.pool, self.limits = ctx, pool, limits
        self.cluster, self.service = cluster, service
        self.start, self.end = start, end
        self.errors: list[dict[str, str]] = []
        self._task_definitions: dict[str, Future] = {}

    def fill(self, evidence: dict[str, Any]) -> None:
        ecs = self.ecs = self.ctx.client("ecs")
        submit = self.pool.submit
        # round 1: the ECS reads that need only the names; the task lists lead the critical path
        stopped_f = submit(self._list_and_describe, "STOPPED", self.limits.stopped_tasks)
        running_f = submit(self._list_and_describe, "RUNNING", self.limits.running_tasks)
        service_f = submit(ecs_reads.describe_service, ecs, self.cluster, self.service)
        deployments_f = submit(self._secondary, "ecs:ListServiceDeployments", self._service_deployments)

        svc = self._service(service_f)
        stack = cloudformation_reads.stack_name(svc.get("tags"))
        # round 2: what the service points at, then the CloudWatch reads. They are not on the
        # critical path, and building their clients (CPU, under the GIL) would delay round 1.
        current = svc.get("taskDefinition")
        previous = _newest_other_deployment_revision(svc, current)
        revisions_f = None
        if current:
            self._task_definition(current)
            if previous:
                self._task_definition(previous)
            else:  # fallback, asked now so it does not cost a round later
                revisions_f = submit(self._secondary, "ecs:ListTaskDefinitions",
                                     ecs_reads.previous_active_revision, ecs, current)
        instances_f = None
        if _runs_on_container_instances(svc):
            instances_f = submit(self._secondary, "ecs:ListContainerInstances", ecs_reads.container_instances,
                                 ecs, self.cluster, self.limits.container_instances)
        target_groups = [lb["targetGroupArn"] for lb in svc.get("loadBalancers") or [] if lb.get("targetGroupArn")]
        balancers_f = submit(self._secondary, "elasticloadbalancing:DescribeTargetHealth", self._load_balancers,
                             list(dict.fromkeys(target_groups))[:self.limits.target_groups]) if target_groups else None
        stack_f = submit(self._secondary, "cloudformation:DescribeStacks", self._stack, stack) if stack else None
        metrics_f = submit(self._secondary, "cloudwatch:GetMetricData", self._metrics)
        alarms_f = submit(self._secondary, "cloudwatch:DescribeAlarms", self._alarms)
        for name in ("logs", "ecr"):  # ready before round 3 needs them
            submit(self.ctx.client, name)

        svc["events"] = [e for e in svc.get("events", []) if e.get("createdAt") and e["createdAt"] >= self.start]
        running = self._tasks(running_f)
        stopped_all = sorted(self._tasks(stopped_f), key=_stopped_time, reverse=True)
        stopped = [t for t in stopped_all if _stopped_time(t) >= self.start]
        # round 3: other revisions the stopped tasks ran, then the failing containers' logs
        if current and not previous:
            previous = _newest_other_task_revision(stopped_all, current)
            if previous is None and revisions_f is not None:
                previous = revisions_f.result()
            if previous:
                self._task_definition(previous)
        for arn in _other_revisions(stopped, {current, previous}, self.limits.extra_task_definitions):
            self._task_definition(arn)
        deployments = deployments_f.result() or ([], [])
        images_f = self._images(svc, current)
        network_f = None
        if awsvpc_configuration(svc).get("subnets") and network_in_play(stopped, svc.get("events", []),
                                                                         self._definitions_now()):
            network_f = submit(self._secondary, "ec2:DescribeSubnets", self._network, awsvpc_configuration(svc))
        rolled_back = rolled_back_revisions(*deployments)
        for arn in sorted(rolled_back):
            self._task_definition(arn)
        logs = self._logs(log_tasks(stopped, running, current, rolled_back, self.limits.log_tasks))

        task_definitions = {arn: f.result() for arn, f in self._task_definitions.items() if f.result()}
        evidence.update(
            service=to_jsonable(svc),
            task_definitions=to_jsonable({td["taskDefinitionArn"]: td for td in task_definitions.values()}),
            current_task_definition=current,
            previous_task_definition=task_definitions[previous]["taskDefinitionArn"] if previous in task_definitions
            else None,
            tasks={"running": to_jsonable(running), "stopped": to_jsonable(stopped)},
            service_deployments=to_jsonable(deployments[0]),
            service_revisions=to_jsonable(deployments[1]),
            logs=logs,
            load_balancers=to_jsonable(balancers_f.result() or {}) if balancers_f else {},
            images=(images_f.result() or []) if images_f else [],
            network=to_jsonable(network_f.result() or {}) if network_f else {},
            cloudformation={"stack": to_jsonable(stack_f.result())} if stack_f and stack_f.result() else {},
            metrics=to_jsonable(metrics_f.result() or {}),
            alarms=to_jsonable(self._alarms_for_service(alarms_f.result(), svc)),
            container_instances=to_jsonable(instances_f.result() or []) if instances_f else [],
            errors=sorted(self.errors, key=lambda e: (e["call"], e["code"], e["message"])),
        )

    # ---- core reads: failures end the triage -----------------------------------------------
    def _service(self, service_f: Future) -> dict[str, Any]:
        answer = self._core(service_f, "ecs:DescribeServices")
        services = answer.get("services") or []
        if not services or services[0].get("status") == "INACTIVE":
            raise ServiceNotFound(f"service {self.service!r} not found in cluster {self.cluster!r} "
                                  f"({self.ctx.region})")
        return services[0]

    def _list_and_describe(self, desired_status: str, cap: int) -> list[Future]:
        """ListTasks pages; each page's DescribeTasks is submitted as soon as it arrives."""
        return [self.pool.submit(ecs_reads.describe_tasks, self.ecs, self.cluster, arns)
                for arns in ecs_reads.task_arn_pages(self.ecs, self.cluster, self.service, desired_status, cap)]

    def _tasks(self, list_f: Future) -> list[dict[str, Any]]:
        batches = self._core(list_f, "ecs:ListTasks", partial=True) or []
        return [task for batch in batches for task in self._core(batch, "ecs:DescribeTasks", partial=True) or []]

    def _core(self, future: Future, call: str, partial: bool = False) -> Any:
        """The answer; a failure ends the triage, except a transient one where `partial` (recorded, None)."""
        try:
            return future.result()
        except (BotoCoreError, ClientError) as exc:
            if partial and is_transient(exc):
                self._record(exc, call)
                return None
            raise triage_error(exc, call, self.cluster, self.service, self.ctx.region) from exc

    # ---- secondary reads: failures are recorded, the triage goes on -------------------------
    def _secondary(self, call: str, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except (BotoCoreError, ClientError, NotImplementedError) as exc:  # the last: in-process emulators (moto)
            self._record(exc, call)
        return None

    def _record(self, exc: Exception, call: str) -> None:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            self.errors.append({"call": _call_name(exc, call), "code": str(error.get("Code", "")),
                                "message": (str(error.get("Message", "")) + _after_retries(exc))[:500]})
        else:
            self.errors.append({"call": call, "code": type(exc).__name__, "message": str(exc)[:500]})

    def _task_definition(self, arn: str) -> Future:
        if arn not in self._task_definitions:
            self._task_definitions[arn] = self.pool.submit(
                self._secondary, "ecs:DescribeTaskDefinition", ecs_reads.describe_task_definition, self.ecs, arn)
        return self._task_definitions[arn]

    def _metrics(self) -> dict[str, list]:
        return cloudwatch_reads.service_utilisation(self.ctx.client("cloudwatch"), ecs_reads.short_name(self.cluster),
                                                    ecs_reads.short_name(self.service), self.start, self.end)

    def _alarms(self) -> tuple[list, list]:
        return cloudwatch_reads.alarms_in_alarm(self.ctx.client("cloudwatch"))

    def _alarms_for_service(self, alarms: tuple[list, list] | None, svc: dict[str, Any]) -> list[dict[str, Any]]:
        if not alarms:
            return []
        deployment_alarms = ((svc.get("deploymentConfiguration") or {}).get("alarms") or {}).get("alarmNames") or []
        return cloudwatch_reads.alarms_for_service(*alarms, ecs_reads.short_name(self.cluster),
                                                   ecs_reads.short_name(self.service), set(deployment_alarms))

    def _service_deployments(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the newest service deployments, the service revisions they name)."""
        if not ecs_reads.supports_service_deployments(self.ecs):
            self.errors.append({"call": "ecs:ListServiceDeployments", "code": "UnsupportedOperation",
                                "message": "this botocore has no ListServiceDeployments"})
            return [], []
        deployments = ecs_reads.recent_service_deployments(self.ecs, self.cluster, self.service,
                                                           self.limits.service_deployments)
        arns = revision_arns(deployments)
        revisions = self._secondary("ecs:DescribeServiceRevisions", ecs_reads.describe_service_revisions,
                                    self.ecs, arns) if arns else None
        return deployments, revisions or []

    def _stack(self, name: str) -> dict[str, Any]:
        return cloudformation_reads.stack_status(self.ctx.client("cloudformation"), name)

    def _load_balancers(self, arns: list[str]) -> dict[str, Any]:
        """The target groups and each one's target health (the health reads run side by side)."""
        elbv2 = self.ctx.client("elbv2")
        health = {arn: self.pool.submit(self._secondary, "elasticloadbalancing:DescribeTargetHealth",
                                        elbv2_reads.target_health, elbv2, arn) for arn in arns}
        groups = self._secondary("elasticloadbalancing:DescribeTargetGroups", elbv2_reads.target_groups, elbv2, arns)
        return {"target_groups": groups or [],
                "target_health": {arn: f.result() for arn, f in health.items() if f.result() is not None}}

    def _images(self, svc: dict[str, Any], current: str | None) -> Future | None:
        """BatchGetImage per repository for the images of the revisions the service deploys."""
        revisions = {d.get("taskDefinition") for d in svc.get("deployments") or []} | {current}
        futures = [self._task_definitions[r] for r in revisions if r in self._task_definitions]
        wait(futures)
        definitions = {td["taskDefinitionArn"]: td for f in futures if (td := f.result())}
        repositories = list(ecr_images(definitions, self.ctx.region).items())[:self.limits.ecr_repositories]
        if not repositories:
            return None
        ecr = self.ctx.client("ecr")
        reads = [(images, self.pool.submit(self._image_answers, ecr, registry, repository, images))
                 for (registry, repository), images in repositories]
        return self.pool.submit(_image_entries, reads, definitions)

    def _image_answers(self, ecr, registry: str, repository: str, images: list) -> dict[str, Any] | None:
        try:
            return ecr_reads.images(ecr, registry, repository, [i.image_id for i in images])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
                return {"images": [], "failures": [{"imageId": i.image_id, "failureCode": "RepositoryNotFound"}
                                                   for i in images]}
            self._record(exc, "ecr:BatchGetImage")
        except (BotoCoreError, NotImplementedError) as exc:
            self._record(exc, "ecr:BatchGetImage")
        return None

    def _network(self, awsvpc: dict[str, Any]) -> dict[str, Any]:
        """Subnets and security groups side by side, then the VPC's routes, endpoints and DNS settings."""
        ec2 = self.ctx.client("ec2")
        groups_f = self.pool.submit(self._secondary, "ec2:DescribeSecurityGroups", ec2_reads.security_groups, ec2,
                                    awsvpc.get("securityGroups") or []) if awsvpc.get("securityGroups") else None
        subnets = ec2_reads.subnets(ec2, awsvpc["subnets"])
        vpcs = sorted({s["VpcId"] for s in subnets if s.get("VpcId")})
        per_vpc = [(self.pool.submit(self._secondary, "ec2:DescribeRouteTables", ec2_reads.route_tables, ec2, vpc),
                    self.pool.submit(self._secondary, "ec2:DescribeVpcEndpoints", ec2_reads.vpc_endpoints, ec2, vpc),
                    self.pool.submit(self._secondary, "ec2:DescribeVpcAttribute", ec2_reads.vpc_dns, ec2, vpc))
                   for vpc in vpcs]
        return {"assign_public_ip": awsvpc.get("assignPublicIp"), "subnets": subnets,
                "security_groups": (groups_f.result() if groups_f else None) or [],
                "route_tables": [t for tables, _, _ in per_vpc for t in tables.result() or []],
                "vpc_endpoints": [e for _, endpoints, _ in per_vpc for e in endpoints.result() or []],
                "vpcs": [dns.result() for _, _, dns in per_vpc if dns.result()]}

    def _definitions_now(self) -> dict[str, dict | None]:
        wait(self._task_definitions.values())
        return {arn: f.result() for arn, f in self._task_definitions.items()}

    def _logs(self, tasks: list[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
        """The tail of the chosen tasks' awslogs streams (read_targets.log_tasks), non-essential ones labelled."""
        wait([self._task_definition(t["taskDefinitionArn"]) for t, _ in tasks])
        definitions = {arn: f.result() for arn, f in self._task_definitions.items()}
        logs_client = self.ctx.client("logs")
        reads = []
        for task, container, group, stream, essential in log_targets(tasks, definitions, self.limits.log_streams):
            future = self.pool.submit(self._secondary, "logs:GetLogEvents", logs_reads.recent_log_events,
                                      logs_client, group, stream, self.start, self.end, self.limits.log_lines)
            reads.append(({"group": group, "stream": stream, "task_id": ecs_reads.short_name(task["taskArn"]),
                           "container": container, "essential": essential}, future))
        found = []
        for entry, future in reads:
            events = future.result()
            if not events:  # unreadable (recorded) or empty
                continue
            entry["events"] = [{"timestamp": to_jsonable(_from_epoch_ms(e["timestamp"])),
                                "message": e.get("message", "")[:self.limits.line_chars]} for e in events]
            found.append(entry)
        return found


def triage_error(exc: Exception, call: str, cluster: str, service: str, region: str) -> TriageError:
    """A botocore failure of a core read -> the one-line error the user sees."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return NoCredentials(f"no usable AWS credentials ({exc}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID "
                             "and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        return AwsAccessError(f"cannot reach AWS for {call}: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code == "ClusterNotFoundException":
            return ClusterNotFound(f"cluster {cluster!r} not found in {region}")
        if code == "ServiceNotFoundException":
            return ServiceNotFound(f"service {service!r} not found in cluster {cluster!r} ({region})")
        return AwsAccessError(f"{_call_name(exc, call)} failed{_after_retries(exc)}: {code}: {message}")
    return AwsAccessError(f"{call} failed: {exc}")


def _after_retries(exc: ClientError) -> str:
    retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return f" (after {retries} retries)" if retries else ""


def _call_name(exc: ClientError, fallback: str) -> str:
    service = fallback.split(":", 1)[0]
    return f"{service}:{exc.operation_name}" if exc.operation_name else fallback


def _stopped_time(task: dict[str, Any]) -> dt.datetime:
    """When the task stopped; a task still stopping counts as now."""
    moment = task.get("stoppedAt") or task.get("executionStoppedAt") or task.get("stoppingAt")
    return moment or dt.datetime.max.replace(tzinfo=dt.UTC)


def _newest_other_deployment_revision(svc: dict[str, Any], current: str | None) -> str | None:
    others = [d for d in svc.get("deployments", []) if d.get("taskDefinition") and d["taskDefinition"] != current]
    others.sort(key=lambda d: d.get("createdAt") or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    return others[0]["taskDefinition"] if others else None


def _newest_other_task_revision(stopped_newest_first: list[dict[str, Any]], current: str) -> str | None:
    return next((t["taskDefinitionArn"] for t in stopped_newest_first if t.get("taskDefinitionArn") != current), None)


def _other_revisions(stopped_newest_first: list[dict[str, Any]], known: set[str | None], cap: int) -> list[str]:
    found: list[str] = []
    for task in stopped_newest_first:
        arn = task.get("taskDefinitionArn")
        if arn and arn not in known and arn not in found:
            found.append(arn)
    return found[:cap]


def _runs_on_container_instances(svc: dict[str, Any]) -> bool:
    """EC2/EXTERNAL launch type, or a capacity provider strategy that is not only Fargate."""
    if svc.get("launchType") in ("EC2", "EXTERNAL"):
        return True
    strategy = svc.get("capacityProviderStrategy") or []
    return any(item.get("capacityProvider") not in _FARGATE_PROVIDERS for item in strategy)


def _image_entries(reads: list[tuple[list, Future]], definitions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per ECR image: what ECR said of it and which of the revisions run it."""
    entries = []
    for images, future in reads:
        answer = future.result()
        if answer is None:
            continue
        found = {key: i for i in answer["images"] for key in (i.get("imageId") or {}).values()}
        failed = {key: f.get("failureCode") for f in answer["failures"] for key in (f.get("imageId") or {}).values()}
        for image in images:
            key = next(iter(image.image_id.values()))
            entry = {"image": image.uri, "registryId": image.registry, "repository": image.repository,
                     "imageId": image.image_id,
                     "revisions": sorted(arn for arn, td in definitions.items()
                                         if any(c.get("image") == image.uri for c in td.get("containerDefinitions", [])))}
            if key in found:
                entry.update(status="found", mediaType=found[key].get("imageManifestMediaType"),
                             platforms=found[key].get("platforms"))
            else:
                entry["status"] = failed.get(key) or "ImageNotFound"
            entries.append(entry)
    return entries


def _from_epoch_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
