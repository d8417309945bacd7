"""The ordered rule table: ECS failure signatures as data (ids follow the F-numbers of
../shared/reference/ecs-failures.md §3; L = application logs, M = metrics, A = alarms,
S = service state).

A rule says where to look (`where`), which stable tokens to look for (`pattern`, searched in
the normalised text, so curly quotes and 1,024-char truncation do not matter), and what it
means (`cause`, a taxonomy id). `priority` orders the rules: within one task the first
matching rule wins, which encodes the reference's signal order (stop code -> stopped reason
-> container reason -> exit code), with the specific signal before the generic one.

Flags: `benign` stops are expected (scale-in, user stops, maintenance) and never become a
root cause of a different kind; `transient` causes clear by themselves; `wrapper` rules
(circuit breaker, alarm rollback) only say a deployment failed: the cause is one level down.
`refine_with_logs` lists the causes the failing task's own logs may turn the verdict into.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .signals import SIDECAR_CONTAINER, TASKS, normalise

Where = Literal[
    "stop_code", "stopped_reason", "container_reason", "exit_code",  # a stopped task
    "failed_sidecar",  # "NAME IMAGE" of a sidecar container that failed while the app's containers did not
    "deployment",      # rolloutState/failedTasks/rolloutStateReason, service deployment status/reason
    "service_event",   # service event message, prefix stripped
    "log",             # one application log line
    "metric",          # metric name; value compared with `threshold`
    "alarm",           # "MetricName AlarmName" of an alarm in ALARM
    "service_state",   # "desiredCount=N runningCount=N pendingCount=N"
]
Severity = Literal["critical", "high", "medium", "low", "info"]

TASK_FIELDS: tuple[Where, ...] = ("stop_code", "stopped_reason", "container_reason", "exit_code", "failed_sidecar")
_REASONS: tuple[Where, ...] = ("stopped_reason", "container_reason")
_START_FAILURE: tuple[Where, ...] = ("stopped_reason", "container_reason", "service_event")
# placement reasons arrive as service events, and as stopped reasons ("TaskFailedToStart: RESOURCE:MEMORY")
_PLACEMENT: tuple[Where, ...] = ("service_event", "stopped_reason")

# What an application's logs can reveal about why its container exited.
APP_EXIT_REFINEMENTS = ("image-platform-mismatch", "missing-config", "task-role-access-denied",
                        "dependency-unreachable", "disk-full", "container-oom", "app-crash")


@dataclass(frozen=True)
class Rule:
    id: str
    cause: str
    where: tuple[Where, ...]
    pattern: re.Pattern[str]
    priority: int
    severity: Severity
    summary: str  # "{count}", "{total}" and "{service}" are filled in by the classifier
    remediation: str
    benign: bool = False
    transient: bool = False
    wrapper: bool = False
    confidence: float = 0.85  # how much this signal alone says about the cause
    threshold: float | None = None  # metric rules: fire when the last 3 datapoints are all at or above it
    refine_with_logs: tuple[str, ...] = ()

    def search(self, text: object) -> re.Match[str] | None:
        return self.pattern.search(normalise(text))


def _p(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(pattern, flags)


_CANNOT_PULL = r"CannotPull(?:ECR)?ContainerError"
_SECRETS_PREFIX = r"unable to (?:pull secrets or registry auth|retrieve secrets? from|fetch secret)"
_NET = r"(?:connection issue|i/o timeout|context deadline exceeded|RequestCanceled|request canceled|context canceled|dial tcp|TLS handshake timeout|exceeded maximum number of attempts|no such host|connection refused)"

RULES: tuple[Rule, ...] = tuple(sorted((
    # ---- platform stops: the task was taken away, the app did nothing wrong -------------------------
    Rule("F35", "spot-interruption", ("stop_code",), _p(r"^SpotInterruption$"), 100, "medium",
         "{count} of {total} stopped tasks were Spot tasks reclaimed by AWS (SpotInterruption).",
         "Transient: the service replaces them. If it recurs, add an on-demand base to the capacity provider strategy.",
         transient=True, confidence=0.9),
    Rule("F35b", "spot-interruption", ("stopped_reason",), _p(r"Your Spot Task was interrupted"), 101, "medium",
         "{count} of {total} stopped tasks were Spot tasks interrupted by AWS.",
         "Transient: the service replaces them. If it recurs, add an on-demand base to the capacity provider strategy.",
         transient=True, confidence=0.9),
    Rule("F35c", "host-instance-stopped", ("stopped_reason",), _p(r"Host EC2 \(instance [^)]*\) (?:terminated|stopped)"),
         102, "medium",
         "{count} of {total} stopped tasks lost their EC2 host (the instance was stopped or terminated).",
         "Transient: the service replaces them. Find why the instance went away (ASG scale-in or health replacement, "
         "a person); spread instances across AZs.", transient=True, confidence=0.8),
    Rule("F36", "platform-maintenance", ("stopped_reason",),
         _p(r"ECS is performing maintenance on the underlying infrastructure|task retirement|scheduled for retirement"), 110, "low",
         "{count} of {total} stopped tasks were retired by AWS for infrastructure maintenance.",
         "None: the service replaces retired tasks. Use fargateTaskRetirementWaitPeriod or event windows to schedule them.",
         benign=True, transient=True, confidence=0.85),
    Rule("F36b", "platform-maintenance", ("stop_code",), _p(r"^TerminationNotice$"), 111, "low",
         "{count} of {total} stopped tasks received a termination notice from the platform.",
         "None: the service replaces them.", benign=True, transient=True, confidence=0.7),

    # ---- killed for memory -----------------------------------------------------------------------
    Rule("F02", "container-oom", ("container_reason", "stopped_reason"), _p(r"\bOutOfMemoryError\b|container killed due to memory usage"),
         200, "critical",
         "{count} of {total} stopped tasks had a container killed for exceeding its memory limit (OutOfMemoryError).",
         "Roll back if a new revision lowered memory or leaks; otherwise raise the container/task memory limit.",
         confidence=0.95),

    # ---- a mesh sidecar failed while the application did not -------------------------------------------
    Rule("F44", "sidecar-failed", ("failed_sidecar",), SIDECAR_CONTAINER, 250, "high",
         "{count} of {total} stopped tasks were stopped because their Service Connect / App Mesh sidecar failed, not "
         "the application.",
         "Fix the sidecar: give the task enough CPU/memory for it, check the Envoy/agent version and the mesh or "
         "Service Connect configuration; roll back if a new revision changed it.", confidence=0.85),

    # ---- health checks (exit 137/143 after these is the stop, not the cause: F03) ---------------------
    Rule("F22", "elb-health-check-failed", ("stopped_reason",), _p(r"failed ELB health checks"), 300, "high",
         "{count} of {total} stopped tasks were stopped because they failed load balancer health checks.",
         "Check the target group's health-check path/port and success codes, the security group from the load "
         "balancer, and healthCheckGracePeriodSeconds; roll back if a new revision caused it.",
         confidence=0.9, refine_with_logs=("dependency-unreachable",)),
    Rule("F23", "container-health-check-failed", ("stopped_reason",), _p(r"failed container health checks"), 301, "high",
         "{count} of {total} stopped tasks were stopped because their container health check failed.",
         "Fix the healthCheck command (tool present in the image?) and its startPeriod/timeout/retries; "
         "roll back if a new revision caused it.",
         confidence=0.9, refine_with_logs=("dependency-unreachable",)),

    # ---- start failures: stopped reason / container reason (and the same text in service events) -----
    Rule("F16", "log-configuration-error", _START_FAILURE,
         _p(r"failed to validate logger args|failed to initiali[sz]e logging driver|failed to create Cloudwatch log stream"
            r"|log group (?:does not exist|defined in the task definition)|logs:CreateLog(?:Group|Stream)"), 400, "critical",
         "{count} of {total} stopped tasks could not start their log driver (awslogs configuration).",
         "Create the log group (or set awslogs-create-group and grant logs:CreateLogGroup) and fix the awslogs options.",
         confidence=0.9),
    Rule("F17", "efs-mount-failed", _START_FAILURE,
         _p(r"EFS utils|set up EFS volumes|mount\.nfs4?|EFS volume|efs mount"), 405, "critical",
         "{count} of {total} stopped tasks could not mount their EFS volume.",
         "Open NFS (TCP 2049) from the task to the mount targets, add a mount target per AZ, fix access point/IAM.",
         confidence=0.9),
    Rule("F10", "image-platform-mismatch", _START_FAILURE,
         _p(r"does not contain descriptor matching platform|no matching manifest for"), 410, "critical",
         "{count} of {total} stopped tasks use an image built for another CPU architecture.",
         "Build a multi-arch image (docker buildx --platform) or set runtimePlatform to match the image.",
         confidence=0.95),
    Rule("F11", "registry-rate-limit", _START_FAILURE,
         _p(r"toomanyrequests|Too Many Requests|reached your pull rate limit"), 415, "high",
         "{count} of {total} stopped tasks were throttled by the image registry (pull rate limit).",
         "Mirror the image to ECR (pull-through cache) or authenticate the pulls.", transient=True, confidence=0.9),
    Rule("F12", "disk-full", _START_FAILURE + ("log",),
         _p(r"no space left on device|Thin Pool has \d+ free data blocks|ENOSPC"), 420, "high",
         "{count} of {total} stopped tasks ran out of disk space.",
         "Raise ephemeralStorage (Fargate) or clean/enlarge the instance volume (EC2).", confidence=0.9),
    Rule("F43", "vpc-dns-resolution", _START_FAILURE,
         _p(r"lookup [\w.-]+\.amazonaws\.com(?:\.cn)?(?: on [\d.:\[\]]+)?: no such host"
            r"|Failed to resolve \"?[\w.-]+\.amazonaws\.com"), 422, "critical",
         "{count} of {total} stopped tasks could not resolve AWS endpoint names (VPC DNS resolution).",
         "Enable DNS resolution and DNS hostnames on the VPC (enableDnsSupport, enableDnsHostnames), then retry.",
         confidence=0.85),
    Rule("F08", "image-pull-access-denied", _START_FAILURE,
         _p(r"Check that the role has the permissions to pull images|not authorized to perform:? ecr:"), 425, "critical",
         "{count} of {total} stopped tasks were not allowed to pull their image (ECR permissions).",
         "Grant the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer "
         "(AmazonECSTaskExecutionRolePolicy), or fix the repository policy.", confidence=0.95),
    Rule("F07", "image-not-found", _START_FAILURE, _p(r"Check whether the image exists"), 430, "critical",
         "{count} of {total} stopped tasks point at an image that does not exist.",
         "Roll back to the last revision whose image exists, or push the image / fix the image reference.",
         confidence=0.95),
    Rule("F14", "secrets-access-denied", _START_FAILURE,
         _p(_SECRETS_PREFIX + r".*?(?:AccessDenied|not authorized to perform|kms:Decrypt|KMS\.\w*Exception)"
            r"|not authorized to perform:? (?:secretsmanager|ssm|kms):"), 435, "critical",
         "{count} of {total} stopped tasks could not read their secrets: the execution role was denied.",
         "Grant the task execution role secretsmanager:GetSecretValue / ssm:GetParameters (and kms:Decrypt for "
         "customer-managed keys) on the referenced secrets.", confidence=0.95),
    Rule("F15", "secrets-access-denied", _START_FAILURE,
         _p(r"can't find the specified secret|ResourceNotFoundException: Secrets Manager|invalid ssm parameters"
            r"|did not contain json key|marked for deletion|ParameterNotFound"), 440, "critical",
         "{count} of {total} stopped tasks could not read their secrets: a referenced secret or parameter is missing "
         "or malformed.",
         "Create or restore the secret/parameter, or fix the ARN / JSON key in the task definition's valueFrom.",
         confidence=0.85),
    Rule("F13", "secrets-network", _START_FAILURE, _p(_SECRETS_PREFIX + r".*?" + _NET), 445, "critical",
         "{count} of {total} stopped tasks had no network path to Secrets Manager / SSM / ECR auth.",
         "Give the task subnets a route out (NAT, public IP) or add VPC endpoints for secretsmanager/ssm/ecr/kms.",
         confidence=0.9),
    Rule("F13b", "secrets-access-denied", _START_FAILURE, _p(_SECRETS_PREFIX), 446, "critical",
         "{count} of {total} stopped tasks could not read their secrets or registry auth at start.",
         "Check the execution role's access to the referenced secrets and the task's network path to them.",
         confidence=0.6),
    Rule("F07d", "image-not-found", _START_FAILURE,
         _p(r"repository does not exist or may require '?docker login|manifest for \S+ not found"), 448, "critical",
         "{count} of {total} stopped tasks name an image the registry does not know (no such repository or tag, or a "
         "private one without credentials).",
         "Check the image reference (registry, repository, tag) in the task definition; if it is private, configure "
         "repositoryCredentials. Roll back to the last revision whose image pulls.", confidence=0.75),
    Rule("F08b", "image-pull-access-denied", _START_FAILURE,
         _p(_CANNOT_PULL + r".*?(?:pull access denied|no basic auth credentials|401 Unauthorized|AccessDenied|403 Forbidden"
            r"|unauthorized:|authentication required)"), 450, "critical",
         "{count} of {total} stopped tasks were not allowed to pull their image.",
         "Fix the registry credentials (repositoryCredentials) or the execution role's pull permissions.",
         confidence=0.9),
    Rule("F07b", "image-not-found", _START_FAILURE,
         _p(_CANNOT_PULL + r".*?(?:: not found\b|manifest unknown|manifest for .* not found|repository .*not found"
            r"|repository does not exist|name unknown|requested access to the resource is denied|API error \(404\))"),
         455, "critical",
         "{count} of {total} stopped tasks point at an image or tag that does not exist.",
         "Roll back to the last revision whose image exists, or push the image / fix the image reference.",
         confidence=0.95),
    Rule("F09", "image-pull-network", _START_FAILURE,
         _p(_CANNOT_PULL + r".*?" + _NET + r"|The task can't pull the image\. Check your network configuration"
            r"|" + _CANNOT_PULL + r":? API error$|pull command failed: panic: runtime error"
            r"|error pulling image conf"), 460, "critical",
         "{count} of {total} stopped tasks had no network path to the image registry.",
         "Add a NAT gateway or VPC endpoints (ecr.api, ecr.dkr and the S3 gateway), or assign a public IP; "
         "allow outbound 443.", confidence=0.9),
    Rule("F08c", "image-pull-access-denied", _START_FAILURE,
         _p(r"failed to copy: httpRead(?:er)?Seeker: failed open: unexpected status code(?! \S+ 404)"), 462,
         "critical", "{count} of {total} stopped tasks were refused their image by the registry.",
         "Check the execution role's pull permissions and the registry credentials; check that the image exists.",
         confidence=0.6),
    Rule("F07c", "image-not-found", _START_FAILURE, _p(_CANNOT_PULL), 465, "critical",
         "{count} of {total} stopped tasks could not pull their image.",
         "Check that the image reference exists and is pullable; roll back to the last working revision.",
         confidence=0.55),
    Rule("F06b", "image-platform-mismatch", _REASONS, _p(r"exec format error"), 470, "critical",
         "{count} of {total} stopped tasks run an image built for another CPU architecture (exec format error).",
         "Build a multi-arch image or set runtimePlatform.cpuArchitecture to match the image.", confidence=0.9),
    Rule("F02b", "container-oom", _REASONS, _p(r"CannotStartContainerError: failed to get container status"), 472,
         "critical", "{count} of {total} stopped tasks could not start their container (failed to get container "
         "status), which AWS documents as the container exceeding its memory.",
         "Raise the container's memory in the task definition; roll back if a new revision lowered it.",
         confidence=0.6),
    Rule("F06", "bad-entrypoint", _REASONS,
         _p(r"CannotStartContainerError|executable file not found|OCI runtime (?:create|exec) failed"
            r"|exec: \S+: (?:no such file or directory|permission denied)"), 475, "critical",
         "{count} of {total} stopped tasks could not run their container command (command/entryPoint).",
         "Fix command/entryPoint (binary present in the image, executable, on $PATH) or roll back.",
         confidence=0.85),
    Rule("F18", "eni-provisioning-timeout", _START_FAILURE,
         _p(r"Timeout waiting for (?:network interface|EphemeralStorage) provisioning"), 480, "medium",
         "{count} of {total} stopped tasks timed out waiting for their network interface.",
         "Usually transient: ECS retries. If it persists, check subnet free IPs and ENI limits/trunking.",
         transient=True, confidence=0.85),
    Rule("F19", "subnet-ip-exhaustion", _START_FAILURE,
         _p(r"InsufficientFreeAddressesInSubnet|(?:does not have|not) enough free addresses|insufficient free addresses"
            r"|Unexpected EC2 error while attempting to Create Network Interface"), 485, "high",
         "The task subnets have no free IP addresses / ENI capacity ({count} signals).",
         "Add or enlarge subnets (more AZs), enable awsvpcTrunking, or lower maximumPercent during deployments.",
         confidence=0.9),
    Rule("F20", "runtime-timeout", _START_FAILURE,
         _p(r"DockerTimeoutError|ContainerRuntimeTimeoutError|Could not transition to (?:created|running|stopped)"), 490,
         "medium",
         "{count} of {total} stopped tasks hit a container runtime timeout.",
         "Transient on Fargate: retry. On EC2 check the instance's Docker/containerd health and image size.",
         transient=True, confidence=0.85),
    Rule("F21", "container-runtime-error", _REASONS,
         _p(r"CannotInspectContainerError|CannotStopContainerError|CannotCreateVolumeError|ContainerRuntimeError"
            r"|CannotCreateContainerError"), 495, "medium",
         "{count} of {total} stopped tasks hit a container runtime error (the runtime could not inspect, stop or "
         "create a container).",
         "Transient: retry; on EC2 check the Docker/containerd daemon's load and the instance. Escalate to AWS Support "
         "if it persists.", transient=True, confidence=0.75),
    Rule("F18b", "eni-provisioning-timeout", _REASONS, _p(r"^InternalError\b"), 496, "medium",
         "{count} of {total} stopped tasks failed with an InternalError while their network interface was attached.",
         "Usually transient: ECS retries. If it persists, check subnet free IPs and ENI limits/trunking.",
         transient=True, confidence=0.6),
    Rule("F29", "role-assumption-failed", _START_FAILURE,
         _p(r"unable to assume the role|IAM (?:permissions policies|trust relationship) (?:has|have) been misconfigured"),
         497, "critical",
         "ECS could not assume the task or execution role ({count} signals).",
         "Fix the role's trust policy (principal ecs-tasks.amazonaws.com) and the caller's iam:PassRole; "
         "IAM changes may take minutes to propagate.", confidence=0.9),

    # ---- benign stops (F37) and stop codes that only say who stopped the task ------------------------
    Rule("F37", "healthy", ("stopped_reason",),
         _p(r"Scaling activity initiated by|deregistration forced by user|DRAINING"),
         600, "info", "{count} of {total} stopped tasks were routine replacements or scale-in (not failures).",
         "None.", benign=True, confidence=0.9),
    Rule("F37b", "task-stopped-by-user", ("stopped_reason",), _p(r"Task stopped by user"), 605, "low",
         "{count} of {total} stopped tasks were stopped by a person or process (StopTask).",
         "None, unless the stops were unintended: find who called StopTask (CloudTrail).", benign=True, confidence=0.85),
    Rule("F37c", "task-stopped-by-user", ("stop_code",), _p(r"^UserInitiated$"), 606, "low",
         "{count} of {total} stopped tasks were stopped by a person or process (UserInitiated).",
         "None, unless the stops were unintended: find who called StopTask (CloudTrail).", benign=True, confidence=0.8),
    Rule("F37d", "healthy", ("stop_code",), _p(r"^ServiceSchedulerInitiated$"), 610, "info",
         "{count} of {total} stopped tasks were stopped by the service scheduler (deployment, scale-in).",
         "None.", benign=True, confidence=0.6),

    # ---- exit codes of an essential container (no platform reason) -----------------------------------
    Rule("F06c", "bad-entrypoint", ("exit_code",), _p(r"^12[67]$"), 700, "critical",
         "{count} of {total} stopped tasks could not run their command (exit 126/127: not executable / not found).",
         "Fix command/entryPoint or roll back.", confidence=0.85),
    Rule("F04", "app-crash", ("exit_code",), _p(r"^139$"), 705, "critical",
         "{count} of {total} stopped tasks crashed with a segmentation fault (exit 139).",
         "Check native dependencies and the image architecture; roll back to the last good revision.",
         confidence=0.8, refine_with_logs=APP_EXIT_REFINEMENTS),
    Rule("F03", "app-crash", ("exit_code",), _p(r"^137$"), 710, "high",
         "{count} of {total} stopped tasks were killed with SIGKILL (exit 137) without an OutOfMemoryError reason.",
         "Check memory usage and SIGTERM handling (stopTimeout); read the container logs.",
         confidence=0.5, refine_with_logs=APP_EXIT_REFINEMENTS),
    Rule("F05", "healthy", ("exit_code",), _p(r"^143$"), 715, "info",
         "{count} of {total} stopped tasks ended with SIGTERM (exit 143), a graceful stop.",
         "None.", benign=True, confidence=0.5),
    Rule("F01", "app-crash", ("exit_code",), _p(r"^-?\d+$"), 720, "critical",
         "{count} of {total} stopped tasks exited on their own (essential container exit code {exit_codes}).",
         "Read the container logs; roll back to the last good revision and fix the application.",
         confidence=0.75, refine_with_logs=APP_EXIT_REFINEMENTS),
    Rule("F01b", "app-crash", ("stop_code", "stopped_reason"),
         _p(r"^EssentialContainerExited$|Essential container in task exited"), 730, "critical",
         "{count} of {total} stopped tasks stopped because an essential container exited.",
         "Read the container logs; roll back to the last good revision and fix the application.",
         confidence=0.6, refine_with_logs=APP_EXIT_REFINEMENTS),

    # ---- deployments (wrappers: the cause is one level down) ------------------------------------------
    Rule("F30", "deployment-failing", ("deployment", "service_event"),
         _p(rf"circuit breaker: {TASKS} failed to start|deployment failed: {TASKS} failed to start"
            r"|could not launch \S+ tasks? for deployment|rolloutState=FAILED"
            r"|rolloutState=(?:IN_PROGRESS|NONE) failedTasks=[1-9]|status=(?:FAILED|STOPPED)\b"),
         900, "high", "A deployment is failing (circuit breaker / failed tasks).",
         "Look one level down: the stopped tasks of that deployment name the cause.", wrapper=True, confidence=0.9),
    Rule("F32", "deployment-failing", ("deployment", "service_event"),
         _p(r"deployment failed: alarm detected|alarm detected|triggeredAlarms=\S"), 905, "high",
         "A deployment was failed by a CloudWatch alarm.",
         "Investigate the alarm that fired for the new revision; the stopped tasks and logs name the cause.",
         wrapper=True, confidence=0.9),
    Rule("F31", "deployment-failing", ("deployment", "service_event"),
         _p(r"rolling back to deployment|rolling back to deploymentId|status=ROLLBACK_"), 910, "medium",
         "ECS rolled a deployment back.", "Look one level down: the stopped tasks of the failed deployment.",
         wrapper=True, confidence=0.85),
    Rule("F34", "deployment-failing", ("service_event",), _p(rf"is unable to consistently start {TASKS} successfully"),
         915, "high", "ECS reports it cannot start tasks consistently (start impaired).",
         "Look at the recent stopped tasks for the reason.", wrapper=True, confidence=0.7),

    # ---- service events (scheduler) -------------------------------------------------------------------
    Rule("F33", "deployment-configuration-blocking", ("service_event",),
         _p(r"unable to stop or start tasks during a deployment because of the service deployment configuration"), 920,
         "high", "The deployment configuration lets the scheduler neither stop nor start a task "
         "(minimumHealthyPercent/maximumPercent) ({count} service events).",
         "Let the scheduler stop or start at least one task: adjust minimumHealthyPercent or maximumPercent.",
         confidence=0.9),
    Rule("F40", "protected-tasks-block-scale-in", ("service_event",),
         _p(r"number of protected tasks (?:are|is) more than the desired count|DEPLOYMENT_BLOCKED"), 925, "high",
         "Protected tasks exceed the desired count, so the service cannot scale in or finish its deployment "
         "({count} service events).",
         "Unset task protection (UpdateTaskProtection protectionEnabled=false) on tasks that may stop, wait for it to "
         "expire, or raise the desired count above the number of protected tasks.", confidence=0.9),
    Rule("F34b", "ecs-api-throttled", ("service_event",),
         _p(r"operations are being throttled|ECS_OPERATION_THROTTLED|SERVICE_DISCOVERY_OPERATION_THROTTLED"), 930,
         "medium", "ECS throttles the service's operations ({count} service events).",
         "Transient: ECS retries. Lower the churn (concurrent deployments, scale-outs, RunTask bursts) or request an "
         "API rate quota increase.", transient=True, confidence=0.85),

    # ---- service events (placement) -----------------------------------------------------------------
    Rule("F22b", "elb-health-check-failed", ("service_event",),
         _p(r"is unhealthy in \(?(?:target-group|elb)|TARGET (?:GROUP )?IS NOT FOUND|failed ELB health checks"), 1000, "high",
         "The load balancer reports tasks unhealthy ({count} service events).",
         "Check the target group's health-check path/port and success codes, the security group from the load "
         "balancer, and healthCheckGracePeriodSeconds; roll back if a new revision caused it.", confidence=0.85),
    Rule("F23b", "container-health-check-failed", ("service_event",), _p(r"failed container health checks"), 1005,
         "high", "Tasks fail their container health check ({count} service events).",
         "Fix the healthCheck command and its timing; roll back if a new revision caused it.", confidence=0.85),
    Rule("F24b", "port-conflict", _PLACEMENT, _p(r"already using a port|RESOURCE:PORTS|Not enough ports"), 1010,
         "high", "Tasks cannot be placed: the host port they need is already in use ({count} signals).",
         "Use dynamic host ports (hostPort 0) or the awsvpc network mode.", confidence=0.9),
    Rule("F24e", "host-port-exhaustion", _PLACEMENT,
         _p(r"Too many ports registered|maximum allowed reserved port limit"), 1011, "high",
         "Tasks cannot be placed: the container instances have no host ports left ({count} signals).",
         "Add container instances or lower the tasks per instance; awsvpc tasks do not use host ports.",
         confidence=0.85),
    Rule("F19b", "eni-attachment-limit", _PLACEMENT,
         _p(r"RESOURCE:ENI|ENI attachment points|network interface attachment points"), 1012, "high",
         "Tasks cannot be placed: the container instances have no free network interface attachment points "
         "({count} signals).",
         "Opt in to awsvpcTrunking and use supported instance types, or add container instances.", confidence=0.9),
    Rule("F24", "placement-insufficient-resources", _PLACEMENT,
         _p(r"insufficient (?:CPU|memory|GPU)|RESOURCE:(?:CPU|MEMORY|GPU)"
            r"|Unable to attach network interface to unused device index"), 1015, "high",
         "Tasks cannot be placed: no container instance has enough free CPU/memory ({count} signals).",
         "Add capacity (ASG / capacity provider managed scaling) or lower the task size.", confidence=0.9),
    Rule("F38", "agent-disconnected", _PLACEMENT,
         _p(r"encountered error \"?AGENT|TaskFailedToStart: AGENT\b|Timed out waiting for Amazon ECS Agent"
            r"|(?-i:^AGENT$)"), 1018, "critical",
         "Tasks cannot be placed: the ECS agent on the container instances is disconnected ({count} signals).",
         "Restart the agent (sudo systemctl restart ecs) and read /var/log/ecs/ecs-agent.log; check the instance "
         "profile and the network path to ECS, or replace the instance.", confidence=0.9),
    Rule("F25", "placement-no-instances", _PLACEMENT,
         _p(r"No Container Instances were found|no container instances (?:in|were)|NO ACTIVE INSTANCES"
            r"|EMPTY CAPACITY PROVIDER"), 1020, "critical",
         "Tasks cannot be placed: the cluster has no usable container instances ({count} signals).",
         "Register instances: fix the capacity provider / ASG (desired > 0), ECS_CLUSTER in user data and the "
         "instance profile.", confidence=0.9),
    Rule("F24d", "placement-constraint-unmet", _PLACEMENT,
         _p(r"placement constraint unsatisfied|missing (?:an |a )?(?:required )?attribute|(?-i:\bATTRIBUTE\b)"
            r"|(?-i:\bLOCATION\b)|not compatible with the selected compute strategy"), 1022, "high",
         "Tasks cannot be placed: no container instance satisfies the placement constraints or required attributes "
         "({count} signals).",
         "Relax the placement constraint, or register instances with the required attribute in the service's "
         "subnets/AZs.", confidence=0.85),
    Rule("F26", "capacity-unavailable", _PLACEMENT,
         _p(r"Capacity is unavailable at this time|RESOURCE:FARGATE|Reason: Internal error"), 1025, "high",
         "AWS has no capacity for the tasks right now ({count} signals).",
         "Transient: retry, add subnets in more AZs, or fall back from Spot to on-demand.",
         transient=True, confidence=0.85),
    Rule("F27", "quota-exceeded", _PLACEMENT,
         _p(r"reached the limit on the number of|configuration is above your limit|provisioning capacity limit was exceeded"),
         1030, "high", "An account quota stops new tasks ({count} signals).",
         "Request a Service Quotas increase or lower concurrency.", confidence=0.9),
    Rule("F24c", "placement-insufficient-resources", _PLACEMENT,
         _p(r"unable to place a task because no container instance met all of its requirements"),
         1035, "high", "Tasks cannot be placed on the cluster's instances ({count} signals).",
         "Add capacity or relax the placement constraints/attributes.", confidence=0.65),

    # ---- application logs (read for tasks whose container exited on its own) -------------------------
    Rule("L01", "image-platform-mismatch", ("log",), _p(r"exec format error"), 1100, "critical",
         "The container binary is built for another CPU architecture (exec format error in the logs).",
         "Build a multi-arch image or set runtimePlatform.cpuArchitecture to match the image.", confidence=0.9),
    Rule("L02", "missing-config", ("log",),
         _p(r"\bKeyError: ['\"]\w+"
            r"|environment variable\b.{0,80}?\b(?:is not set|not set|is missing|missing|is required|must be set|undefined|not defined|not found)"
            r"|(?:missing|required) (?:required )?(?:environment variable|env var|config(?:uration)?(?: key| value| setting)?|setting)"
            r"|\bField required\b|\bfield required\b|ImproperlyConfigured|\bConfigError\b|ConfigurationError"
            r"|undefined environment variable|\benv(?:ironment)? var(?:iable)? \S+ (?:is )?(?:not set|missing|required)"
            r"|Missing required (?:key|property|parameter)|must be set\b|is not set\b"
            r"|validation errors? for \w*(?:Settings|Config)|required key \S+ missing|Could not resolve placeholder"
            r"|key not found: \"?[A-Z][A-Z0-9_]+"
            # shells: set -u, ${VAR:?}
            r"|: unbound variable\b|\bparameter (?:null or )?not set\b"
            # Node (envalid, dotenv-safe), Python (decouple), Rust (std::env::var), .NET, Spring, Rails, Laravel
            r"|Missing environment variables?|MissingEnvVarsError|UndefinedValueError|not found\. Declare it as envvar"
            r"|on an `Err` value: NotPresent|Value cannot be null\. \(Parameter '\w*(?:[Cc]onnection|[Kk]ey|[Ss]ecret)"
            r"|ConnectionString property has not been initialized|Failed to configure a DataSource"
            r"|Failed to bind properties under|Missing `?secret_key_base|No application encryption key has been specified"
            # official database images
            r"|superuser password is not specified|password option is not specified"
            r"|You need to specify one of the following as an environment variable"), 1105, "critical",
         "The application exits because a setting is missing or invalid (logs name it).",
         "Restore the setting (environment/secrets in the task definition) or roll back to the last good revision.",
         confidence=0.9),
    Rule("L03", "task-role-access-denied", ("log",),
         _p(r"AccessDenied(?:Exception)?|is not authorized to perform|UnauthorizedOperation|AuthorizationError"
            r"|not authorized to perform"), 1110, "critical",
         "The application is denied AWS API calls by its task role (logs).",
         "Grant the task role the permission the logs name.", confidence=0.85),
    Rule("L04", "dependency-unreachable", ("log",),
         _p(r"connection refused|ECONNREFUSED|Connection timed out|ETIMEDOUT|connect timeout|timed out connecting"
            r"|could not connect to|could not translate host name|Name or service not known|nodename nor servname"
            r"|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|Temporary failure in name resolution|no such host|No route to host"
            r"|EHOSTUNREACH|Unknown (?:MySQL )?server host|Can't connect to|Connection reset by peer|ECONNRESET"
            r"|unable to connect to|failed to connect to|Connection to \S+ refused|server closed the connection unexpectedly"
            r"|dial tcp \S+: (?:connect|i/o timeout)|OperationalError|CommunicationsException|Redis.*(?:timeout|refused)"
            r"|ConnectTimeout|UnknownHostException|ENETUNREACH|Network is unreachable|ServerSelectionError"),
         1115, "high",
         "The application cannot reach a dependency (database, cache or API) according to its logs.",
         "Fix the dependency or the network path to it (security groups, DNS, endpoint); restarting tasks does not help.",
         confidence=0.85),
    Rule("L05", "container-oom", ("log",),
         _p(r"java\.lang\.OutOfMemoryError|heap out of memory|\bMemoryError\b|Cannot allocate memory|out of memory"
            r"|OOMKilled|oom-kill"), 1120, "critical",
         "The application ran out of memory according to its logs.",
         "Raise the memory limit or fix the leak; roll back if a new revision introduced it.", confidence=0.8),
    Rule("L06", "app-crash", ("log",),
         _p(r"Traceback \(most recent call last\)|^\s*[\w.]*(?:Error|Exception)\b:?|\bpanic:|\bFATAL\b|fatal error"
            r"|Segmentation fault|Unhandled (?:exception|rejection)|uncaught exception|\bERROR\b|exited with code [1-9]"),
         1125, "critical", "The application crashed: its logs show an error or stack trace.",
         "Roll back to the last good revision and fix the application.", confidence=0.85),

    # ---- metrics and alarms ----------------------------------------------------------------------------
    Rule("M01", "cpu-saturation", ("metric",), _p(r"^CPUUtilization$"), 1200, "high",
         "The service's CPU utilisation is at its limit.",
         "Scale out (desiredCount +1) or raise the task CPU.", confidence=0.8, threshold=85.0),
    Rule("M02", "memory-pressure", ("metric",), _p(r"^MemoryUtilization$"), 1205, "high",
         "The service's memory utilisation is near its limit, without OOM kills yet.",
         "Scale out or raise memory; look for a leak in the latest revision.", confidence=0.75, threshold=90.0),
    Rule("A01", "cpu-saturation", ("alarm",), _p(r"CPUUtilization|CpuUtilized|\bcpu\b"), 1210, "high",
         "A CPU alarm for the service is in ALARM.", "Scale out (desiredCount +1) or raise the task CPU.",
         confidence=0.8),
    Rule("A02", "memory-pressure", ("alarm",), _p(r"MemoryUtilization|MemoryUtilized|\bmem(?:ory)?\b"), 1215, "high",
         "A memory alarm for the service is in ALARM.", "Scale out or raise memory; look for a leak.",
         confidence=0.75),

    # ---- service state and resolution -----------------------------------------------------------------
    Rule("S01", "scaled-to-zero", ("service_state",), _p(r"^desiredCount=0 runningCount=0\b"), 1300, "high",
         "The service's desired count is 0: it was scaled down and runs no tasks.",
         "If unintended, restore desiredCount (in +1 steps).", confidence=0.9),
    Rule("F42", "healthy", ("service_event", "deployment"),
         _p(r"has reached a steady state|deployment completed|rolloutState=COMPLETED failedTasks=0\b|status=SUCCESSFUL"),
         1400, "info", "The service reports a steady state.", "None.", benign=True, confidence=0.9),
), key=lambda r: r.priority))

RULES_BY_ID = {r.id: r for r in RULES}


def rules_for(where: Where) -> tuple[Rule, ...]:
    return _BY_WHERE.get(where, ())


def first_match(where: Where, text: object) -> tuple[Rule, re.Match[str]] | None:
    """The first rule (in priority order) of this field that matches the text."""
    flat = normalise(text)
    if not flat:
        return None
    for rule in rules_for(where):
        m = rule.pattern.search(flat)
        if m:
            return rule, m
    return None


_BY_WHERE: dict[str, tuple[Rule, ...]] = {
    w: tuple(r for r in RULES if w in r.where)
    for w in ("stop_code", "stopped_reason", "container_reason", "exit_code", "failed_sidecar", "deployment",
              "service_event", "log", "metric", "alarm", "service_state")
}
