"""What the classifier makes of the newer evidence sources (hand-built documents in the collector's shapes):
ECR image checks, load balancer target health, the network path, the CloudFormation stack; and that a read that
could not be done is never evidence."""
from __future__ import annotations

from agents.aws_ecs_service.diagnosis.classifier import classify
from tests.unit.evidence_builder import ACCOUNT, REGION, EvidenceBuilder, ago, failing_deploy

REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def _image(b: EvidenceBuilder, revision: int, status: str, platforms: list[str] | None = None) -> dict:
    image = b.taskdefs[revision]["containerDefinitions"][0]["image"]
    return {"image": image, "registryId": ACCOUNT, "repository": "api", "imageId": {"imageTag": image.rsplit(":", 1)[1]},
            "revisions": [b.td_arn(revision)], "status": status, "platforms": platforms}


def _with(b: EvidenceBuilder, **keys) -> dict:
    doc = b.build()
    doc.update(keys)
    return doc


AMBIGUOUS_PULL = ("CannotPullContainerError: Error response from daemon: pull access denied for "
                  f"{REGISTRY}/api, repository does not exist or may require 'docker login': denied: requested access "
                  "to the resource is denied")


def test_ecr_decides_an_ambiguous_pull_refusal():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", AMBIGUOUS_PULL, exit_code=None, age=age)
    assert classify(b.build()).root_cause.category == "image-not-found"  # the words alone
    exists = classify(_with(b, images=[_image(b, 12, "found"), _image(b, 11, "found")]))
    assert exists.root_cause.category == "image-pull-access-denied"
    assert any("the image exists" in line for line in exists.root_cause.evidence)
    missing = classify(_with(b, images=[_image(b, 12, "ImageNotFound"), _image(b, 11, "found")]))
    assert missing.root_cause.category == "image-not-found"
    assert any(line.startswith("ecr: ImageNotFound") for line in missing.root_cause.evidence)


def test_a_fargate_revision_without_an_execution_role_explains_an_ambiguous_refusal():
    b = failing_deploy()
    del b.taskdefs[12]["executionRoleArn"]
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", AMBIGUOUS_PULL, exit_code=None, age=age)
    r = classify(b.build())
    assert r.root_cause.category == "image-pull-access-denied"
    assert any("no execution role" in line for line in r.root_cause.evidence)


def test_an_image_index_without_the_tasks_platform():
    b = failing_deploy()
    r = classify(_with(b, images=[_image(b, 12, "found", ["linux/arm64"]), _image(b, 11, "found", None)]))
    assert r.root_cause.category == "image-platform-mismatch"
    assert "linux/amd64" in r.root_cause.evidence[0]
    assert r.suggested_actions[0].action == "rollback"


def test_image_problems_of_a_revision_that_runs_fine_are_only_reported():
    b = EvidenceBuilder(desired=2)
    b.deployment(31)
    r = classify(_with(b, images=[_image(b, 31, "ImageNotFound")]))
    assert r.root_cause.category == "healthy"
    assert "image-not-found" in [f.category for f in r.findings]


def _target_health(state: str, reason: str, description: str) -> dict:
    arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web-tg/73e2"
    return {"target_groups": [{"TargetGroupArn": arn, "TargetGroupName": "web-tg", "HealthCheckProtocol": "HTTP",
                               "HealthCheckPort": "traffic-port", "HealthCheckPath": "/health",
                               "Matcher": {"HttpCode": "200"}}],
            "target_health": {arn: [{"Target": {"Id": "10.0.1.15", "Port": 8080},
                                     "TargetHealth": {"State": state, "Reason": reason, "Description": description}}]}}


def test_unhealthy_targets_before_any_task_stops():
    b = failing_deploy()
    r = classify(_with(b, load_balancers=_target_health("unhealthy", "Target.ResponseCodeMismatch",
                                                         "Health checks failed with these codes: [404]")))
    assert r.root_cause.category == "elb-health-check-failed"
    assert any("web-tg: health check HTTP port traffic-port path /health" in line for line in r.root_cause.evidence)
    healthy = classify(_with(b, load_balancers=_target_health("healthy", "", "")))
    assert healthy.root_cause.category != "elb-health-check-failed"
    steady = EvidenceBuilder(desired=2)
    steady.deployment(31)
    one_of_two = _target_health("unhealthy", "Target.Timeout", "Request timed out")
    (targets,) = one_of_two["target_health"].values()
    targets.append({"Target": {"Id": "10.0.1.16", "Port": 8080}, "TargetHealth": {"State": "healthy"}})
    warned = classify(_with(steady, load_balancers=one_of_two))
    assert warned.root_cause.category == "healthy"
    assert [f.category for f in warned.findings] == ["healthy", "elb-health-check-failed"]


def _network(**changes) -> dict:
    net = {"assign_public_ip": "DISABLED",
           "subnets": [{"SubnetId": "subnet-0a1b", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a",
                        "AvailableIpAddressCount": 212}],
           "route_tables": [{"RouteTableId": "rtb-main", "Associations": [{"Main": True}],
                             "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]}],
           "vpc_endpoints": [],
           "security_groups": [{"GroupId": "sg-1", "IpPermissionsEgress": [{"IpProtocol": "-1"}]}],
           "vpcs": [{"VpcId": "vpc-1", "EnableDnsSupport": True, "EnableDnsHostnames": True}]}
    net.update(changes)
    return net


SECRETS_TIMEOUT = ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
                   "failed: unable to retrieve secret from asm: service call has been retried 5 time(s): RequestCanceled:"
                   " request context canceled caused by: context deadline exceeded.")


def test_the_network_path_joins_a_network_failure():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", SECRETS_TIMEOUT, exit_code=None, age=age)
    r = classify(_with(b, network=_network()))
    assert r.root_cause.category == "secrets-network"
    assert any("subnet subnet-0a1b: no path to AWS Secrets Manager" in line for line in r.root_cause.evidence)
    endpoints = [{"ServiceName": f"com.amazonaws.{REGION}.secretsmanager", "VpcEndpointType": "Interface",
                  "State": "available", "PrivateDnsEnabled": True}]
    reachable = classify(_with(b, network=_network(vpc_endpoints=endpoints)))
    assert not any("no path to AWS Secrets Manager" in line for line in reachable.root_cause.evidence)


def test_a_vpc_without_dns_settles_a_network_looking_failure():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", SECRETS_TIMEOUT, exit_code=None, age=age)
    r = classify(_with(b, network=_network(vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False,
                                                  "EnableDnsHostnames": False}])))
    assert r.root_cause.category == "vpc-dns-resolution"
    assert r.suggested_actions[0].action == "none"


def test_a_subnet_out_of_addresses_settles_eni_timeouts():
    b = EvidenceBuilder(desired=3, running=1)
    b.deployment(9)
    for age in (12, 6, 2):
        b.stopped(9, "TaskFailedToStart", "Timeout waiting for network interface provisioning to complete.",
                  exit_code=None, age=age)
    subnet = {"SubnetId": "subnet-0a1b", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a",
              "AvailableIpAddressCount": 0}
    r = classify(_with(b, network=_network(subnets=[subnet])))
    assert r.root_cause.category == "subnet-ip-exhaustion"
    assert any("0 free IP addresses" in line for line in r.root_cause.evidence)


def test_a_failed_stack_update_is_a_failing_deployment():
    b = failing_deploy()
    for age in (20, 10):
        b.stopped(12, exit_code=1, age=age)
    stack = {"StackName": "web", "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "LastUpdatedTime": ago(15),
             "StackStatusReason": "Resource handler returned message: \"Error occurred during operation 'ECS "
                                  "Deployment Circuit Breaker was triggered'.\""}
    r = classify(_with(b, cloudformation={"stack": stack}))
    assert r.root_cause.category == "app-crash"
    failing = next(f for f in r.findings if f.category == "deployment-failing")
    assert any(line.startswith("stack web: UPDATE_ROLLBACK_COMPLETE") for line in failing.evidence)
    stack["LastUpdatedTime"] = ago(60 * 24 * 30)  # a failure of last month is not this window's
    old = classify(_with(b, cloudformation={"stack": stack}))
    assert not any(line.startswith("stack web") for f in old.findings for line in f.evidence)


def test_reads_that_could_not_be_done_are_not_evidence():
    b = failing_deploy()
    doc = _with(b, load_balancers={"target_groups": [], "target_health": {}}, images=[], network={})
    doc["errors"] = [{"call": "elasticloadbalancing:DescribeTargetHealth", "code": "TargetGroupNotFound",
                      "message": "One or more target groups not found"}]
    r = classify(doc)
    assert "elb-health-check-failed" not in [f.category for f in r.findings]
