"""A small ECS world that answers the ECS JSON-1.1 calls the agent makes, with a tiny scheduler.

moto's ECS backend does not simulate deployments, stopped-task reasons or the service
scheduler, and those are the whole story of an ECS incident, so the sandbox keeps ECS here:
clusters, task definitions, services with their deployments and events, tasks, service
deployments. Image tags either exist in the (imaginary) registry or not; the scheduler starts
tasks a short while after a write and they run, or stop with `CannotPullContainerError`.

Time stamps are epoch seconds, which is how the JSON-1.1 protocol carries them.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

MAX_EVENTS = 100


class EcsApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def short(name_or_arn: str) -> str:
    return (name_or_arn or "").rsplit("/", 1)[-1]


def _new_id() -> str:
    return uuid.uuid4().hex


class EcsWorld:
    """State plus the ECS operations; every operation runs under one lock."""

    def __init__(self, region: str, account: str, settle_seconds: float = 1.5,
                 on_steady: Callable[[str, str], None] | None = None):
        self.region, self.account = region, account
        self.settle_seconds = settle_seconds
        self.on_steady = on_steady  # called (cluster, service) when a rollout completes
        self.lock = threading.RLock()
        self.clusters: dict[str, dict] = {}
        self.task_definitions: dict[str, dict] = {}  # "family:revision" -> definition
        self.services: dict[tuple[str, str], dict] = {}
        self.tasks: list[dict] = []
        self.service_deployments: list[dict] = []
        self.service_revisions: dict[str, dict] = {}
        self.available_images: set[str] = set()
        self._timers: list[threading.Timer] = []

    # ---- naming -----------------------------------------------------------------------------
    def arn(self, kind: str, rest: str) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:{kind}/{rest}"

    def _td_key(self, ref: str) -> str:
        ref = short(ref)
        if ":" in ref:
            return ref
        revisions = [td["revision"] for td in self.task_definitions.values()
                     if td["family"] == ref and td["status"] == "ACTIVE"]
        if not revisions:
            raise EcsApiError("ClientException", "Unable to describe task definition.")
        return f"{ref}:{max(revisions)}"

    def _task_definition(self, ref: str) -> dict:
        td = self.task_definitions.get(self._td_key(ref))
        if td is None:
            raise EcsApiError("ClientException", "Unable to describe task definition.")
        return td

    def _cluster(self, ref: str | None) -> dict:
        cluster = self.clusters.get(short(ref or "default"))
        if cluster is None:
            raise EcsApiError("ClusterNotFoundException", "Cluster not found.")
        return cluster

    def _service(self, cluster_ref: str | None, service_ref: str) -> dict:
        cluster = self._cluster(cluster_ref)
        service = self.services.get((cluster["clusterName"], short(service_ref)))
        if service is None:
            raise EcsApiError("ServiceNotFoundException", "Service not found.")
        return service

    # ---- building the world ---------------------------------------------------------------------
    def add_cluster(self, name: str) -> dict:
        self.clusters[name] = {"clusterName": name, "clusterArn": self.arn("cluster", name), "status": "ACTIVE",
                               "registeredContainerInstancesCount": 0, "pendingTasksCount": 0,
                               "capacityProviders": ["FARGATE", "FARGATE_SPOT"], "settings": [
                                   {"name": "containerInsights", "value": "enabled"}]}
        return self.clusters[name]

    def register_task_definition(self, family: str, revision: int, image: str, registered_at: float,
                                 cpu: str = "512", memory: str = "1024", port: int = 8080) -> dict:
        key = f"{family}:{revision}"
        self.task_definitions[key] = {
            "taskDefinitionArn": self.arn("task-definition", key), "family": family, "revision": revision,
            "status": "ACTIVE", "cpu": cpu, "memory": memory, "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"],
            "registeredAt": registered_at,
            "executionRoleArn": f"arn:aws:iam::{self.account}:role/{family}-execution",
            "taskRoleArn": f"arn:aws:iam::{self.account}:role/{family}-task",
            "containerDefinitions": [{
                "name": family, "image": image, "essential": True, "cpu": 0,
                "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
                "environment": [], "mountPoints": [], "volumesFrom": [],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": f"/ecs/{family}", "awslogs-region": self.region,
                    "awslogs-stream-prefix": "ecs"}},
            }],
        }
        return self.task_definitions[key]

    def create_service(self, cluster: str, name: str, task_definition: str, desired: int, created_at: float) -> dict:
        td = self._task_definition(task_definition)
        service = {
            "serviceArn": self.arn("service", f"{cluster}/{name}"), "serviceName": name,
            "clusterArn": self.clusters[cluster]["clusterArn"], "status": "ACTIVE", "desiredCount": desired,
            "runningCount": 0, "pendingCount": 0, "launchType": "FARGATE", "platformVersion": "LATEST",
            "platformFamily": "Linux", "taskDefinition": td["taskDefinitionArn"], "schedulingStrategy": "REPLICA",
            "deploymentController": {"type": "ECS"}, "loadBalancers": [], "serviceRegistries": [],
            # No circuit breaker: that is why a bad deploy keeps failing until someone rolls it back.
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                        "maximumPercent": 200, "minimumHealthyPercent": 100},
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": ["subnet-0demo1a", "subnet-0demo1b"], "securityGroups": ["sg-0demo"],
                "assignPublicIp": "DISABLED"}},
            "deployments": [], "events": [], "createdAt": created_at,
            "createdBy": f"arn:aws:iam::{self.account}:role/deployer", "enableECSManagedTags": False,
            "propagateTags": "NONE", "enableExecuteCommand": False, "placementConstraints": [],
            "placementStrategy": [],
        }
        self.services[(cluster, name)] = service
        return service

    def start_deployment(self, service: dict, task_definition: str, at: float,
                         source: dict | None = None) -> dict:
        """A new PRIMARY deployment (the previous one becomes ACTIVE) and its service-deployment record."""
        td = self._task_definition(task_definition)
        for d in service["deployments"]:
            if d["status"] == "PRIMARY":
                d["status"] = "ACTIVE"
        deployment_id = f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
        deployment = {"id": deployment_id, "status": "PRIMARY", "taskDefinition": td["taskDefinitionArn"],
                      "desiredCount": service["desiredCount"], "pendingCount": 0, "runningCount": 0,
                      "failedTasks": 0, "createdAt": at, "updatedAt": at, "launchType": "FARGATE",
                      "platformVersion": "1.4.0", "networkConfiguration": service["networkConfiguration"],
                      "rolloutState": "IN_PROGRESS",
                      "rolloutStateReason": f"ECS deployment {deployment_id} in progress."}
        service["deployments"].insert(0, deployment)
        service["taskDefinition"] = td["taskDefinitionArn"]
        cluster, name = short(service["clusterArn"]), service["serviceName"]
        revision_arn = self.arn("service-revision", f"{cluster}/{name}/{uuid.uuid4().int % 10**19}")
        self.service_revisions[revision_arn] = {
            "serviceRevisionArn": revision_arn, "serviceArn": service["serviceArn"],
            "clusterArn": service["clusterArn"], "taskDefinition": td["taskDefinitionArn"], "launchType": "FARGATE",
            "platformVersion": "1.4.0", "createdAt": at,
            "containerImages": [{"containerName": c["name"], "image": c["image"]} for c in td["containerDefinitions"]],
        }
        record = {
            "serviceDeploymentArn": self.arn("service-deployment", f"{cluster}/{name}/{deployment_id[8:]}"),
            "serviceArn": service["serviceArn"], "clusterArn": service["clusterArn"], "createdAt": at,
            "startedAt": at, "updatedAt": at, "status": "IN_PROGRESS",
            "targetServiceRevision": {"arn": revision_arn, "requestedTaskCount": service["desiredCount"],
                                      "runningTaskCount": 0, "pendingTaskCount": 0},
            "sourceServiceRevisions": [source] if source else [],
            "deploymentCircuitBreaker": {"status": "DISABLED", "failureCount": 0, "threshold": 0},
            "_deployment_id": deployment_id,
        }
        self.service_deployments.insert(0, record)
        return deployment

    def complete_deployment(self, service: dict, deployment: dict, at: float) -> None:
        deployment.update(rolloutState="COMPLETED", updatedAt=at,
                          rolloutStateReason=f"ECS deployment {deployment['id']} completed.")
        for record in self.service_deployments:
            if record["_deployment_id"] == deployment["id"]:
                record.update(status="SUCCESSFUL", finishedAt=at, updatedAt=at,
                              statusReason="Service deployment completed successfully.")
                record["targetServiceRevision"]["runningTaskCount"] = service["desiredCount"]

    def add_task(self, cluster: str, task_definition: str, group: str, created_at: float,
                 started_by: str = "") -> dict:
        td = self._task_definition(task_definition)
        task_id = _new_id()
        task_arn = self.arn("task", f"{cluster}/{task_id}")
        task = {
            "taskArn": task_arn, "clusterArn": self.clusters[cluster]["clusterArn"],
            "taskDefinitionArn": td["taskDefinitionArn"], "group": group, "startedBy": started_by,
            "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING", "launchType": "FARGATE",
            "platformVersion": "1.4.0", "cpu": td["cpu"], "memory": td["memory"], "createdAt": created_at,
            "availabilityZone": f"{self.region}a", "connectivity": "CONNECTED", "version": 1,
            "containers": [{"containerArn": self.arn("container", f"{cluster}/{task_id}/{uuid.uuid4()}"),
                            "taskArn": task_arn, "name": c["name"], "image": c["image"], "lastStatus": "PENDING",
                            "networkInterfaces": []} for c in td["containerDefinitions"]],
        }
        self.tasks.append(task)
        return task

    def run_or_fail(self, task: dict, at: float) -> bool:
        """The task starts if every image it needs exists, else it stops as ECS stops it. True if it runs."""
        missing = [c["image"] for c in task["containers"] if c["image"] not in self.available_images]
        if not missing:
            task.update(lastStatus="RUNNING", startedAt=at, connectivityAt=at, pullStartedAt=at, pullStoppedAt=at,
                        healthStatus="UNKNOWN")
            for c in task["containers"]:
                c["lastStatus"] = "RUNNING"
            return True
        image = missing[0]
        reason = (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                  f"ref {image}: {image}: not found")
        task.update(lastStatus="STOPPED", desiredStatus="STOPPED", stopCode="TaskFailedToStart",
                    stoppedReason=reason, pullStartedAt=at, stoppingAt=at, executionStoppedAt=at, stoppedAt=at)
        for c in task["containers"]:
            c["lastStatus"] = "STOPPED"
        return False

    def stop(self, task: dict, at: float, code: str, reason: str) -> None:
        task.update(lastStatus="STOPPED", desiredStatus="STOPPED", stopCode=code, stoppedReason=reason,
                    stoppingAt=at, executionStoppedAt=at, stoppedAt=at)
        for c in task["containers"]:
            c["lastStatus"] = "STOPPED"
            c.setdefault("exitCode", 143)

    def add_event(self, service: dict, message: str, at: float) -> None:
        service["events"].insert(0, {"id": str(uuid.uuid4()), "createdAt": at, "message": message})
        del service["events"][MAX_EVENTS:]

    # ---- the scheduler ----------------------------------------------------------------------------
    def _later(self, action: Callable[[], None]) -> None:
        def run() -> None:
            with self.lock:
                action()

        timer = threading.Timer(self.settle_seconds, run)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def reconcile(self, service: dict) -> None:
        """Bring the service towards its PRIMARY deployment, as the ECS scheduler does, in one step."""
        now = time.time()
        name, cluster = service["serviceName"], short(service["clusterArn"])
        primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
        mine = [t for t in self.tasks if t["group"] == f"service:{name}" and t["desiredStatus"] == "RUNNING"]
        on_primary = [t for t in mine if t["taskDefinitionArn"] == primary["taskDefinition"]]
        missing = service["desiredCount"] - len(on_primary)
        started = [self.add_task(cluster, primary["taskDefinition"], f"service:{name}", now,
                                 started_by=primary["id"]) for _ in range(max(missing, 0))]
        if started:
            self.add_event(service, f"(service {name}) has started {len(started)} tasks: "
                           + " ".join(f"(task {short(t['taskArn'])})" for t in started) + ".", now)
        ran = [t for t in started if self.run_or_fail(t, now)]
        if len(ran) < len(started):
            primary["failedTasks"] += len(started) - len(ran)
            primary["updatedAt"] = now
            return
        surplus = on_primary[service["desiredCount"]:] if missing < 0 else []
        old = [t for t in mine if t["taskDefinitionArn"] != primary["taskDefinition"]] + surplus
        for task in old:
            self.stop(task, now, "ServiceSchedulerInitiated",
                      f"Scaling activity initiated by (deployment {primary['id']})")
        if old:
            self.add_event(service, f"(service {name}) has stopped {len(old)} running tasks: "
                           + " ".join(f"(task {short(t['taskArn'])})" for t in old) + ".", now)
        was_in_progress = primary["rolloutState"] == "IN_PROGRESS"
        service["deployments"] = [primary]
        if was_in_progress:
            self.complete_deployment(service, primary, now)
            self.add_event(service, f"(service {name}) (deployment {primary['id']}) deployment completed.", now)
        self.add_event(service, f"(service {name}) has reached a steady state.", now)
        if self.on_steady:
            self.on_steady(cluster, name)

    def _refresh_counts(self, service: dict) -> None:
        running = [t for t in self.tasks if t["group"] == f"service:{service['serviceName']}"
                   and t["lastStatus"] == "RUNNING"]
        service["runningCount"] = len(running)
        service["pendingCount"] = 0
        for d in service["deployments"]:
            d["runningCount"] = sum(1 for t in running if t["taskDefinitionArn"] == d["taskDefinition"])
            d["desiredCount"] = service["desiredCount"] if d["status"] == "PRIMARY" else d["runningCount"]

    # ---- the API ------------------------------------------------------------------------------------
    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise EcsApiError("UnsupportedOperationException", f"the sandbox does not serve ecs:{operation}")
        with self.lock:
            return handler(body)

    @staticmethod
    def _page(items: list, body: dict, key: str, default: int = 100) -> dict:
        size = min(int(body.get("maxResults") or default), 100)
        start = int(body.get("nextToken") or 0)
        page = {key: items[start:start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return page

    def op_ListClusters(self, body):
        return self._page([c["clusterArn"] for c in self.clusters.values()], body, "clusterArns")

    def op_DescribeClusters(self, body):
        found, failures = [], []
        for ref in body.get("clusters") or ["default"]:
            cluster = self.clusters.get(short(ref))
            if cluster is None:
                failures.append({"arn": self.arn("cluster", short(ref)), "reason": "MISSING"})
                continue
            mine = [t for t in self.tasks if t["clusterArn"] == cluster["clusterArn"]]
            found.append(dict(cluster, runningTasksCount=sum(t["lastStatus"] == "RUNNING" for t in mine),
                              activeServicesCount=sum(k[0] == cluster["clusterName"] for k in self.services)))
        return {"clusters": found, "failures": failures}

    def op_ListServices(self, body):
        cluster = self._cluster(body.get("cluster"))
        arns = [s["serviceArn"] for (c, _), s in self.services.items() if c == cluster["clusterName"]]
        return self._page(arns, body, "serviceArns", default=10)

    def op_DescribeServices(self, body):
        cluster = self._cluster(body.get("cluster"))
        refs = body.get("services") or []
        if not 1 <= len(refs) <= 10:
            raise EcsApiError("InvalidParameterException", "services can have at most 10 items and at least 1.")
        found, failures = [], []
        for ref in refs:
            service = self.services.get((cluster["clusterName"], short(ref)))
            if service is None:
                failures.append({"arn": self.arn("service", f"{cluster['clusterName']}/{short(ref)}"),
                                 "reason": "MISSING"})
                continue
            self._refresh_counts(service)
            found.append(service)
        return {"services": found, "failures": failures}

    def op_ListTasks(self, body):
        cluster = self._cluster(body.get("cluster"))
        if body.get("serviceName"):
            self._service(body.get("cluster"), body["serviceName"])
        wanted = body.get("desiredStatus") or "RUNNING"
        arns = [t["taskArn"] for t in self.tasks
                if t["clusterArn"] == cluster["clusterArn"] and t["desiredStatus"] == wanted
                and (not body.get("serviceName") or t["group"] == f"service:{short(body['serviceName'])}")
                and (not body.get("family") or short(t["taskDefinitionArn"]).split(":")[0] == body["family"])
                and (not body.get("startedBy") or t["startedBy"] == body["startedBy"])]
        return self._page(arns, body, "taskArns")

    def op_DescribeTasks(self, body):
        cluster = self._cluster(body.get("cluster"))
        refs = body.get("tasks") or []
        if not 1 <= len(refs) <= 100:
            raise EcsApiError("InvalidParameterException", "Tasks cannot be empty.")
        by_id = {short(t["taskArn"]): t for t in self.tasks if t["clusterArn"] == cluster["clusterArn"]}
        found = [by_id[short(r)] for r in refs if short(r) in by_id]
        failures = [{"arn": r, "reason": "MISSING"} for r in refs if short(r) not in by_id]
        return {"tasks": found, "failures": failures}

    def op_DescribeTaskDefinition(self, body):
        return {"taskDefinition": self._task_definition(body["taskDefinition"]), "tags": []}

    def op_ListTaskDefinitions(self, body):
        items = [td for td in self.task_definitions.values()
                 if td["family"].startswith(body.get("familyPrefix") or "")
                 and td["status"] == (body.get("status") or "ACTIVE")]
        items.sort(key=lambda td: (td["family"], td["revision"]), reverse=body.get("sort") == "DESC")
        return self._page([td["taskDefinitionArn"] for td in items], body, "taskDefinitionArns")

    def op_ListServiceDeployments(self, body):
        service = self._service(body.get("cluster"), body["service"])
        briefs = [{k: v for k, v in r.items() if k in (
            "serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status",
            "statusReason")} | {"targetServiceRevisionArn": r["targetServiceRevision"]["arn"]}
            for r in self.service_deployments if r["serviceArn"] == service["serviceArn"]
            and (not body.get("status") or r["status"] in body["status"])]
        return self._page(briefs, body, "serviceDeployments", default=20)

    def op_DescribeServiceDeployments(self, body):
        wanted = body.get("serviceDeploymentArns") or []
        by_arn = {r["serviceDeploymentArn"]: {k: v for k, v in r.items() if not k.startswith("_")}
                  for r in self.service_deployments}
        return {"serviceDeployments": [by_arn[a] for a in wanted if a in by_arn],
                "failures": [{"arn": a, "reason": "MISSING"} for a in wanted if a not in by_arn]}

    def op_DescribeServiceRevisions(self, body):
        wanted = body.get("serviceRevisionArns") or []
        return {"serviceRevisions": [self.service_revisions[a] for a in wanted if a in self.service_revisions],
                "failures": [{"arn": a, "reason": "MISSING"} for a in wanted if a not in self.service_revisions]}

    def op_UpdateService(self, body):
        service = self._service(body.get("cluster"), body["service"])
        now = time.time()
        if "desiredCount" in body:
            if int(body["desiredCount"]) < 0:
                raise EcsApiError("InvalidParameterException", "desiredCount can't be negative.")
            service["desiredCount"] = int(body["desiredCount"])
        new_td = body.get("taskDefinition")
        if new_td:
            td = self._task_definition(new_td)
            if td["status"] != "ACTIVE":
                raise EcsApiError("ClientException", "TaskDefinition is inactive")
        if (new_td and self._task_definition(new_td)["taskDefinitionArn"] != service["taskDefinition"]) \
                or body.get("forceNewDeployment"):
            primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
            source = next((r["targetServiceRevision"] for r in self.service_deployments
                           if r["_deployment_id"] == primary["id"]), None)
            self.start_deployment(service, new_td or service["taskDefinition"], now, source=source)
        self._later(lambda: self.reconcile(service))
        self._refresh_counts(service)
        return {"service": service}

    def op_StopTask(self, body):
        cluster = self._cluster(body.get("cluster"))
        task = next((t for t in self.tasks if t["clusterArn"] == cluster["clusterArn"]
                     and short(t["taskArn"]) == short(body["task"])), None)
        if task is None:
            raise EcsApiError("InvalidParameterException", "The referenced task was not found.")
        if task["lastStatus"] != "STOPPED":
            self.stop(task, time.time(), "UserInitiated", body.get("reason") or "Task stopped by user")
        service = self.services.get((cluster["clusterName"], task["group"].removeprefix("service:")))
        if service is not None:  # the service scheduler replaces what was stopped
            self._later(lambda: self.reconcile(service))
        return {"task": task}

    def op_RunTask(self, body):
        cluster = self._cluster(body.get("cluster"))
        td = self._task_definition(body["taskDefinition"])
        count = int(body.get("count") or 1)
        if not 1 <= count <= 10:
            raise EcsApiError("InvalidParameterException", "count must be between 1 and 10.")
        now = time.time()
        tasks = [self.add_task(cluster["clusterName"], td["taskDefinitionArn"],
                               body.get("group") or f"family:{td['family']}", now, body.get("startedBy", ""))
                 for _ in range(count)]

        def start() -> None:
            for task in tasks:
                if task["lastStatus"] == "PROVISIONING":
                    self.run_or_fail(task, time.time())

        self._later(start)
        return {"tasks": tasks, "failures": []}

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
