"""classify(evidence): hand-built evidence documents, one realistic case per taxonomy cause, and the traps."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.aws_ecs_service.diagnosis import classifier
from agents.aws_ecs_service.diagnosis.classifier import classify, classify_task
from agents.aws_ecs_service.diagnosis.taskdef_diff import diff_task_definitions, short_name
from tests.unit.evidence_builder import EvidenceBuilder, failing_deploy, placement_world
from tests.unit.test_triage_gaps import COVERED as TRIAGE_GAPS

TAXONOMY = json.loads(Path(classifier.__file__).with_name("taxonomy.json").read_text())
CAUSES = {c["id"] for c in TAXONOMY["categories"] if c["kind"] == "cause"}
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api/db-Qx81Lm"


def triage(b: EvidenceBuilder):
    result = classify(b.build())
    assert result.findings[0].category == result.root_cause.category
    assert 0.0 <= result.root_cause.confidence <= 1.0
    assert result.stats.api_calls == 0
    return result


def categories(result) -> list[str]:
    return [f.category for f in result.findings]


def action(result):
    assert len(result.suggested_actions) == 1
    return result.suggested_actions[0]


# ---- start failures and crashes of a new revision (one level below the failing deployment) ------------

START_FAILURES = [
    ("image-not-found", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                        "ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v9: 123456789012.dkr.ecr.us-east-1."
                        "amazonaws.com/api:v9: not found", None),
    ("image-pull-access-denied", "CannotPullContainerError: pull image manifest has been retried 1 time(s): denied: "
                                 "User: arn:aws:sts::1:assumed-role/api-exec/x is not authorized to perform: "
                                 "ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:1:repository/api", None),
    ("image-pull-network", 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to do '
                           'request: Head "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/api/manifests/v9": '
                           'dial tcp 52.1.2.3:443: i/o timeout', None),
    ("secrets-access-denied", f"ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              f"resource retrieval failed: unable to retrieve secret from asm: service call has been "
                              f"retried 1 time(s): failed to fetch secret {SECRET} from secrets manager: "
                              f"AccessDeniedException: User: arn:aws:sts::1:assumed-role/api-exec/x is not authorized "
                              f"to perform: secretsmanager:GetSecretValue on resource: {SECRET}", None),
    ("secrets-network", "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                        "retrieval failed: unable to retrieve secrets from ssm: The task cannot pull secrets from AWS "
                        "Systems Manager. There is a connection issue between the task and AWS Systems Manager "
                        "Parameter Store. Check your task network configuration. context deadline exceeded", None),
    ("log-configuration-error", "ResourceInitializationError: failed to validate logger args: create stream has been "
                                "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
                                "The specified log group does not exist.", None),
    ("bad-entrypoint", "CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime "
                       "create failed: runc create failed: unable to start container process: exec: \"/app/run.sh\": "
                       "executable file not found in $PATH: unknown", "container"),
    ("image-platform-mismatch", "CannotPullContainerError: image Manifest does not contain descriptor matching "
                                "platform 'linux/amd64'", None),
    ("registry-rate-limit", "CannotPullContainerError: inspect image has been retried 5 time(s): httpReaderSeeker: "
                            "failed open: unexpected status code https://registry-1.docker.io/v2/library/nginx/"
                            "manifests/1.25: 429 Too Many Requests - Server message: toomanyrequests: You have reached "
                            "your pull rate limit.", None),
    ("efs-mount-failed", "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: "
                         "stderr: b'mount.nfs4: Connection timed out' : unsuccessful EFS utils command execution; "
                         "code: 32", None),
    ("disk-full", "CannotPullContainerError: write /var/lib/docker/tmp/GetImageBlob3342: no space left on device",
     None),
    ("eni-provisioning-timeout", "Timeout waiting for network interface provisioning to complete.", None),
    ("subnet-ip-exhaustion", "InsufficientFreeAddressesInSubnet", None),
    ("runtime-timeout", "ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: "
                        "container runtime error", "container"),
    ("role-assumption-failed", "ECS was unable to assume the role 'arn:aws:iam::1:role/api-task' that was provided "
                               "for this task. Please verify that the role being passed has the proper trust "
                               "relationship and permissions", None),
]


@pytest.mark.parametrize("cause,reason,where", START_FAILURES, ids=[c[0] for c in START_FAILURES])
def test_start_failure_of_a_new_revision(cause, reason, where):
    b = failing_deploy(new=12, old=11)
    for age in (30, 20, 10):
        if where == "container":
            b.stopped(12, "TaskFailedToStart", "Task failed to start", exit_code=None, container_reason=reason, age=age)
        else:
            b.stopped(12, "TaskFailedToStart", reason, exit_code=None, age=age)
    r = triage(b)
    assert r.root_cause.category == cause
    assert "deployment-failing" in categories(r)
    assert r.status == "degraded"
    assert r.root_cause.evidence[0].startswith("task/")
    transient = cause in ("eni-provisioning-timeout", "runtime-timeout", "registry-rate-limit")
    if transient:
        assert action(r).action == "none"
    else:
        assert action(r).action == "rollback"
        assert action(r).params == {"taskDefinition": "api:11"}
        assert action(r).requires_approval is True


APP_LOGS = [
    ("missing-config", ["Traceback (most recent call last):", '  File "/app/settings.py", line 4, in <module>',
                        "    DB = os.environ['DATABASE_URL']", "KeyError: 'DATABASE_URL'"]),
    ("missing-config", ["pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
                        "stripe_api_key", "  Field required [type=missing, input_value={}, input_type=dict]"]),
    ("dependency-unreachable", ["INFO connecting to postgres at db.internal:5432",
                                "psycopg2.OperationalError: could not connect to server: Connection refused",
                                "\tIs the server running on host \"db.internal\" and accepting TCP/IP connections?"]),
    ("dependency-unreachable", ["Error: getaddrinfo ENOTFOUND redis.prod.internal"]),
    ("task-role-access-denied", ["botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when "
                                 "calling the Receive operation: User: arn:aws:sts::1:assumed-role/api-task/x is not "
                                 "authorized to perform: sqs:ReceiveMessage"]),
    ("image-platform-mismatch", ["exec /usr/local/bin/api: exec format error"]),
    ("app-crash", ["Traceback (most recent call last):", '  File "/app/main.py", line 14, in <module>',
                   "ImportError: cannot import name 'quantise' from 'decimal'"]),
    ("app-crash", ["panic: runtime error: invalid memory address or nil pointer dereference",
                   "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]"]),
]


@pytest.mark.parametrize("cause,lines", APP_LOGS, ids=[f"{c[0]}-{i}" for i, c in enumerate(APP_LOGS)])
def test_essential_container_exit_is_explained_by_its_logs(cause, lines):
    b = failing_deploy(new=12, old=11)
    tasks = [b.stopped(12, exit_code=1, age=age) for age in (30, 20, 10)]
    b.log(tasks[0], *lines)
    b.log(tasks[1], *lines)  # the third task's stream was not read: it takes its peers' answer
    r = triage(b)
    assert r.root_cause.category == cause
    assert "deployment-failing" in categories(r)
    assert any(line.startswith("log task/") for line in r.root_cause.evidence)
    assert action(r).action == "rollback" and action(r).params == {"taskDefinition": "api:11"}


def test_app_crash_without_logs_still_names_the_exit():
    b = failing_deploy()
    for age in (25, 15, 5):
        b.stopped(12, exit_code=2, age=age)
    r = triage(b)
    assert r.root_cause.category == "app-crash"
    assert "exit code 2" in r.root_cause.summary
    assert r.root_cause.evidence[0].endswith("(exit 2)")


def test_segfault_exit_139_is_an_app_crash():
    b = failing_deploy()
    b.stopped(12, exit_code=139, age=12)
    assert triage(b).root_cause.category == "app-crash"


@pytest.mark.parametrize("code", [126, 127])
def test_exit_126_127_is_bad_entrypoint(code):
    b = failing_deploy()
    b.stopped(12, exit_code=code, age=12)
    b.stopped(12, exit_code=code, age=6)
    assert triage(b).root_cause.category == "bad-entrypoint"


def test_warn_lines_do_not_explain_an_exit():
    b = failing_deploy()
    t = b.stopped(12, exit_code=1, age=10)
    b.log(t, "WARN redis connection refused, retrying in 1s", "ImportError: No module named 'orjson'")
    assert triage(b).root_cause.category == "app-crash"


def test_classify_task_explains_one_task_and_skips_non_essential_exits():
    task = {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/ab12", "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "sidecar", "exitCode": 137}, {"name": "app", "exitCode": 1}]}
    sidecar_optional = {"containerDefinitions": [{"name": "sidecar", "essential": False}, {"name": "app"}]}
    assert classify_task(task).exit_code == 137  # without the task definition every container counts
    verdict = classify_task(task, sidecar_optional)
    assert (verdict.exit_code, verdict.rule.cause) == (1, "app-crash")
    assert classify_task({"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/cd34"}) is None  # no reason given
    assert classify_task({"taskArn": "t/ef56", "stoppedReason": "something new"}).rule is None


# ---- OOM --------------------------------------------------------------------------------------------


def test_oom_after_a_revision_lowered_memory():
    b = EvidenceBuilder(desired=4, running=2)
    b.taskdef(61, memory="2048", container_memory=2048).taskdef(62, memory="1024", container_memory=1024)
    b.deployment(62, rollout="IN_PROGRESS", failed=5, age=55, running=2)
    b.deployment(61, status="ACTIVE", age=60 * 24 * 12)
    for age in (44, 36, 28, 20, 12):
        b.stopped(62, exit_code=137, container_reason="OutOfMemoryError: Container killed due to memory usage", age=age)
    b.metric("MemoryUtilization", 96, 99, 98, 97).alarm("api-memory-high", "MemoryUtilization")
    r = triage(b)
    assert r.root_cause.category == "container-oom"  # not memory-pressure, despite the alarm
    assert "memory-pressure" not in categories(r)
    assert "deployment-failing" in categories(r)
    assert r.root_cause.evidence[0].endswith(": OutOfMemoryError: Container killed due to memory usage (exit 137)")
    assert r.root_cause.evidence[0].startswith("task/") and len(r.root_cause.evidence[0].split(":")[0]) == 13
    assert "api:62 vs api:61: memory 2048 -> 1024" in r.root_cause.evidence
    assert action(r).action == "rollback" and action(r).params == {"taskDefinition": "api:61"}
    assert r.root_cause.confidence >= 0.9


def test_sigkill_with_memory_at_its_limit_is_an_oom_kill():
    b = EvidenceBuilder(desired=2)
    b.deployment(5)
    b.stopped(5, exit_code=137, age=20)
    b.stopped(5, exit_code=137, age=8)
    b.metric("MemoryUtilization", 97, 99, 99)
    r = triage(b)
    assert r.root_cause.category == "container-oom"
    assert action(r).action == "none"  # no deployment introduced it: raising memory is a human's change


# ---- traps: benign stops must not become a root cause of a different kind -----------------------------


def test_scale_in_on_a_healthy_service_is_healthy():
    b = EvidenceBuilder(desired=3)
    b.deployment(31)
    b.stopped(30, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/8274629103847261)",
              exit_code=0, age=50)
    b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=143, age=20)
    b.event("(service api) has reached a steady state.", age=10)
    b.metric("CPUUtilization", 21, 24, 19).metric("MemoryUtilization", 41, 42, 41)
    b.alarm("api-cpu-high", "CPUUtilization", state="OK")
    r = triage(b)
    assert r.root_cause.category == "healthy"
    assert r.status == "healthy"
    assert action(r).action == "none" and action(r).requires_approval is False


def test_one_user_stop_on_a_healthy_service_is_healthy():
    b = EvidenceBuilder(desired=2)
    b.deployment(7)
    b.stopped(7, "UserInitiated", "Task stopped by user", exit_code=143, age=15)
    b.event("(service api) has reached a steady state.", age=5)
    r = triage(b)
    assert r.root_cause.category == "healthy"
    assert "task-stopped-by-user" in categories(r)


def test_two_user_restarts_of_a_full_service_are_routine():
    b = EvidenceBuilder(desired=3)
    b.deployment(7)
    for age in (20, 10):
        b.stopped(7, "UserInitiated", "Task stopped by user", exit_code=143, age=age)
    assert triage(b).root_cause.category == "healthy"


def test_tasks_repeatedly_stopped_by_a_person():
    b = EvidenceBuilder(desired=3, running=2)
    b.deployment(7)
    for age in (30, 18, 4):
        b.stopped(7, "UserInitiated", "Stopped by on-call: debugging", exit_code=137, age=age)
    r = triage(b)
    assert r.root_cause.category == "task-stopped-by-user"  # exit 137 after a user stop is not an OOM (F03)
    assert action(r).action == "none"


def test_exit_137_after_elb_health_check_failure_is_the_health_check():
    b = failing_deploy(service="web", new=8, old=7)
    for age in (36, 29, 22, 15):
        b.stopped(8, "ServiceSchedulerInitiated",
                  "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:1:"
                  "targetgroup/web-tg/73e2)", exit_code=137, age=age)
    b.event("(service web) (task 1234abcd) (port 8080) is unhealthy in (target-group arn:aws:elasticloadbalancing:"
            "us-east-1:1:targetgroup/web-tg/73e2) due to (reason Request timed out).", age=6)
    b.metric("MemoryUtilization", 40, 42, 41)
    r = triage(b)
    assert r.root_cause.category == "elb-health-check-failed"
    assert "container-oom" not in categories(r)
    assert action(r).params == {"taskDefinition": "web:7"}


def test_container_health_check_failure():
    b = failing_deploy(new=4, old=3)
    for age in (20, 10):
        b.stopped(4, "ServiceSchedulerInitiated", "Task failed container health checks", exit_code=143, age=age)
    b.event("(service api) (task b5067aaa) failed container health checks.", age=8)
    r = triage(b)
    assert r.root_cause.category == "container-health-check-failed"
    assert action(r).action == "rollback"


def test_health_check_failures_caused_by_an_unreachable_database():
    b = EvidenceBuilder(desired=2, running=1)
    b.deployment(9)
    for age in (25, 12):
        t = b.stopped(9, "ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group tg/web/1)",
                      exit_code=143, age=age)
        b.log(t, "ERROR sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "
                 "\"db.internal\" (10.0.3.4), port 5432 failed: Connection timed out")
    r = triage(b)
    assert r.root_cause.category == "dependency-unreachable"
    assert action(r).action == "none"  # the service itself is unchanged


def test_maintenance_stop_in_an_otherwise_healthy_service_is_never_an_app_crash():
    b = EvidenceBuilder(desired=2)
    b.deployment(3)
    b.stopped(3, "ServiceSchedulerInitiated", "Service api: ECS is performing maintenance on the underlying "
              "infrastructure hosting the task", exit_code=143, age=100)
    b.event("(service api) has reached a steady state.", age=90)
    r = triage(b)
    assert r.root_cause.category in ("healthy", "platform-maintenance")
    assert r.root_cause.category == "healthy"  # old and replaced: nothing to report
    assert "app-crash" not in categories(r)


def test_recent_maintenance_retirement_alone_is_platform_maintenance():
    b = EvidenceBuilder(desired=2, running=1)
    b.deployment(3)
    b.stopped(3, "TerminationNotice", "ECS is performing maintenance on the underlying infrastructure hosting the "
              "task", exit_code=None, age=3)
    r = triage(b)
    assert r.root_cause.category == "platform-maintenance"
    assert action(r).action == "none"


def test_maintenance_does_not_hide_a_real_crash():
    b = EvidenceBuilder(desired=2)
    b.deployment(3)
    b.stopped(3, "ServiceSchedulerInitiated", "ECS is performing maintenance on the underlying infrastructure "
              "hosting the task", exit_code=143, age=30)
    for age in (20, 9):
        b.stopped(3, exit_code=1, age=age)
    assert triage(b).root_cause.category == "app-crash"


def test_spot_interruptions():
    b = EvidenceBuilder(service="jobs", desired=4, running=3)
    b.deployment(9)
    for age in (6, 7):
        b.stopped(9, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=143, age=age)
    r = triage(b)
    assert r.root_cause.category == "spot-interruption"
    assert r.status == "degraded"
    assert action(r).action == "none" and "ransient" in action(r).rationale


def test_transient_spot_stops_do_not_outrank_a_crash():
    b = EvidenceBuilder(desired=3)
    b.deployment(9)
    for age in (6, 7, 8):
        b.stopped(9, "SpotInterruption", "Your Spot Task was interrupted.", exit_code=137, age=age)
    b.stopped(9, exit_code=1, age=5)
    r = triage(b)
    assert r.root_cause.category == "app-crash"
    assert "spot-interruption" in categories(r)


# ---- wrappers ----------------------------------------------------------------------------------------


def test_circuit_breaker_wraps_an_image_not_found():
    b = EvidenceBuilder(desired=3)
    b.taskdef(47, image_tag="v2.4.0").taskdef(48, image_tag="v2.4.1")
    dep = b.deployment(48, rollout="FAILED", failed=3, age=40, running=0,
                       reason="ECS deployment circuit breaker: tasks failed to start.")
    b.deployment(47, status="ACTIVE", age=60 * 24 * 12)
    for age in (30, 25, 20):
        b.stopped(48, "TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                  "failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2.4.1: not found",
                  exit_code=None, age=age, started_by=dep)
    b.event(f"(service api) (deployment {dep}) deployment failed: tasks failed to start.", age=18)
    b.event("(service api) rolling back to deployment ecs-svc/1000047.", age=17)
    r = triage(b)
    assert r.root_cause.category == "image-not-found"
    dep_finding = next(f for f in r.findings if f.category == "deployment-failing")
    assert dep_finding.rule in ("F30", "F31")
    assert any("image api:v2.4.0 -> api:v2.4.1" in line for line in dep_finding.evidence)
    assert r.root_cause.category != "deployment-failing"


def test_alarm_failed_deployment_wraps_an_app_crash():
    b = EvidenceBuilder(desired=2)
    b.taskdef(20).taskdef(21)
    b.deployment(20, status="PRIMARY", age=10)  # ECS already rolled back to 20
    new = b.deployment(21, status="ACTIVE", rollout="FAILED", failed=0, age=35,
                       reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000020.")
    for age in (30, 24, 18):
        t = b.stopped(21, exit_code=1, age=age, started_by=new)
        b.log(t, "Unhandled exception in request handler", "TypeError: 'NoneType' object is not subscriptable")
    b.stopped(21, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1000020)",
              exit_code=143, age=9, started_by=new)
    b.event(f"(service api) (deployment {new}) deployment failed: alarm detected.", age=12)
    b.event("(service api) rolling back to deployment ecs-svc/1000020.", age=11)
    b.alarm("api-5xx-high", "HTTPCode_Target_5XX_Count")
    r = triage(b)
    assert r.root_cause.category == "app-crash"
    assert "deployment-failing" in categories(r)
    assert action(r).action == "none"  # ECS already runs api:20 again
    assert "api:20" in action(r).rationale


def test_failing_deployment_with_nothing_below_is_a_low_confidence_guess():
    b = failing_deploy(rollout="FAILED", reason="ECS deployment circuit breaker: tasks failed to start.")
    r = triage(b)
    assert r.root_cause.category in CAUSES
    assert r.root_cause.category != "deployment-failing"
    assert r.root_cause.confidence <= 0.3
    assert "deployment-failing" in categories(r)


def test_failing_deployment_explained_by_a_placement_event():
    b = failing_deploy(launch_type="EC2")
    b.instance()
    b.event("(service api) was unable to place a task because no container instance met all of its requirements. "
            "The closest matching (container-instance 5f6a) has insufficient CPU units available.", age=4)
    r = triage(b)
    assert r.root_cause.category == "placement-insufficient-resources"
    assert "deployment-failing" in categories(r)


# ---- service events -----------------------------------------------------------------------------------

EVENT_CAUSES = [
    ("placement-insufficient-resources", "(service reports) was unable to place a task because no container instance "
     "met all of its requirements. The closest matching (container-instance 5f6a1c2e) has insufficient memory "
     "available. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."),
    ("placement-no-instances", "service (reports) was unable to reach steady state. Reason: No Container Instances "
                               "were found in your capacity provider."),
    ("port-conflict", "service (reports) was unable to place a task because no container instance met all of its "
                      "requirements. The closest matching container-instance 5f6a is already using a port required "
                      "by your task."),
    ("capacity-unavailable", "(service reports) was unable to place a task. Reason: Capacity is unavailable at this "
                             "time. Please try again later or in a different availability zone."),
    ("quota-exceeded", "(service reports) was unable to place a task. Reason: You\u2019ve reached the limit on the "
                       "number of vCPUs you can run concurrently"),
    ("subnet-ip-exhaustion", "(service reports) was unable to place a task. Reason: InsufficientFreeAddressesInSubnet"),
    ("role-assumption-failed", "service reports failed to launch a task with (error ECS was unable to assume the role "
                               "'arn:aws:iam::1:role/reports-exec' that was provided for this task. Please verify that "
                               "the role being passed has the proper trust relationship and permissions and that your "
                               "IAM user has permissions to pass this role.)"),
    ("elb-health-check-failed", "(service reports) (task 1234abcd) (port 8080) is unhealthy in (target-group "
                                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r/1) due to (reason Health checks "
                                "failed with these codes: [404])."),
    ("container-health-check-failed", "(service reports) (task b5067aaa) failed container health checks."),
    ("secrets-network", "(service reports) was unable to place a task. Reason: ResourceInitializationError: unable to "
                        "pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret "
                        "from asm: RequestCanceled: request context canceled caused by: context deadline exceeded."),
]


@pytest.mark.parametrize("cause,message", EVENT_CAUSES, ids=[c[0] for c in EVENT_CAUSES])
def test_service_event_names_the_cause(cause, message):
    b = placement_world()
    for age in (19, 13, 7, 1):
        b.event(message, age=age)
    b.event("(service reports) has started 2 tasks: (task aa11) (task bb22).", age=19.5)
    r = triage(b)
    assert r.root_cause.category == cause
    assert r.status == "degraded"
    assert r.root_cause.evidence[0].startswith("event ")
    assert action(r).action == "none"  # one revision only: nothing to roll back to


def test_unable_to_place_with_no_registered_instances_is_placement_no_instances():
    b = EvidenceBuilder(service="reports", desired=2, running=0, launch_type="EC2")
    b.deployment(3, age=20)
    b.event("service (reports) was unable to place a task because no container instance met all of its "
            "requirements.", age=3)
    r = triage(b)
    assert r.root_cause.category == "placement-no-instances"
    assert r.status == "down"
    b.instance()
    assert triage(b).root_cause.category == "placement-insufficient-resources"


def test_old_events_outside_the_window_are_ignored():
    b = EvidenceBuilder(desired=2)
    b.deployment(3)
    b.event("(service api) was unable to place a task. Reason: Capacity is unavailable at this time.", age=60 * 5)
    b.event("(service api) has reached a steady state.", age=30)
    assert triage(b).root_cause.category == "healthy"


def test_steady_state_after_failures_means_recovered():
    b = EvidenceBuilder(desired=2)
    b.deployment(3)
    b.event("(service api) has reached a steady state.", age=5)
    b.event("(service api) was unable to place a task. Reason: Capacity is unavailable at this time. Please try "
            "again later or in a different availability zone.", age=40)
    r = triage(b)
    assert r.root_cause.category == "capacity-unavailable"
    assert r.findings[0].severity == "medium"  # high, one level lower once recovered
    assert "steady state" in r.root_cause.summary


# ---- no failures: scaled to zero, saturation, healthy ------------------------------------------------


def test_scaled_to_zero():
    b = EvidenceBuilder(desired=0, running=0)
    b.deployment(31)
    for _ in range(3):
        b.stopped(31, "ServiceSchedulerInitiated", "Scaling activity initiated by (service api)", exit_code=0, age=40)
    b.event("(service api) has reached a steady state.", age=39).event(
        "(service api) has stopped 3 running tasks: (task 1a1a) (task 2b2b) (task 3c3c).", age=40)
    r = triage(b)
    assert r.root_cause.category == "scaled-to-zero"
    assert r.status == "down"
    assert action(r).action == "scale" and action(r).params == {"desiredCount": 1}
    assert action(r).requires_approval is True


def test_cpu_saturation_from_metrics_and_alarm():
    b = EvidenceBuilder(desired=3)
    b.deployment(31)
    b.metric("CPUUtilization", 55, 78, 93, 98, 99, 99).metric("MemoryUtilization", 48, 51)
    b.alarm("api-cpu-high", "CPUUtilization")
    r = triage(b)
    assert r.root_cause.category == "cpu-saturation"
    assert r.status == "degraded"
    assert action(r).action == "scale" and action(r).params == {"desiredCount": 4}


def test_cpu_alarm_alone_is_enough():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.alarm("prod-api-cpu", "CPUUtilization")
    assert triage(b).root_cause.category == "cpu-saturation"


def test_a_single_cpu_spike_is_not_saturation():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.metric("CPUUtilization", 20, 99, 22)
    assert triage(b).root_cause.category == "healthy"


def test_memory_pressure_without_oom_kills():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.metric("MemoryUtilization", 88, 92, 94, 95)
    r = triage(b)
    assert r.root_cause.category == "memory-pressure"
    assert action(r).params == {"desiredCount": 3}


def test_unrelated_alarm_in_alarm_lowers_healthy_confidence():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.alarm("api-latency-p99", "TargetResponseTime")
    r = triage(b)
    assert r.root_cause.category == "healthy"
    assert r.root_cause.confidence < 0.7
    assert any("api-latency-p99" in line for line in r.root_cause.evidence)


def test_running_tasks_logging_a_dependency_failure_with_an_alarm():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for _ in range(2):
        t = b.running_task(31)
        b.log(t, "ERROR redis.exceptions.ConnectionError: Error 111 connecting to cache.internal:6379. "
                 "Connection refused.")
    b.alarm("api-5xx", "HTTPCode_Target_5XX_Count")
    assert triage(b).root_cause.category == "dependency-unreachable"


def test_healthy_service():
    b = EvidenceBuilder(desired=3)
    b.deployment(31)
    b.event("(service api) has reached a steady state.", age=10)
    r = triage(b)
    assert r.root_cause.category == "healthy"
    assert r.status == "healthy"
    assert r.root_cause.confidence >= 0.85
    assert [f.category for f in r.findings] == ["healthy"]


def test_other_services_tasks_are_not_read():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.stopped(31, exit_code=1, age=5, group="service:billing")
    b.stopped(31, exit_code=1, age=5, group="family:api")  # a standalone RunTask of the same family
    assert triage(b).root_cause.category == "healthy"


def test_tasks_stopped_before_the_window_are_ignored():
    b = EvidenceBuilder(desired=2, window_hours=1)
    b.deployment(31)
    b.stopped(31, exit_code=1, age=90)
    assert triage(b).root_cause.category == "healthy"


def test_down_when_nothing_runs():
    b = failing_deploy(running=0)
    for age in (9, 5, 2):
        b.stopped(12, exit_code=1, age=age)
    r = triage(b)
    assert r.status == "down"
    assert r.findings[0].severity == "critical"


# ---- rollback target ----------------------------------------------------------------------------------


def test_rollback_target_skips_a_previous_revision_that_also_failed():
    b = EvidenceBuilder(desired=2, running=2)
    b.taskdef(61).taskdef(62).taskdef(63)
    b.deployment(63, rollout="IN_PROGRESS", failed=3, age=20, running=0)
    b.deployment(62, status="ACTIVE", rollout="FAILED", failed=4, age=60,
                 reason="ECS deployment circuit breaker: tasks failed to start.")
    b.deployment(61, status="ACTIVE", rollout="COMPLETED", age=60 * 24 * 5)
    b.running_task(61)
    b.running_task(61)
    for age in (55, 50):
        b.stopped(62, exit_code=1, age=age)
    for age in (15, 10, 5):
        b.stopped(63, exit_code=1, age=age)
    r = triage(b)
    assert action(r).action == "rollback"
    assert action(r).params == {"taskDefinition": "api:61"}


def test_rollback_target_falls_back_to_the_previous_task_definition():
    b = EvidenceBuilder(desired=2)
    b.taskdef(4).taskdef(5)
    b.deployment(5, rollout="IN_PROGRESS", failed=2, age=15, running=0)
    b.previous = 4
    for age in (12, 6):
        b.stopped(5, exit_code=1, age=age)
    r = triage(b)
    assert action(r).params == {"taskDefinition": "api:4"}


def test_no_rollback_to_the_current_revision_when_nothing_else_exists():
    b = EvidenceBuilder(desired=2)
    b.deployment(5, rollout="IN_PROGRESS", failed=2, age=15, running=0)
    for age in (12, 6):
        b.stopped(5, exit_code=1, age=age)
    r = triage(b)
    assert action(r).action == "none"
    assert all(a.params.get("taskDefinition") != "api:5" for a in r.suggested_actions)


def test_crash_of_a_long_running_revision_is_not_rolled_back():
    b = EvidenceBuilder(desired=2)
    b.taskdef(4).taskdef(5)
    b.deployment(5, age=60 * 24 * 6)
    b.previous = 4
    for age in (12, 6):
        b.stopped(5, exit_code=1, age=age)
    b.stopped(5, exit_code=1, age=3)
    r = triage(b)
    assert r.root_cause.category == "app-crash"
    assert action(r).action == "none"


# ---- the result ---------------------------------------------------------------------------------------


def test_result_is_deterministic_and_serialisable():
    b = failing_deploy()
    t = b.stopped(12, exit_code=1, age=10)
    b.log(t, "KeyError: 'DATABASE_URL'")
    doc = b.build()
    first, second = classify(doc).to_json_dict(), classify(json.loads(json.dumps(doc))).to_json_dict()
    assert first == second
    assert first["schema"] == "ecs-triage/v1"
    assert first["target"] == {"account": "123456789012", "region": "us-east-1", "cluster": "prod", "service": "api",
                               "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                               "service_arn": "arn:aws:ecs:us-east-1:123456789012:service/prod/api"}
    severities = {f["severity"] for f in first["findings"]}
    assert severities <= {"critical", "high", "medium", "low", "info"}
    assert all(len(line) <= 320 for f in first["findings"] for line in f["evidence"])


def test_evidence_lines_are_trimmed():
    b = failing_deploy()
    b.stopped(12, "TaskFailedToStart", "CannotPullContainerError: " + "x" * 2000 + ": not found", exit_code=None)
    r = triage(b)
    assert all(len(line) < 340 for line in r.root_cause.evidence)


# causes asserted as root cause by the single tests above (the parametrized lists add theirs)
SINGLE_CASES = {"healthy", "scaled-to-zero", "cpu-saturation", "memory-pressure", "container-oom", "spot-interruption",
                "platform-maintenance", "task-stopped-by-user", "elb-health-check-failed",
                "container-health-check-failed", "dependency-unreachable", "app-crash", "bad-entrypoint",
                "placement-no-instances", "placement-insufficient-resources", "capacity-unavailable"}


def test_every_cause_has_a_classifier_case():
    covered = SINGLE_CASES | TRIAGE_GAPS | {c[0] for c in START_FAILURES + APP_LOGS + EVENT_CAUSES}
    assert covered == CAUSES


# ---- taskdef diff -------------------------------------------------------------------------------------


def test_taskdef_diff_reports_names_never_values():
    b = EvidenceBuilder()
    b.taskdef(1, env={"DB_HOST": "db1.internal", "OLD": "x"}, secrets={"DB_PASSWORD": SECRET})
    b.taskdef(2, memory="512", env={"DB_HOST": "db2.internal", "NEW_FLAG": "on"},
              secrets={"DB_PASSWORD": SECRET + "-v2"}, command=["python", "-m", "api"],
              healthCheck={"command": ["CMD-SHELL", "curl -f localhost:8080/health"]})
    old, new = b.taskdefs[1], b.taskdefs[2]
    lines = [c.describe() for c in diff_task_definitions(old, new)]
    assert "memory 1024 -> 512" in lines
    assert "container api: image api:v1.1 -> api:v1.2" in lines
    assert "container api: environment removed: OLD" in lines
    assert "container api: environment added: NEW_FLAG" in lines
    assert "container api: environment value changed: DB_HOST" in lines
    assert "container api: secrets value changed: DB_PASSWORD" in lines
    assert any(line.startswith("container api: command (none) -> python -m api") for line in lines)
    assert any(line.startswith("container api: healthCheck (none) ->") for line in lines)
    text = " ".join(lines)
    assert "db1.internal" not in text and "db2.internal" not in text and SECRET not in text
    assert short_name(old) == "api:1" and short_name(old["taskDefinitionArn"]) == "api:1"
    assert diff_task_definitions(old, old) == []
