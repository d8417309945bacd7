"""Hand-built evidence documents (schema ecs-evidence/v1) for classifier tests.

Times are minutes before a fixed NOW, so documents are deterministic. Shapes follow
diagnosis/evidence.py: DescribeServices / DescribeTasks / DescribeTaskDefinition items
with ISO-string times, logs as {group, stream, task_id, container, events}.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
from typing import Any

NOW = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"


def ago(minutes: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes)).isoformat()


class EvidenceBuilder:
    def __init__(self, service: str = "api", cluster: str = "prod", desired: int = 2, running: int | None = None,
                 window_hours: float = 2.0, launch_type: str = "FARGATE"):
        self.service, self.cluster = service, cluster
        self.desired = desired
        self.running = desired if running is None else running
        self.window = dt.timedelta(hours=window_hours)
        self.launch_type = launch_type
        self.taskdefs: dict[int, dict[str, Any]] = {}
        self.deployments: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.stopped_tasks: list[dict[str, Any]] = []
        self.running_tasks: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.metrics: dict[str, list[list[Any]]] = {}
        self.alarms: list[dict[str, Any]] = []
        self.instances: list[dict[str, Any]] = []
        self.service_deployments: list[dict[str, Any]] = []
        self.service_revisions: list[dict[str, Any]] = []
        self.current: int | None = None
        self.previous: int | None = None
        self._n = 0

    # ---- task definitions and deployments ------------------------------------------------
    def td_arn(self, revision: int, family: str | None = None) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family or self.service}:{revision}"

    def taskdef(self, revision: int, memory: str = "1024", cpu: str = "512", image_tag: str | None = None,
                env: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
                container_memory: int | None = None, **container: Any) -> EvidenceBuilder:
        cd = {"name": self.service, "essential": True,
              "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{self.service}:{image_tag or f'v1.{revision}'}",
              "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
              "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
              "secrets": [{"name": k, "valueFrom": v} for k, v in (secrets or {}).items()],
              "logConfiguration": {"logDriver": "awslogs", "options": {
                  "awslogs-group": f"/ecs/{self.service}", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"}}}
        if container_memory is not None:
            cd["memory"] = container_memory
        cd.update(container)
        self.taskdefs[revision] = {"taskDefinitionArn": self.td_arn(revision), "family": self.service,
                                   "revision": revision, "cpu": cpu, "memory": memory, "status": "ACTIVE",
                                   "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{self.service}-execution",
                                   "containerDefinitions": [cd]}
        return self

    def deployment(self, revision: int, status: str = "PRIMARY", rollout: str | None = "COMPLETED", failed: int = 0,
                   age: float = 60 * 24 * 3, running: int | None = None, reason: str | None = None,
                   dep_id: str | None = None) -> str:
        if revision not in self.taskdefs:
            self.taskdef(revision)
        dep_id = dep_id or f"ecs-svc/{1000000 + revision}"
        d = {"id": dep_id, "status": status, "taskDefinition": self.td_arn(revision), "desiredCount": self.desired,
             "runningCount": self.desired if running is None else running, "pendingCount": 0, "failedTasks": failed,
             "createdAt": ago(age), "updatedAt": ago(min(age, 2)), "launchType": self.launch_type}
        if rollout:
            d["rolloutState"] = rollout
        if reason:
            d["rolloutStateReason"] = reason
        self.deployments.append(d)
        if status == "PRIMARY":
            self.current = revision
        return dep_id

    # ---- tasks ------------------------------------------------------------------------------
    def _task_id(self) -> str:
        self._n += 1
        return hashlib.md5(f"{self.service}-{self._n}".encode()).hexdigest()

    def stopped(self, revision: int, stop_code: str | None = "EssentialContainerExited",
                reason: str | None = "Essential container in task exited", exit_code: int | None = 1,
                container_reason: str | None = None, age: float = 10, started_by: str | None = None,
                group: str | None = None, containers: list[dict[str, Any]] | None = None) -> str:
        if revision not in self.taskdefs:
            self.taskdef(revision)
        tid = self._task_id()
        if containers is None:
            c: dict[str, Any] = {"name": self.service, "lastStatus": "STOPPED"}
            if exit_code is not None:
                c["exitCode"] = exit_code
            if container_reason is not None:
                c["reason"] = container_reason
            containers = [c]
        t = {"taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster}/{tid}",
             "taskDefinitionArn": self.td_arn(revision), "group": group or f"service:{self.service}",
             "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "createdAt": ago(age + 3),
             "startedAt": ago(age + 2), "stoppingAt": ago(age), "stoppedAt": ago(age), "containers": containers}
        if stop_code:
            t["stopCode"] = stop_code
        if reason:
            t["stoppedReason"] = reason
        if started_by:
            t["startedBy"] = started_by
        self.stopped_tasks.append(t)
        return tid

    def running_task(self, revision: int, age: float = 60 * 24) -> str:
        if revision not in self.taskdefs:
            self.taskdef(revision)
        tid = self._task_id()
        self.running_tasks.append({
            "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster}/{tid}",
            "taskDefinitionArn": self.td_arn(revision), "group": f"service:{self.service}",
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "createdAt": ago(age), "startedAt": ago(age),
            "containers": [{"name": self.service, "lastStatus": "RUNNING"}]})
        return tid

    # ---- service events, logs, metrics, alarms, instances -------------------------------------
    def event(self, message: str, age: float = 5) -> EvidenceBuilder:
        self.events.append({"id": f"e{len(self.events)}", "createdAt": ago(age), "message": message})
        return self

    def log(self, task_id: str, *lines: str, age: float = 10) -> EvidenceBuilder:
        self.logs.append({"group": f"/ecs/{self.service}", "stream": f"ecs/{self.service}/{task_id}",
                          "task_id": task_id, "container": self.service,
                          "events": [{"timestamp": ago(age), "message": line} for line in lines]})
        return self

    def metric(self, name: str, *values: float, step: float = 5) -> EvidenceBuilder:
        n = len(values)
        self.metrics[name] = [[ago((n - i) * step), v] for i, v in enumerate(values)]
        return self

    def alarm(self, name: str, metric: str, state: str = "ALARM",
              reason: str = "Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold"
              ) -> EvidenceBuilder:
        self.alarms.append({"AlarmName": name, "MetricName": metric, "Namespace": "AWS/ECS", "StateValue": state,
                            "StateReason": reason, "Dimensions": [{"Name": "ClusterName", "Value": self.cluster},
                                                                  {"Name": "ServiceName", "Value": self.service}]})
        return self

    def instance(self, status: str = "ACTIVE", agent_connected: bool = True) -> EvidenceBuilder:
        self.instances.append({"containerInstanceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/"
                                                       f"{self.cluster}/{len(self.instances)}", "status": status,
                               "agentConnected": agent_connected})
        return self

    def service_deployment(self, revision: int, status: str, age: float = 30, reason: str | None = None,
                           source: int | None = None, triggered_alarms: list[str] | None = None) -> EvidenceBuilder:
        """A DescribeServiceDeployments item deploying `revision` (its service revision in service_revisions)."""
        if revision not in self.taskdefs:
            self.taskdef(revision)
        base = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{self.cluster}/{self.service}"
        target = {"arn": f"{base}/{9000 + revision}", "requestedTaskCount": self.desired}
        self.service_revisions.append({"serviceRevisionArn": target["arn"], "taskDefinition": self.td_arn(revision)})
        item = {"serviceDeploymentArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{self.cluster}/"
                                        f"{self.service}/sd{len(self.service_deployments)}",
                "status": status, "createdAt": ago(age + 5), "startedAt": ago(age + 5), "updatedAt": ago(age),
                "finishedAt": ago(age), "targetServiceRevision": target}
        if reason:
            item["statusReason"] = reason
        if source is not None:
            item["sourceServiceRevisions"] = [{"arn": f"{base}/{9000 + source}"}]
            self.service_revisions.append({"serviceRevisionArn": f"{base}/{9000 + source}",
                                           "taskDefinition": self.td_arn(source)})
        if triggered_alarms is not None:
            item["alarms"] = {"status": "TRIGGERED", "alarmNames": triggered_alarms,
                              "triggeredAlarmNames": triggered_alarms}
        self.service_deployments.append(item)
        return self

    # ---- the document -------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        if not self.deployments:
            self.deployment(max(self.taskdefs) if self.taskdefs else 1)
        current = self.current or max(self.taskdefs)
        previous = self.previous or next((r for r in sorted(self.taskdefs, reverse=True) if r < current), None)
        service = {"serviceName": self.service, "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{self.cluster}",
                   "serviceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{self.cluster}/{self.service}",
                   "taskDefinition": self.td_arn(current), "desiredCount": self.desired, "runningCount": self.running,
                   "pendingCount": 0, "launchType": self.launch_type, "deployments": self.deployments,
                   "events": sorted(self.events, key=lambda e: e["createdAt"], reverse=True)}
        return copy.deepcopy({
            "schema": "ecs-evidence/v1",
            "target": {"region": REGION, "cluster": self.cluster, "service": self.service},
            "window": {"start": (NOW - self.window).isoformat(), "end": NOW.isoformat()},
            "collected_at": NOW.isoformat(),
            "service": service,
            "task_definitions": {td["taskDefinitionArn"]: td for td in self.taskdefs.values()},
            "current_task_definition": self.td_arn(current),
            "previous_task_definition": self.td_arn(previous) if previous else None,
            "tasks": {"running": self.running_tasks, "stopped": self.stopped_tasks},
            "service_deployments": self.service_deployments,
            "service_revisions": self.service_revisions,
            "logs": self.logs,
            "metrics": self.metrics,
            "alarms": self.alarms,
            "container_instances": self.instances,
            "errors": [],
            "stats": {"api_calls": 0, "duration_ms": 0},
        })


def placement_world(service: str = "reports", agents_connected: bool = True) -> EvidenceBuilder:
    """An EC2 service running 2 of its 4 tasks on two container instances: where placement failures show."""
    b = EvidenceBuilder(service=service, desired=4, running=2, launch_type="EC2")
    b.instance(agent_connected=agents_connected).instance(agent_connected=agents_connected)
    b.deployment(3, age=20)
    b.running_task(3)
    b.running_task(3)
    return b


def failing_deploy(service: str = "api", new: int = 12, old: int = 11, failed: int = 3, desired: int = 2,
                   running: int | None = None, rollout: str = "IN_PROGRESS", reason: str | None = None,
                   **builder: Any) -> EvidenceBuilder:
    """A service whose newest revision `new` is failing while `old` (COMPLETED) still runs."""
    b = EvidenceBuilder(service=service, desired=desired, running=desired if running is None else running, **builder)
    b.taskdef(old).taskdef(new)
    b.deployment(new, status="PRIMARY", rollout=rollout, failed=failed, age=40, running=0, reason=reason)
    b.deployment(old, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 10)
    for _ in range(desired):
        b.running_task(old)
    return b
