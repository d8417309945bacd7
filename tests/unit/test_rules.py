"""The rule table: every rule with the reference's verbatim texts (ecs-failures.md §3) and their variants."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.aws_ecs_service.diagnosis import rules
from agents.aws_ecs_service.diagnosis.rules import RULES, RULES_BY_ID, first_match
from agents.aws_ecs_service.diagnosis.signals import (
    MAX_REASON_CHARS,
    clip,
    is_low_level_log,
    normalise,
    short_id,
    strip_service_prefix,
    truncate_reason,
)

TAXONOMY = Path(rules.__file__).with_name("taxonomy.json")
ARN_TG = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-tg/73e2d6bc24d8a067"
SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/payments/db-Qx81Lm"
ECR = "111122223333.dkr.ecr.us-east-1.amazonaws.com"

# (rule id, field, verbatim text). Service events keep their ECS prefix: the classifier strips it.
CASES = [
    ("F35", "stop_code", "SpotInterruption"),
    ("F35b", "stopped_reason", "Your Spot Task was interrupted."),
    ("F35c", "stopped_reason", "Host EC2 (instance i-0abc123def4567890) terminated."),
    ("F36", "stopped_reason", "ECS is performing maintenance on the underlying infrastructure hosting the task"),
    ("F36", "stopped_reason", "Service api: ECS is performing maintenance on the underlying infrastructure hosting the task"),
    ("F36b", "stop_code", "TerminationNotice"),
    ("F02", "container_reason", "OutOfMemoryError: Container killed due to memory usage"),
    ("F02", "container_reason", "outofmemoryerror: container killed due to memory usage"),
    ("F02", "stopped_reason", "OutOfMemoryError: Container killed due to memory usage"),
    ("F22", "stopped_reason", f"Task failed ELB health checks in (target-group {ARN_TG})"),
    ("F22", "stopped_reason", "Task failed ELB health checks in (elb my-classic-elb)"),
    ("F23", "stopped_reason", "Task failed container health checks"),
    ("F16", "stopped_reason", "ResourceInitializationError: failed to validate logger args: create stream has been "
                              "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
                              "The specified log group does not exist."),
    ("F16", "stopped_reason", "ResourceInitializationError: failed to validate logger args: unable to get awslogs "
                              "driver arguments: awslogs-region is required"),
    ("F16", "stopped_reason", "ResourceInitializationError: failed to validate logger args: The task cannot find the "
                              "Amazon CloudWatch log group defined in the task definition. There is a connection issue "
                              "between the task and Amazon CloudWatch. Check your network configuration. signal: killed"),
    ("F16", "stopped_reason", "ResourceInitializationError: failed to initialize logging driver: some reason"),
    ("F17", "stopped_reason", 'ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: '
                              'stderr: Failed to resolve "fs-0123abcd.efs.us-east-1.amazonaws.com" - check that your '
                              'file system ID is correct, and ensure that the VPC has an EFS mount target'),
    ("F17", "stopped_reason", "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: "
                              "stderr: b'mount.nfs4: Connection reset by peer' : unsuccessful EFS utils command "
                              "execution; code: 32"),
    ("F10", "stopped_reason", "CannotPullContainerError: image Manifest does not contain descriptor matching platform "
                              "'linux/amd64'"),
    ("F10", "stopped_reason", "CannotPullContainerError: image Manifest does not contain descriptor matching platform "
                              "'linux/arm64'"),
    ("F11", "stopped_reason", "CannotPullContainerError: inspect image has been retried 1 time(s): ERROR: "
                              "toomanyrequests: Too Many Requests."),
    ("F11", "stopped_reason", "CannotPullContainerError: You have reached your pull rate limit. You may increase the "
                              "limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits."),
    ("F12", "stopped_reason", "CannotPullContainerError: write /var/lib/docker/tmp/GetImageBlob111111111: no space "
                              "left on device"),
    ("F12", "container_reason", "CannotCreateContainerError: API error (500): devmapper: Thin Pool has 4350 free data "
                                "blocks which is less than minimum required 4454 free data blocks. Create more free "
                                "space in thin pool or use dm.min_free_space option to change behavior"),
    ("F08", "stopped_reason", f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to "
                              f"resolve ref {ECR}/api:v1: denied: User: arn:aws:sts::111122223333:assumed-role/"
                              f"ecsTaskExecutionRole/abc is not authorized to perform: ecr:BatchGetImage on resource: "
                              f"arn:aws:ecr:us-east-1:111122223333:repository/api"),
    ("F08", "stopped_reason", "CannotPullContainerError: The task can’t pull the image. Check that the role has the "
                              "permissions to pull images from the registry. denied"),
    ("F07", "stopped_reason", "CannotPullContainerError: The task can’t pull the image. Check whether the image "
                              "exists. Error response from daemon: denied: requested access to the resource is denied"),
    ("F14", "stopped_reason", f"ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              f"resource retrieval failed: unable to retrieve secret from asm: service call has been "
                              f"retried 1 time(s): failed to fetch secret {SECRET} from secrets manager: "
                              f"AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/payments-execution/"
                              f"5d2c0a5b1e is not authorized to perform: secretsmanager:GetSecretValue on resource: "
                              f"{SECRET} because no identity-based policy allows the secretsmanager:GetSecretValue "
                              f"action status code: 400, request id: 1b3f0e7e"),
    ("F14", "stopped_reason", "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
                              "retried 1 time(s): api error AccessDeniedException: User: arn:aws:sts::1:assumed-role/x/y "
                              "is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:1:"
                              "parameter/db"),
    ("F15", "stopped_reason", "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              "resource retrieval failed: unable to retrieve secret from asm: service call has been "
                              "retried 5 time(s): ResourceNotFoundException: Secrets Manager can't find the specified "
                              "secret."),
    ("F15", "stopped_reason", "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
                              "retried 1 time(s): invalid ssm parameters: /path/to/param"),
    ("F15", "stopped_reason", "ResourceInitializationError: unable to pull secrets or registry auth: retrieved secret "
                              "from Secrets Manager did not contain json key password"),
    ("F13", "stopped_reason", 'ResourceInitializationError: unable to pull secrets or registry auth: The task cannot '
                              'pull registry auth from Amazon ECR: There is a connection issue between the task and '
                              'Amazon ECR. Check your task network configuration. RequestError: send request failed '
                              'caused by: Post "https://api.ecr.us-east-1.amazonaws.com/": dial tcp 44.213.79.86:443: '
                              'i/o timeout'),
    ("F13", "stopped_reason", f"ResourceInitializationError: unable to pull secrets or registry auth: execution "
                              f"resource retrieval failed: unable to retrieve secret from asm: service call has been "
                              f"retried 5 time(s): failed to fetch secret {SECRET}: RequestCanceled: request context "
                              f"canceled caused by: context deadline exceeded. Please check your task network "
                              f"configuration."),
    ("F13", "service_event", "(service authn) was unable to place a task. Reason: ResourceInitializationError: unable "
                             "to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve "
                             "secrets from ssm: The task cannot pull secrets from AWS Systems Manager. There is a "
                             "connection issue between the task and AWS Systems Manager Parameter Store."),
    ("F13b", "stopped_reason", "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                               "resource retrieval failed: unable to retrieve secret from asm: service call has been "
                               "retried 1 time(s): failed to fetch secret " + SECRET),
    # access and existence in one text: a wrong reference (aws/amazon-ecs-agent#2343), not a permission problem
    ("F07d", "stopped_reason", "CannotPullContainerError: Error response from daemon: pull access denied for "
                               "acme/private-api, repository does not exist or may require 'docker login': denied: "
                               "requested access to the resource is denied"),
    ("F07d", "stopped_reason", "CannotPullContainerError: Error response from daemon: manifest for elasticsearch:latest "
                               "not found"),
    ("F08b", "stopped_reason", "CannotPullContainerError: inspect image has been retried 1 time(s): failed to resolve "
                               "ref docker.io/acme/api:1.0: pulling from host registry-1.docker.io failed with status "
                               "code [manifests 1.0]: 401 Unauthorized"),
    ("F08c", "stopped_reason", "CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: "
                               "httpReaderSeeker: failed open: unexpected status code"),
    ("F08b", "stopped_reason", "CannotPullContainerError: Error response from daemon: Get https://registry.acme.io/v2/"
                               "api/manifests/1.0: no basic auth credentials"),
    ("F07b", "stopped_reason", f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
                               f"resolve ref {ECR}/api:v2.4.1: {ECR}/api:v2.4.1: not found"),
    ("F07b", "stopped_reason", f"CannotPullContainerError: API error (404): repository {ECR}/team/api not found"),
    ("F07b", "stopped_reason", f"CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: "
                               f"httpReadSeeker: failed open: content at https://{ECR}/v2/api/manifests/sha256:abc "
                               f"not found: not found: manifest unknown"),
    ("F09", "stopped_reason", f"CannotPullContainerError: API error (500): Get https://{ECR}/v2/: net/http: request "
                              f"canceled while waiting for connection"),
    ("F09", "stopped_reason", 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to '
                              'resolve ref docker.io/library/mysql:8.0: failed to do request: Head "https://registry-1.'
                              'docker.io/v2/library/mysql/manifests/8.0": dial tcp 34.226.69.105:443: i/o timeout'),
    ("F09", "stopped_reason", "CannotPullContainerError: API error"),
    ("F09", "stopped_reason", "CannotPullContainerError: pull command failed: panic: runtime error: invalid memory "
                              "address or nil pointer dereference"),
    ("F09", "stopped_reason", "CannotPullContainerError: The task can’t pull the image. Check your network "
                              "configuration"),
    ("F07c", "stopped_reason", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
                               "resolve ref " + ECR + "/" + "a" * 40),
    ("F06b", "container_reason", "CannotStartContainerError: Error response from daemon: failed to create shim task: "
                                 "OCI runtime create failed: exec format error: unknown"),
    ("F06", "container_reason", 'CannotStartContainerError: Error response from daemon: failed to create shim task: '
                                'OCI runtime create failed: runc create failed: unable to start container process: '
                                'exec: "/app/start.sh": executable file not found in $PATH: unknown'),
    ("F06", "container_reason", "CannotStartContainerError: ResourceInitializationError: failed to create new "
                                "container runtime task: failed to create shim task: OCI runtime create failed: runc "
                                "create failed: unable to start container process: exec: \"run\": permission denied"),
    ("F18", "stopped_reason", "Timeout waiting for network interface provisioning to complete."),
    ("F19", "stopped_reason", "InsufficientFreeAddressesInSubnet"),
    ("F19", "stopped_reason", "The specified subnet does not have enough free addresses to satisfy the request."),
    ("F19b", "service_event", "(service api) was unable to place a task because no container instance met all of its "
                              "requirements. Reason: RESOURCE:ENI"),
    ("F19b", "stopped_reason", "TaskFailedToStart: RESOURCE:ENI"),
    ("F19", "stopped_reason", "Unexpected EC2 error while attempting to Create Network Interface with public IP "
                              "assignment enabled in subnet 'subnet-0a1b2c3d'"),
    ("F20", "container_reason", "ContainerRuntimeTimeoutError: Could not transition to running; timed out after "
                                "waiting 1m: some reason"),
    ("F20", "container_reason", "DockerTimeoutError: Could not transition to created; timed out after waiting 4m0s"),
    ("F21", "container_reason", "CannotInspectContainerError: Could not transition to inspecting; timed out after "
                                "waiting 30s"),
    ("F21", "container_reason", "CannotStopContainerError: failed sending SIGTERM to container: x"),
    ("F21", "container_reason", "CannotCreateVolumeError: some reason"),
    ("F18b", "stopped_reason", "InternalError: some reason"),
    ("F02b", "container_reason", "CannotStartContainerError: failed to get container status: some reason"),
    ("F43", "stopped_reason", 'ResourceInitializationError: unable to pull secrets or registry auth: The task cannot '
                              'pull registry auth from Amazon ECR: RequestError: send request failed caused by: Post '
                              '"https://api.ecr.us-east-1.amazonaws.com/": dial tcp: lookup api.ecr.us-east-1.amazonaws'
                              '.com on 10.0.0.2:53: no such host'),
    ("F44", "failed_sidecar", "ecs-service-connect-7Hq2 public.ecr.aws/ecs/ecs-service-connect-agent:interface-v1"),
    ("F44", "failed_sidecar", "envoy 840364872350.dkr.ecr.us-west-2.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod"),
    ("F29", "service_event", "service my-svc failed to launch a task with (error ECS was unable to assume the role "
                             "'arn:aws:iam::111122223333:role/my-role' that was provided for this task. Please verify "
                             "that the role being passed has the proper trust relationship and permissions and that "
                             "your IAM user has permissions to pass this role.)"),
    ("F29", "service_event", "(service api) IAM trust relationship has been misconfigured or changed, and ECS can no "
                             "longer maintain your service"),
    ("F37", "stopped_reason", "Scaling activity initiated by (deployment ecs-svc/8274629103847261)"),
    ("F37", "stopped_reason", "Scaling activity initiated by (service api)"),
    ("F37", "stopped_reason", "Container instance deregistration forced by user"),
    ("F35c", "stopped_reason", "Host EC2 (instance i-0abc123) stopped."),
    ("F37", "stopped_reason", "Task stopped because the container instance is in DRAINING state"),
    ("F37b", "stopped_reason", "Task stopped by user"),
    ("F37c", "stop_code", "UserInitiated"),
    ("F37d", "stop_code", "ServiceSchedulerInitiated"),
    ("F06c", "exit_code", "126"),
    ("F06c", "exit_code", "127"),
    ("F04", "exit_code", "139"),
    ("F03", "exit_code", "137"),
    ("F05", "exit_code", "143"),
    ("F01", "exit_code", "1"),
    ("F01", "exit_code", "2"),
    ("F01", "exit_code", "255"),
    ("F01b", "stop_code", "EssentialContainerExited"),
    ("F01b", "stopped_reason", "Essential container in task exited"),
    ("F01b", "stopped_reason", "Essential container in task exited. Exit code: 1"),
    ("F30", "deployment", "rolloutState=FAILED failedTasks=3 ECS deployment circuit breaker: tasks failed to start."),
    ("F30", "deployment", "rolloutState=IN_PROGRESS failedTasks=4 "),
    ("F30", "service_event", "(service api) (deployment ecs-svc/0123456789) deployment failed: tasks failed to start."),
    ("F30", "service_event", "service (api) deployment failed: tasks failed to start."),
    ("F30", "service_event", "service (api) could not launch 3 tasks for deployment ecs-svc/1."),
    ("F32", "service_event", "(service api) (deployment ecs-svc/0123456789) deployment failed: alarm detected."),
    ("F32", "deployment", "status=ROLLBACK_SUCCESSFUL deployment failed: alarm detected. triggeredAlarms=api-5xx"),
    ("F31", "service_event", "(service api) rolling back to deployment ecs-svc/9876543210."),
    ("F31", "deployment", "rolloutState=IN_PROGRESS failedTasks=0 ECS deployment circuit breaker: rolling back to "
                          "deploymentId ecs-svc/9876543210."),
    ("F34", "service_event", "service (api) is unable to consistently start tasks successfully."),
    ("F33", "service_event", "service (api) was unable to stop or start tasks during a deployment because of the "
                             "service deployment configuration. Update the minimumHealthyPercent or maximumPercent "
                             "value and try again."),
    ("F40", "service_event", "service (api) was unable to reach steady state because task set (ecs-svc/123) was unable "
                             "to scale in. Reason: The number of protected tasks are more than the desired count of "
                             "tasks"),
    ("F34b", "service_event", "service (api) operations are being throttled. Will try again later."),
    ("F22b", "service_event", f"(service web) (task 1234abcd) (port 8080) is unhealthy in (target-group {ARN_TG}) due "
                              f"to (reason Request timed out)."),
    ("F22b", "service_event", f"(service web) (task 1234abcd) (instance i-0abc) (port 8080) is unhealthy in "
                              f"(target-group {ARN_TG}) due to (reason Health checks failed with these codes: [404])."),
    ("F22b", "service_event", "service ecs-circleci-qa-service (instance 10.0.0.29) (port 8080) is unhealthy in "
                              "target-group ecs-circleci-qa-service due to (reason Request timed out)"),
    ("F22b", "service_event", "(service web) (instance i-0abc) is unhealthy in (elb web-elb) due to (reason Instance "
                              "has failed at least the UnhealthyThreshold number of health checks consecutively.)"),
    ("F22b", "service_event", "(service web) task set (ecs-svc/1) (task 1) is not healthy in target-group (arn) due to "
                              "TARGET GROUP IS NOT FOUND."),
    ("F23b", "service_event", "(service task-service) (task b5067aaa) failed container health checks."),
    ("F24b", "service_event", "service (api) was unable to place a task because no container instance met all of its "
                              "requirements. The closest matching container-instance 5f6a1c2e is already using a port "
                              "required by your task."),
    ("F24", "service_event", "(service reports) was unable to place a task because no container instance met all of "
                             "its requirements. The closest matching (container-instance 5f6a1c2e9b8d) has insufficient "
                             "memory available. For more information, see the Troubleshooting section of the Amazon ECS "
                             "Developer Guide."),
    ("F24", "service_event", "service (api) was unable to place a task because no container instance met all of its "
                             "requirements. The closest matching container-instance 5f6a has insufficient CPU units "
                             "available."),
    ("F25", "service_event", "service (api) was unable to reach steady state. Reason: No Container Instances were "
                             "found in your capacity provider."),
    ("F38", "service_event", 'service (api) was unable to place a task because no container instance met all of its '
                             'requirements. The closest matching container-instance 5f6a encountered error "AGENT".'),
    ("F38", "stopped_reason", "TaskFailedToStart: AGENT"),
    ("F38", "service_event", 'service (api) Timed out waiting for Amazon ECS Agent to start. Please check logs at '
                             '/var/log/ecs/ecs-agent.log".'),
    ("F25", "stopped_reason", "TaskFailedToStart: EMPTY CAPACITY PROVIDER"),
    ("F25", "stopped_reason", "TaskFailedToStart: NO ACTIVE INSTANCES"),
    ("F24d", "stopped_reason", "TaskFailedToStart: MemberOf placement constraint unsatisfied"),
    ("F24d", "stopped_reason", "TaskFailedToStart: ATTRIBUTE"),
    ("F24d", "service_event", 'service api was unable to place a task because no container instance met all of its '
                              'requirements. The closest matching container-instance 2811a2a8 encountered error '
                              '"MemberOf placement constraint unsatisfied.". For more information, see the '
                              'Troubleshooting section of the Amazon ECS Developer Guide.'),
    ("F24", "stopped_reason", "TaskFailedToStart: RESOURCE:MEMORY"),
    ("F24e", "service_event", "service (api) was unable to place a task because no container instance met all of its "
                              "requirements. Too many ports registered."),
    ("F26", "service_event", "service (api) was unable to place a task. Reason: Capacity is unavailable at this time. "
                             "Please try again later or in a different availability zone."),
    ("F26", "service_event", "service (api) was unable to place a task. Reason: Internal error."),
    ("F27", "service_event", "service (api) was unable to place a task. Reason: You've reached the limit on the number "
                             "of tasks you can run concurrently"),
    ("F27", "service_event", "service (api) was unable to place a task. Reason: You’ve reached the limit on the "
                             "number of vCPUs you can run concurrently"),
    ("F27", "service_event", "service (api) was unable to place a task. Reason: The requested CPU configuration is "
                             "above your limit."),
    ("F27", "service_event", "service (api) was unable to place tasks in your cluster because the tasks provisioning "
                             "capacity limit was exceeded."),
    ("F24c", "service_event", "service (api) was unable to place a task because no container instance met all of its "
                              "requirements."),
    ("L01", "log", "exec /usr/local/bin/api: exec format error"),
    ("L02", "log", "KeyError: 'DATABASE_URL'"),
    ("L02", "log", "Error: environment variable STRIPE_API_KEY is not set"),
    ("L02", "log", "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings"),
    ("L02", "log", "database_url\n  Field required [type=missing, input_value={}, input_type=dict]"),
    ("L02", "log", "FATAL: missing required config key 'redis.url'"),
    ("L02", "log", 'level=fatal msg="failed to load config" error="required key DATABASE_URL missing value"'),
    ("L02", "log", "java.lang.IllegalArgumentException: Could not resolve placeholder 'DB_URL' in value \"${DB_URL}\""),
    ("L02", "log", 'KeyError: key not found: "SECRET_KEY_BASE"'),
    ("L02", "log", "Error: Missing required environment variable: DATABASE_URL"),
    ("L02", "log", "/docker-entrypoint.sh: line 7: DATABASE_URL: unbound variable"),
    ("L02", "log", "/entrypoint.sh: 3: API_KEY: parameter not set"),
    ("L02", "log", "Error: Database is uninitialized and superuser password is not specified."),
    ("L02", "log", "Failed to configure a DataSource: 'url' attribute is not specified and no embedded datasource "
                   "could be configured."),
    ("L03", "log", "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject "
                   "operation: Access Denied"),
    ("L03", "log", "User: arn:aws:sts::1:assumed-role/api-task/x is not authorized to perform: sqs:SendMessage"),
    ("L04", "log", "psycopg2.OperationalError: could not connect to server: Connection refused"),
    ("L04", "log", "Error: connect ECONNREFUSED 10.0.3.7:6379"),
    ("L04", "log", "Error: getaddrinfo ENOTFOUND db.internal.example"),
    ("L04", "log", "dial tcp 10.0.1.5:5432: i/o timeout"),
    ("L04", "log", "java.net.UnknownHostException: db.internal"),
    ("L04", "log", "panic: dial tcp 10.0.0.5:5432: connect: connection refused"),
    ("L05", "log", "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space"),
    ("L05", "log", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
    ("L06", "log", "ImportError: cannot import name 'quantise' from 'decimal' (/usr/local/lib/python3.12/decimal.py)"),
    ("L06", "log", "panic: runtime error: invalid memory address or nil pointer dereference"),
    ("L06", "log", "Traceback (most recent call last):"),
    ("M01", "metric", "CPUUtilization"),
    ("M02", "metric", "MemoryUtilization"),
    ("A01", "alarm", "CPUUtilization api-cpu-high"),
    ("A01", "alarm", " prod-api-cpu"),
    ("A02", "alarm", "MemoryUtilization api-memory-high"),
    ("S01", "service_state", "desiredCount=0 runningCount=0 pendingCount=0"),
    ("E01", "target_health", "unhealthy Target.ResponseCodeMismatch Health checks failed with these codes: [404]"),
    ("E01", "target_health", "unhealthy Target.Timeout Request timed out"),
    ("E01", "target_health", "unused Target.NotInUse Target group is not configured to receive traffic from the load "
                             "balancer"),
    ("I01", "image_check", f"ImageNotFound {ECR}/api:v2.4.1 (api:48)"),
    ("I01", "image_check", f"RepositoryNotFound {ECR}/team/api:v1 (api:3)"),
    ("I02", "image_check", f"platform mismatch {ECR}/api:v2 (api:48): the image index has linux/arm64 platforms, the "
                           f"tasks run linux/amd64"),
    ("I03", "image_check", f"no execution role {ECR}/api:v2 (api:48): Fargate pulls private ECR images with it"),
    ("N01", "network_path", "subnet subnet-0a1b (us-east-1a): 0 free IP addresses"),
    ("N02", "network_path", "vpc vpc-0123: DNS resolution disabled (enableDnsSupport false)"),
    ("C01", "stack", "UPDATE_ROLLBACK_COMPLETE Resource handler returned message: \"Error occurred during operation "
                     "'ECS Deployment Circuit Breaker was triggered'.\""),
    ("F42", "service_event", "(service api) has reached a steady state."),
    ("F42", "service_event", "(service api) (deployment ecs-svc/1) deployment completed."),
    ("F42", "deployment", "rolloutState=COMPLETED failedTasks=0 ECS deployment ecs-svc/1 completed."),
]


def _match(where: str, text: str) -> str | None:
    body = strip_service_prefix(text).body if where == "service_event" else text
    hit = first_match(where, body)
    return hit[0].id if hit else None


@pytest.mark.parametrize("rule_id,where,text", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_verbatim_text_matches_its_rule(rule_id, where, text):
    assert _match(where, text) == rule_id


def test_every_rule_is_exercised():
    assert {c[0] for c in CASES} == set(RULES_BY_ID)


def test_every_taxonomy_cause_has_a_rule():
    taxonomy = json.loads(TAXONOMY.read_text())
    ids = {c["id"] for c in taxonomy["categories"]}
    causes = {c["id"] for c in taxonomy["categories"] if c["kind"] == "cause"}
    assert causes <= {r.cause for r in RULES}
    assert {r.cause for r in RULES} <= ids  # no invented categories
    assert "deployment-failing" in {r.cause for r in RULES if r.wrapper}


def test_rules_are_ordered_unique_and_well_formed():
    assert [r.priority for r in RULES] == sorted(r.priority for r in RULES)
    assert len({r.priority for r in RULES}) == len(RULES)
    assert len(RULES_BY_ID) == len(RULES)
    for r in RULES:
        assert r.where and r.summary and r.remediation and 0 < r.confidence <= 1
        assert r.severity in ("critical", "high", "medium", "low", "info")
        assert (r.threshold is not None) == (r.where == ("metric",))
        assert not (r.benign and r.wrapper)


def test_transient_and_benign_flags_follow_the_reference():
    transient = {r.cause for r in RULES if r.transient}
    assert {"spot-interruption", "platform-maintenance", "eni-provisioning-timeout", "runtime-timeout",
            "capacity-unavailable"} <= transient
    assert not {"app-crash", "image-not-found", "container-oom", "missing-config"} & transient
    benign = {r.id for r in RULES if r.benign}
    assert {"F36", "F37", "F37b", "F37c", "F37d", "F05", "F42"} <= benign


# ---- variants -------------------------------------------------------------------------------


@pytest.mark.parametrize("text,rule_id", [
    ("CannotPullContainerError: The task can\u2019t pull the image. Check whether the image exists.", "F07"),
    ("CannotPullContainerError: The task can't pull the image. Check whether the image exists.", "F07"),
    ("... unable to retrieve secret from asm: ResourceNotFoundException: Secrets Manager can\u2019t find the "
     "specified secret.", "F15"),
])
def test_curly_and_straight_apostrophes_match_alike(text, rule_id):
    assert _match("stopped_reason", text) == rule_id


@pytest.mark.parametrize("curly", ["You\u2019ve", "You've", "You\u2018ve"])
def test_quota_event_with_any_apostrophe(curly):
    assert _match("service_event", f"service (api) was unable to place a task. Reason: {curly} reached the limit on "
                                   f"the number of tasks you can run concurrently") == "F27"


@pytest.mark.parametrize("text", [
    "ECS deployment circuit breaker: task failed to start.",
    "ECS deployment circuit breaker: tasks failed to start.",
    "(service api) (deployment ecs-svc/1) deployment failed: task failed to start.",
    "(service api) (deployment ecs-svc/1) deployment failed: tasks failed to start.",
])
def test_task_and_tasks_failed_to_start(text):
    assert _match("service_event", text) == "F30"
    assert _match("deployment", f"rolloutState=FAILED failedTasks=0 {text}") == "F30"


@pytest.mark.parametrize("prefix", ["(service api)", "service api", "service (api)", "(service api, taskSet ecs-svc/7)"])
def test_service_event_prefixes(prefix):
    parsed = strip_service_prefix(f"{prefix} has reached a steady state.")
    assert parsed.service == "api"
    assert parsed.body == "has reached a steady state."
    assert _match("service_event", f"{prefix} was unable to place a task because no container instance met all of "
                                   f"its requirements. The closest matching container-instance abc has insufficient "
                                   f"memory available.") == "F24"
    assert _match("service_event", f"{prefix} (task 1) (port 80) is unhealthy in (target-group {ARN_TG}) due to "
                                   f"(reason Request timed out).") == "F22b"
    assert _match("service_event", f"{prefix} deployment failed: tasks failed to start.") == "F30"


def test_task_set_is_parsed_from_the_prefix():
    assert strip_service_prefix("(service api, taskSet ecs-svc/7) rolling back").task_set == "ecs-svc/7"
    assert strip_service_prefix("no prefix here").service is None


LONG_TEXTS = [c for c in CASES if c[1] in ("stopped_reason", "container_reason", "service_event") and len(c[2]) > 60]


@pytest.mark.parametrize("rule_id,where,text", LONG_TEXTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LONG_TEXTS)])
def test_reasons_cut_at_1024_chars_still_match(rule_id, where, text):
    padded = text + " caused by: " + "x" * 1500 + " request id: 1b3f0e7e."
    cut = truncate_reason(padded)
    assert len(cut) == MAX_REASON_CHARS
    assert _match(where, cut) == rule_id


def test_reason_cut_inside_a_sentence_tail_still_matches():
    text = "ECS is performing maintenance on the underlying infrastructure hosting the task"
    assert _match("stopped_reason", text[: text.index("hosting") + 3]) == "F36"
    oom = "OutOfMemoryError: Container killed due to memory usage"
    assert _match("container_reason", oom[:20]) == "F02"


@pytest.mark.parametrize("text", [
    "OutOfMemoryError: Container killed due to memory usage",
    "OUTOFMEMORYERROR: CONTAINER KILLED DUE TO MEMORY USAGE",
    "outofmemoryerror: container killed due to memory usage",
    "container killed due to memory usage",
])
def test_oom_is_case_insensitive(text):
    assert _match("container_reason", text) == "F02"


# ---- order of precedence between rules --------------------------------------------------------


def test_registry_auth_denied_on_ecr_is_an_image_pull_denial_not_a_secret_denial():
    text = ("ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth "
            "from Amazon ECR: AccessDeniedException: User: arn:aws:sts::1:assumed-role/exec/x is not authorized to "
            "perform: ecr:GetAuthorizationToken on resource: *")
    assert RULES_BY_ID[_match("stopped_reason", text)].cause == "image-pull-access-denied"


def test_log_driver_network_error_is_not_a_secrets_network_error():
    assert _match("stopped_reason", "ResourceInitializationError: failed to validate logger args: There is a "
                                    "connection issue between the task and Amazon CloudWatch.") == "F16"


def test_efs_timeout_is_not_an_image_or_secret_network_error():
    assert _match("stopped_reason", "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS "
                                    "volumes: stderr: Mount attempt 1/3 failed due to timeout after 15 sec") == "F17"


def test_health_check_stop_beats_exit_code_rules():
    # F03: exit 137/143 after a health-check stop is the stop, not the cause; the reason rule comes first.
    assert RULES_BY_ID["F22"].priority < RULES_BY_ID["F03"].priority
    assert RULES_BY_ID["F23"].priority < RULES_BY_ID["F05"].priority
    assert RULES_BY_ID["F37d"].priority < RULES_BY_ID["F03"].priority
    assert RULES_BY_ID["F35"].priority < RULES_BY_ID["F02"].priority


def test_deployment_strings_that_are_not_failing():
    assert _match("deployment", "rolloutState=COMPLETED failedTasks=0 ") == "F42"
    assert _match("deployment", "rolloutState=COMPLETED failedTasks=2 ") is None  # failed, then succeeded
    assert _match("deployment", "rolloutState=IN_PROGRESS failedTasks=0 ") is None


def test_unrelated_texts_match_nothing():
    assert _match("service_event", "(service api) has started 2 tasks: (task 1a2b) (task 3c4d).") is None
    assert _match("service_event", "(service api) has stopped 1 running tasks: (task 0c9e).") is None
    assert _match("alarm", "HTTPCode_Target_5XX_Count api-5xx") is None
    assert _match("log", "INFO starting worker pool size=32") is None
    assert _match("exit_code", "") is None
    assert _match("target_health", "initial Elb.RegistrationInProgress Target registration is in progress") is None
    assert _match("image_check", f"found {ECR}/api:v1 (api:1)") is None
    assert _match("network_path", "subnet subnet-0a1b (us-east-1a): 250 free IP addresses") is None
    assert _match("stack", "UPDATE_COMPLETE") is None
    assert _match("stopped_reason", "") is None


# ---- signals helpers ---------------------------------------------------------------------------


def test_normalise_and_clip():
    assert normalise("can\u2019t  \n pull\u00a0it") == "can't pull it"
    assert normalise(None) == ""
    assert clip("a" * 400, 300).endswith("…") and len(clip("a" * 400, 300)) == 300
    assert short_id("arn:aws:ecs:us-east-1:1:task/prod/ab12cd34ef56") == "ab12cd34"


@pytest.mark.parametrize("line,low", [
    ("WARN cache size 812MB exceeds soft limit", True),
    ("2025-03-14T12:00:00Z INFO starting", True),
    ('{"level":"warn","msg":"retrying connection refused"}', True),
    ("level=info msg=ready", True),
    ("ERROR could not connect to server: Connection refused", False),
    ("KeyError: 'INFO'", False),
    ("Traceback (most recent call last):", False),
])
def test_low_level_log_lines(line, low):
    assert is_low_level_log(line) is low
