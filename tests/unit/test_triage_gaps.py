"""The classes of miss found on held-out scenarios, each with a scenario of our own, and the documented failures that
had no cause id. Texts are written from AWS's documentation and public reports."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.classifier import classify
from tests.unit.evidence_builder import EvidenceBuilder, failing_deploy, placement_world


def triage(b: EvidenceBuilder):
    result = classify(b.build())
    assert result.findings[0].category == result.root_cause.category
    return result


def categories(result) -> list[str]:
    return [f.category for f in result.findings]


# ---- evidence never read ---------------------------------------------------------------------------------


def test_alarm_rollback_seen_only_in_service_deployments_reads_the_failing_revisions_logs():
    """ECS rolled api:21 back after its 5xx alarm fired; DescribeServices only shows api:20 again. The failing
    revision's tasks were stopped by the rollback (a routine stop), so only their logs say why."""
    b = EvidenceBuilder(desired=2)
    b.taskdef(20).taskdef(21)
    b.deployment(20, status="PRIMARY", age=8)
    b.running_task(20, age=8)
    b.running_task(20, age=8)
    b.service_deployment(21, "ROLLBACK_SUCCESSFUL", age=9, source=20, triggered_alarms=["api-5xx-high"],
                         reason="Service deployment rolled back because alarm(s) api-5xx-high went into ALARM state.")
    for age in (12, 11):
        t = b.stopped(21, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/1000020)",
                      exit_code=143, age=age)
        b.log(t, "INFO booting api 2.4.1", "ERROR payment client disabled: environment variable PAYMENT_URL is not set",
              "ERROR GET /checkout 500")
    b.alarm("api-5xx-high", "HTTPCode_Target_5XX_Count")
    r = triage(b)
    assert r.root_cause.category == "missing-config"
    assert "deployment-failing" in categories(r)
    assert any("PAYMENT_URL" in line for line in r.root_cause.evidence)
    assert r.suggested_actions[0].action == "none"  # ECS already runs api:20 again


def test_steady_service_whose_tasks_are_denied_aws_calls_is_not_healthy():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    b.event("(service api) has reached a steady state.", age=10)
    for _ in range(2):
        t = b.running_task(31)
        b.log(t, "INFO GET /health 200",
              "ERROR upload failed: botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the "
              "PutObject operation: User: arn:aws:sts::123456789012:assumed-role/api-task/abc is not authorized to "
              "perform: s3:PutObject on resource: arn:aws:s3:::receipts/2025/03/14.pdf")
    r = triage(b)
    assert r.root_cause.category == "task-role-access-denied"
    assert r.suggested_actions[0].action == "none"


def test_steady_service_with_quiet_logs_stays_healthy():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    for _ in range(2):
        b.log(b.running_task(31), "INFO GET /health 200", "WARN slow request 812 ms")
    assert triage(b).root_cause.category == "healthy"


def test_sidecar_noise_is_not_the_cause():
    b = failing_deploy()
    for age in (20, 12):
        t = b.stopped(12, exit_code=1, age=age)
        b.log(t, "Traceback (most recent call last):", "KeyError: 'DATABASE_URL'")
        b.logs.append({"group": "/ecs/api", "stream": f"ecs/envoy/{t}", "task_id": t, "container": "envoy",
                       "essential": False, "events": [{"timestamp": "2025-03-14T11:50:00+00:00", "message":
                                                       "[error] upstream connect error: connection refused"}]})
    r = triage(b)
    assert r.root_cause.category == "missing-config"


def test_a_log_router_sidecars_errors_do_not_explain_an_app_exit():
    b = failing_deploy()
    for age in (20, 12):
        t = b.stopped(12, exit_code=2, age=age)
        b.logs.append({"group": "/ecs/api", "stream": f"ecs/log_router/{t}", "task_id": t, "container": "log_router",
                       "essential": False, "events": [{"timestamp": "2025-03-14T11:50:00+00:00", "message":
                                                       "[error] [output:es:es.0] HTTP status=0 Connection refused"}]})
    assert triage(b).root_cause.category == "app-crash"


# ---- texts not matched -----------------------------------------------------------------------------------


def test_placement_reason_in_a_stopped_task():
    b = failing_deploy(launch_type="EC2")
    b.instance()
    for age in (15, 8, 2):
        b.stopped(12, "TaskFailedToStart", "TaskFailedToStart: RESOURCE:MEMORY", exit_code=None, age=age)
    r = triage(b)
    assert r.root_cause.category == "placement-insufficient-resources"
    assert "deployment-failing" in categories(r)


MISSING_CONFIG = [
    ["/usr/local/bin/docker-entrypoint.sh: line 12: DATABASE_URL: unbound variable"],  # bash set -u
    ["/entrypoint.sh: 4: REDIS_HOST: parameter not set"],  # dash ${VAR:?}
    ["Error: Database is uninitialized and superuser password is not specified.",  # postgres image
     "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser."],
    ["2025-03-14 11:50:01+00:00 [ERROR] [Entrypoint]: Database is uninitialized and password option is not specified",
     "    You need to specify one of the following as an environment variable:"],  # mysql image
    ["Error: Missing environment variables:", "    STRIPE_KEY: undefined"],  # node envalid
    ["decouple.UndefinedValueError: SECRET_KEY not found. Declare it as envvar or define a default value."],
    ["thread 'main' panicked at src/main.rs:9:42:", "called `Result::unwrap()` on an `Err` value: NotPresent"],
    ["***************************", "APPLICATION FAILED TO START", "***************************", "Description:",
     "Failed to configure a DataSource: 'url' attribute is not specified and no embedded datasource could be "
     "configured."],  # Spring Boot
    ["Unhandled exception. System.ArgumentNullException: Value cannot be null. (Parameter 'connectionString')"],
    ["ArgumentError: Missing `secret_key_base` for 'production' environment, set this string with `bin/rails "
     "credentials:edit`"],  # Rails
    ["In EncryptionServiceProvider.php line 79: No application encryption key has been specified."],  # Laravel
]


@pytest.mark.parametrize("lines", MISSING_CONFIG, ids=range(len(MISSING_CONFIG)))
def test_missing_configuration_in_the_words_of_shells_runtimes_and_frameworks(lines):
    b = failing_deploy()
    for age in (20, 12):
        b.log(b.stopped(12, exit_code=1, age=age), *lines)
    assert triage(b).root_cause.category == "missing-config"


@pytest.mark.parametrize("reason,cause", [
    # the reference is wrong (amazon-ecs-agent#2343): not a permission problem
    ("CannotPullContainerError: Error response from daemon: pull access denied for acme/web-api, repository does "
     "not exist or may require 'docker login': denied: requested access to the resource is denied", "image-not-found"),
    # ECR says who was refused: a permission problem even though the image is named
    ("CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref "
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v9: denied: User: arn:aws:sts::123456789012:assumed-role/"
     "api-exec/x is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:123456789012:"
     "repository/api because no identity-based policy allows the ecr:BatchGetImage action", "image-pull-access-denied"),
])
def test_pull_errors_mixing_access_and_existence_words(reason, cause):
    b = failing_deploy()
    for age in (20, 12):
        b.stopped(12, "TaskFailedToStart", reason, exit_code=None, age=age)
    assert triage(b).root_cause.category == cause


# ---- documented failures that had no cause id --------------------------------------------------------------


NEW_CAUSE_EVENTS = [
    ("agent-disconnected", 'service reports was unable to place a task because no container instance met all of its '
                           'requirements. The closest matching container-instance 5f6a1c2e encountered error "AGENT".'),
    ("placement-constraint-unmet", 'service reports was unable to place a task because no container instance met all '
                                   'of its requirements. The closest matching container-instance 2811a2a8 encountered '
                                   'error "MemberOf placement constraint unsatisfied.".'),
    ("eni-attachment-limit", "(service reports) was unable to place a task because no container instance met all of "
                             "its requirements. Reason: RESOURCE:ENI"),
    ("deployment-configuration-blocking", "service (reports) was unable to stop or start tasks during a deployment "
                                          "because of the service deployment configuration. Update the "
                                          "minimumHealthyPercent or maximumPercent value and try again."),
    ("protected-tasks-block-scale-in", "service (reports) was unable to reach steady state because task set "
                                       "(ecs-svc/5521) was unable to scale in. Reason: The number of protected tasks "
                                       "are more than the desired count of tasks"),
    ("ecs-api-throttled", "service (reports) operations are being throttled. Will try again later."),
]


@pytest.mark.parametrize("cause,message", NEW_CAUSE_EVENTS, ids=[c[0] for c in NEW_CAUSE_EVENTS])
def test_documented_service_event_with_its_own_cause(cause, message):
    b = placement_world()
    for age in (18, 9, 2):
        b.event(message, age=age)
    r = triage(b)
    assert r.root_cause.category == cause
    assert r.suggested_actions[0].action == "none"


def test_unable_to_place_with_every_agent_disconnected():
    b = placement_world(agents_connected=False)
    b.event("service (reports) was unable to place a task because no container instance met all of its "
            "requirements.", age=3)
    r = triage(b)
    assert r.root_cause.category == "agent-disconnected"
    assert any("agent connected" in line for line in r.root_cause.evidence)


def test_port_taken_with_dynamic_host_ports_means_the_instances_ran_out_of_ports():
    b = EvidenceBuilder(service="reports", desired=40, running=31, launch_type="EC2")
    b.instance()
    b.taskdef(3, portMappings=[{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}])
    b.deployment(3, age=20)
    b.event("service (reports) was unable to place a task because no container instance met all of its requirements. "
            "The closest matching container-instance 5f6a is already using a port required by your task.", age=2)
    assert triage(b).root_cause.category == "host-port-exhaustion"
    b.taskdefs[3]["containerDefinitions"][0]["portMappings"][0]["hostPort"] = 8080
    assert triage(b).root_cause.category == "port-conflict"


@pytest.mark.parametrize("reason,stop_code,cause", [
    ("Host EC2 (instance i-0abc123def4567890) terminated.", "TerminationNotice", "host-instance-stopped"),
    ("Host EC2 (instance i-0abc123def4567890) stopped.", None, "host-instance-stopped"),
    ("Host EC2 (instance i-0abc123def4567890) terminated.", "SpotInterruption", "spot-interruption"),
])
def test_a_lost_host_is_spot_only_when_ecs_says_so(reason, stop_code, cause):
    b = EvidenceBuilder(desired=3, running=2, launch_type="EC2")
    b.deployment(9)
    for age in (6, 5):
        b.stopped(9, stop_code, reason, exit_code=143, age=age)
    r = triage(b)
    assert r.root_cause.category == cause
    assert r.suggested_actions[0].action == "none"


@pytest.mark.parametrize("reason", ["CannotStopContainerError: failed sending SIGTERM to container: context deadline "
                                    "exceeded", "CannotInspectContainerError: Could not transition to inspecting; "
                                                "timed out after waiting 30s"])
def test_runtime_could_not_stop_or_inspect_a_container(reason):
    b = EvidenceBuilder(desired=2, running=1, launch_type="EC2")
    b.deployment(4)
    for age in (9, 4):
        b.stopped(4, "TaskFailedToStart", "Task failed to start", exit_code=None, container_reason=reason, age=age)
    assert triage(b).root_cause.category == "container-runtime-error"


def test_aws_endpoint_names_that_do_not_resolve_are_vpc_dns():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: "
                  "execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been "
                  "retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1."
                  "amazonaws.com/\": dial tcp: lookup api.ecr.us-east-1.amazonaws.com on 10.0.0.2:53: no such host",
                  exit_code=None, age=age)
    r = triage(b)
    assert r.root_cause.category == "vpc-dns-resolution"
    assert r.suggested_actions[0].action == "none"  # a VPC setting: nothing a rollback changes


@pytest.mark.parametrize("containers", [
    [{"name": "api", "lastStatus": "STOPPED", "exitCode": 143, "healthStatus": "HEALTHY"},
     {"name": "ecs-service-connect-7Hq2", "image": "public.ecr.aws/ecs/ecs-service-connect-agent:interface-v1",
      "lastStatus": "STOPPED", "exitCode": 137, "healthStatus": "UNHEALTHY"}],
    [{"name": "api", "lastStatus": "STOPPED", "exitCode": 143},
     {"name": "envoy", "image": "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod",
      "lastStatus": "STOPPED", "exitCode": 1}],
])
def test_a_failed_mesh_sidecar_is_not_an_app_failure(containers):
    b = failing_deploy()
    for age in (20, 10):
        reason = ("Task failed container health checks" if any(c.get("healthStatus") == "UNHEALTHY" for c in containers)
                  else "Essential container in task exited")
        b.stopped(12, "ServiceSchedulerInitiated", reason, age=age, containers=[dict(c) for c in containers])
    r = triage(b)
    assert r.root_cause.category == "sidecar-failed"
    assert "sidecar" in r.root_cause.evidence[0]


def test_an_app_crash_beside_a_healthy_sidecar_is_the_app():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, age=age, containers=[{"name": "api", "lastStatus": "STOPPED", "exitCode": 1},
                                           {"name": "envoy", "lastStatus": "STOPPED", "exitCode": 0}])
    assert triage(b).root_cause.category == "app-crash"


COVERED = {c for c, _ in NEW_CAUSE_EVENTS} | {"host-port-exhaustion", "host-instance-stopped",
                                              "container-runtime-error", "vpc-dns-resolution", "sidecar-failed"}
