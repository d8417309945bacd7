"""The tasks' network path (analyzers/network.py) through its public functions: the facts read from the VPC,
the signals they raise, the start failures they settle and the network causes they give evidence to.

Each check states one behaviour; most come in pairs across a boundary (a route that is active or not, a port
range that reaches 443 or stops one short), so a comparison that moves makes one of them fail.
"""
from __future__ import annotations

from typing import Any

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier
from agents.aws_ecs_service.diagnosis.analyzers.network import NetworkAnalyzer, network_signals, path_facts
from agents.aws_ecs_service.diagnosis.rules import primary_rule
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import REGION, EvidenceBuilder, failing_deploy

SUBNET = "subnet-0a1b"
FREE = f"subnet {SUBNET} (us-east-1a): 212 free IP addresses"
NO_ROUTE = "no route to a NAT gateway or an internet gateway"
NO_PUBLIC_IP = "a route to an internet gateway but no public IP"
ALL_OUT = [{"IpProtocol": "-1"}]
LOCAL = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
NAT = {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0f1", "State": "active"}
IGW = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0c2", "State": "active"}
SECRETS_TIMEOUT = ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
                   "failed: unable to retrieve secret from asm: service call has been retried 5 time(s): RequestCanceled:"
                   " request context canceled caused by: context deadline exceeded.")
DNS_OFF = "vpc vpc-1: DNS resolution disabled (enableDnsSupport false)"


def unreachable(why: str = NO_ROUTE, ecr: str = "ecr.api, ecr.dkr, s3") -> list[str]:
    """The lines of a subnet that reaches none of the services the tasks need (or only some of ECR's)."""
    return [f"subnet {SUBNET}: no path to Amazon ECR ({why}; no VPC endpoint for {ecr})",
            f"subnet {SUBNET}: no path to AWS Secrets Manager ({why}; no VPC endpoint for secretsmanager)",
            f"subnet {SUBNET}: no path to AWS Systems Manager ({why}; no VPC endpoint for ssm)",
            f"subnet {SUBNET}: no path to Amazon CloudWatch Logs ({why}; no VPC endpoint for logs)"]


def table(*routes: dict[str, Any], table_id: str = "rtb-main", main: bool = True, subnet: str | None = None,
          ) -> dict[str, Any]:
    associations: list[dict[str, Any]] = [{"Main": True}] if main else []
    if subnet:
        associations.append({"SubnetId": subnet, "Main": False})
    return {"RouteTableId": table_id, "Associations": associations, "Routes": [LOCAL, *routes]}


def network(**changes: Any) -> dict[str, Any]:
    """A private subnet whose main route table has only the local route, egress open, VPC DNS on."""
    net = {"assign_public_ip": "DISABLED",
           "subnets": [{"SubnetId": SUBNET, "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a",
                        "AvailableIpAddressCount": 212}],
           "route_tables": [table()],
           "vpc_endpoints": [],
           "security_groups": [{"GroupId": "sg-1", "IpPermissionsEgress": ALL_OUT}],
           "vpcs": [{"VpcId": "vpc-1", "EnableDnsSupport": True, "EnableDnsHostnames": True}]}
    net.update(changes)
    return net


def endpoint(name: str, kind: str = "Interface", **more: Any) -> dict[str, Any]:
    return {"ServiceName": f"com.amazonaws.{REGION}.{name}", "VpcEndpointType": kind, "State": "available",
            "PrivateDnsEnabled": kind == "Interface", **more}


ALL_ENDPOINTS = [endpoint("ecr.api"), endpoint("ecr.dkr"), endpoint("s3", "Gateway", RouteTableIds=["rtb-main"]),
                 endpoint("secretsmanager"), endpoint("ssm"), endpoint("logs")]


def facts(net: dict[str, Any] | None, b: EvidenceBuilder | None = None) -> list[str]:
    return path_facts(read_view(document(net, b)))


def document(net: dict[str, Any] | None, b: EvidenceBuilder | None = None) -> dict[str, Any]:
    doc = (b or EvidenceBuilder()).build()
    if net is not None:
        doc["network"] = net
    return doc


# ---- path_facts: what the VPC says --------------------------------------------------------------------------

@pytest.mark.parametrize("net", [None, {}])
def test_a_network_path_not_read_says_nothing(net):
    assert facts(net) == []


def test_a_private_subnet_without_a_gateway_or_endpoints_reaches_none_of_the_services_tasks_need():
    assert facts(network()) == [FREE, *unreachable()]


def test_a_subnet_with_unknown_zone_and_address_count_is_still_listed():
    assert facts(network(subnets=[{"SubnetId": SUBNET}], route_tables=[table(NAT)])) == \
        [f"subnet {SUBNET} (?): ? free IP addresses"]


@pytest.mark.parametrize("routes,public_ip", [
    ([NAT], "DISABLED"),
    ([{**NAT, "State": "active"}], None),
    ([{key: value for key, value in NAT.items() if key != "State"}], "DISABLED"),  # a route without State is active
    ([IGW], "ENABLED"),
])
def test_a_subnet_that_reaches_the_internet_needs_no_endpoints(routes, public_ip):
    assert facts(network(route_tables=[table(*routes)], assign_public_ip=public_ip)) == [FREE]


@pytest.mark.parametrize("routes,public_ip,why", [
    ([IGW], "DISABLED", NO_PUBLIC_IP),
    ([IGW], None, NO_PUBLIC_IP),
    ([], "ENABLED", NO_ROUTE),
    ([{**NAT, "State": "blackhole"}], "DISABLED", NO_ROUTE),
    ([{**IGW, "State": "blackhole"}], "ENABLED", NO_ROUTE),
    ([{**NAT, "DestinationCidrBlock": "10.1.0.0/16"}], "DISABLED", NO_ROUTE),
    ([{**IGW, "DestinationCidrBlock": "10.1.0.0/16"}], "ENABLED", NO_ROUTE),
    ([{"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1", "State": "active"}], "ENABLED", NO_ROUTE),
])
def test_a_subnet_without_an_active_default_route_to_a_gateway_it_can_use_has_no_path(routes, public_ip, why):
    assert facts(network(route_tables=[table(*routes)], assign_public_ip=public_ip)) == [FREE, *unreachable(why)]


def test_the_subnets_own_route_table_overrides_the_main_one():
    own_private = [table(table_id="rtb-own", main=False, subnet=SUBNET), table(NAT)]
    assert facts(network(route_tables=own_private)) == [FREE, *unreachable()]
    own_nat = [table(table_id="rtb-main"), table(NAT, table_id="rtb-own", main=False, subnet=SUBNET)]
    assert facts(network(route_tables=own_nat)) == [FREE]


def test_another_subnets_route_table_is_not_this_subnets_path():
    tables = [table(NAT, table_id="rtb-other", main=False, subnet="subnet-other"), table()]
    assert facts(network(route_tables=tables)) == [FREE, *unreachable()]
    not_main = [{"RouteTableId": "rtb-x", "Associations": [{"Main": False}], "Routes": [NAT]}]
    assert facts(network(route_tables=not_main)) == [FREE, *unreachable()]


def test_a_subnet_with_no_route_table_read_has_no_path():
    assert facts(network(route_tables=[])) == [FREE, *unreachable()]
    assert facts(network(route_tables=None)) == [FREE, *unreachable()]


def test_every_subnet_gets_its_own_lines():
    other = {"SubnetId": "subnet-2", "AvailabilityZone": "us-east-1b", "AvailableIpAddressCount": 5}
    tables = [table(), table(NAT, table_id="rtb-2", main=False, subnet="subnet-2")]
    assert facts(network(subnets=[network()["subnets"][0], other], route_tables=tables)) == \
        [FREE, *unreachable(), "subnet subnet-2 (us-east-1b): 5 free IP addresses"]


def test_a_subnet_that_reaches_the_internet_does_not_hide_the_subnets_after_it():
    first = {"SubnetId": "subnet-2", "AvailabilityZone": "us-east-1b", "AvailableIpAddressCount": 5}
    tables = [table(), table(NAT, table_id="rtb-2", main=False, subnet="subnet-2")]
    groups = [{"GroupId": "sg-1", "IpPermissionsEgress": []}]
    assert facts(network(subnets=[first, network()["subnets"][0]], route_tables=tables, security_groups=groups)) == \
        ["subnet subnet-2 (us-east-1b): 5 free IP addresses", FREE, *unreachable(),
         "security group sg-1: no outbound rule allows HTTPS (443)"]


def test_vpc_endpoints_for_every_service_stand_in_for_the_internet():
    assert facts(network(vpc_endpoints=ALL_ENDPOINTS)) == [FREE]


@pytest.mark.parametrize("replaced,missing_ecr", [
    (endpoint("s3", "Gateway", RouteTableIds=["rtb-other"]), "s3"),   # a gateway endpoint serves its tables only
    (endpoint("s3", "Gateway"), "s3"),
    (endpoint("s3", "Gateway", RouteTableIds=["rtb-main"], State="pending"), "s3"),
    (endpoint("s3", "Interface"), None),  # an interface endpoint serves the whole VPC
    (endpoint("s3", "Gateway", RouteTableIds=["rtb-main"], State="Available"), None),
    ({k: v for k, v in endpoint("s3", "Gateway", RouteTableIds=["rtb-main"]).items() if k != "State"}, None),
    ({"VpcEndpointType": "Interface", "State": "available"}, "s3"),   # no service name
    (endpoint("s3x", "Interface"), "s3"),
])
def test_an_endpoint_counts_only_when_available_for_the_service_and_reaching_the_subnets_table(replaced, missing_ecr):
    endpoints = [e for e in ALL_ENDPOINTS if not e["ServiceName"].endswith(".s3")] + [replaced]
    expected = [FREE]
    if missing_ecr:
        expected.append(f"subnet {SUBNET}: no path to Amazon ECR ({NO_ROUTE}; no VPC endpoint for {missing_ecr})")
    assert facts(network(vpc_endpoints=endpoints)) == expected


def test_an_unavailable_endpoint_is_no_path_and_the_missing_names_are_listed_together():
    endpoints = [endpoint("ecr.api"), endpoint("ecr.dkr", State="pendingAcceptance"), endpoint("secretsmanager"),
                 endpoint("ssm"), endpoint("logs")]
    assert facts(network(vpc_endpoints=endpoints)) == \
        [FREE, f"subnet {SUBNET}: no path to Amazon ECR ({NO_ROUTE}; no VPC endpoint for ecr.dkr, s3)"]


def test_an_endpoint_in_the_subnets_own_table_serves_it():
    tables = [table(table_id="rtb-main"), table(table_id="rtb-own", main=False, subnet=SUBNET)]
    endpoints = [*ALL_ENDPOINTS[:2], endpoint("s3", "Gateway", RouteTableIds=["rtb-own"]), *ALL_ENDPOINTS[3:]]
    assert facts(network(vpc_endpoints=endpoints, route_tables=tables)) == [FREE]


@pytest.mark.parametrize("vpc,private_dns,line", [
    ({"EnableDnsSupport": False, "EnableDnsHostnames": True}, False, DNS_OFF),
    ({"EnableDnsSupport": False, "EnableDnsHostnames": False}, True, DNS_OFF),  # one line: resolution is the cause
    ({"EnableDnsSupport": True, "EnableDnsHostnames": False}, True,
     "vpc vpc-1: DNS hostnames disabled, so the interface endpoints' private DNS names do not resolve"),
    ({"EnableDnsHostnames": False}, True,
     "vpc vpc-1: DNS hostnames disabled, so the interface endpoints' private DNS names do not resolve"),
    ({"EnableDnsSupport": True, "EnableDnsHostnames": False}, False, None),  # no endpoint relies on private DNS
    ({"EnableDnsSupport": True}, True, None),    # not read is not disabled
    ({"EnableDnsSupport": None, "EnableDnsHostnames": None}, True, None),
    ({"EnableDnsSupport": True, "EnableDnsHostnames": True}, True, None),
])
def test_vpc_dns_settings_that_stop_names_resolving(vpc, private_dns, line):
    endpoints = [endpoint("ssm", PrivateDnsEnabled=private_dns)]
    got = facts(network(vpcs=[{"VpcId": "vpc-1", **vpc}], vpc_endpoints=endpoints, route_tables=[table(NAT)]))
    assert got == ([line] if line else []) + [FREE]


def test_dns_hostnames_off_matters_only_when_some_endpoint_uses_private_dns():
    endpoints = [endpoint("ssm", PrivateDnsEnabled=False), endpoint("logs", PrivateDnsEnabled=True)]
    got = facts(network(vpcs=[{"VpcId": "vpc-1", "EnableDnsHostnames": False}], vpc_endpoints=endpoints,
                        route_tables=[table(NAT)]))
    assert got[0].startswith("vpc vpc-1: DNS hostnames disabled")
    assert facts(network(vpcs=[{"VpcId": "vpc-1", "EnableDnsHostnames": False}], route_tables=[table(NAT)])) == [FREE]


def test_each_vpc_without_dns_gets_its_line():
    vpcs = [{"VpcId": "vpc-1", "EnableDnsSupport": False}, {"VpcId": "vpc-2", "EnableDnsSupport": True},
            {"VpcId": "vpc-3", "EnableDnsSupport": False}]
    assert facts(network(vpcs=vpcs, route_tables=[table(NAT)])) == \
        [DNS_OFF, "vpc vpc-3: DNS resolution disabled (enableDnsSupport false)", FREE]


@pytest.mark.parametrize("egress,blocked", [
    (ALL_OUT, False),
    ([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}], False),
    ([{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535}], False),
    ([{"IpProtocol": "tcp", "FromPort": 442, "ToPort": 444}], False),
    ([{"IpProtocol": "tcp", "FromPort": 443}], False),
    ([{"IpProtocol": "tcp", "ToPort": 443}], False),
    ([{"IpProtocol": "tcp"}], False),
    ([{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80}, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}],
     False),
    ([], True),
    (None, True),
    ([{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80}], True),
    ([{"IpProtocol": "tcp", "FromPort": 444, "ToPort": 8443}], True),
    ([{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 442}], True),
    ([{"IpProtocol": "udp", "FromPort": 443, "ToPort": 443}], True),
    ([{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1}], True),
])
def test_a_security_group_without_outbound_https_is_a_fact(egress, blocked):
    groups = [{"GroupId": "sg-1", "IpPermissionsEgress": egress}]
    expected = [FREE] + (["security group sg-1: no outbound rule allows HTTPS (443)"] if blocked else [])
    assert facts(network(security_groups=groups, route_tables=[table(NAT)])) == expected


def test_a_security_group_without_egress_rules_read_is_a_fact():
    assert facts(network(security_groups=[{"GroupId": "sg-9"}], route_tables=[table(NAT)])) == \
        [FREE, "security group sg-9: no outbound rule allows HTTPS (443)"]


# ---- signals: the facts that settle a cause --------------------------------------------------------------------

def test_only_dns_off_and_a_subnet_out_of_addresses_raise_network_signals():
    empty = {"SubnetId": SUBNET, "AvailabilityZone": "us-east-1a", "AvailableIpAddressCount": 0}
    net = network(subnets=[empty], vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False}],
                  security_groups=[{"GroupId": "sg-1", "IpPermissionsEgress": []}])
    got = [(s.rule.id, s.line) for s in network_signals(read_view(document(net)))]
    assert got == [("N02", f"network: {DNS_OFF}"), ("N01", f"network: subnet {SUBNET} (us-east-1a): 0 free IP addresses")]
    assert network_signals(read_view(document(network()))) == []


# ---- refine: a start failure that only looks like the network ------------------------------------------------

def secrets_failure(**builder: Any) -> EvidenceBuilder:
    b = failing_deploy(**builder)
    for age in (20, 10):
        b.stopped(12, "TaskFailedToStart", SECRETS_TIMEOUT, exit_code=None, age=age)
    return b


def verdicts(b: EvidenceBuilder, net: dict[str, Any] | None) -> list[tuple[str | None, str | None]]:
    return [(v.cause, v.evidence_note) for v in Analysis(read_view(document(net, b))).verdicts]


ZERO_FREE = {"SubnetId": SUBNET, "AvailabilityZone": "us-east-1a", "AvailableIpAddressCount": 0}
ZERO_LINE = f"network: subnet {SUBNET} (us-east-1a): 0 free IP addresses"


def test_a_vpc_without_dns_settles_a_network_looking_start_failure():
    net = network(vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False}])
    assert verdicts(secrets_failure(), net) == [("vpc-dns-resolution", f"network: {DNS_OFF}")] * 2


def test_the_first_settling_fact_wins_when_dns_and_addresses_both_fail():
    net = network(vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False}], subnets=[ZERO_FREE])
    assert verdicts(secrets_failure(), net) == [("vpc-dns-resolution", f"network: {DNS_OFF}")] * 2
    assert verdicts(secrets_failure(), network(subnets=[ZERO_FREE])) == [("subnet-ip-exhaustion", ZERO_LINE)] * 2


def test_a_path_without_a_settling_fact_leaves_the_failure_as_it_is():
    assert verdicts(secrets_failure(), network()) == [("secrets-network", None)] * 2
    assert verdicts(secrets_failure(), None) == [("secrets-network", None)] * 2


def test_a_failure_that_is_not_about_the_network_is_not_settled_by_it():
    b = failing_deploy()
    b.stopped(12, exit_code=1, age=10)
    net = network(vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False}])
    assert verdicts(b, net) == [("app-crash", None)]


def test_a_failure_already_naming_the_settling_cause_is_left_as_it_is():
    b = failing_deploy()
    b.stopped(12, "TaskFailedToStart", "ResourceInitializationError: InsufficientFreeAddressesInSubnet",
              exit_code=None, age=10)
    assert verdicts(b, network(subnets=[ZERO_FREE])) == [("subnet-ip-exhaustion", None)]


def test_a_stop_no_rule_names_is_not_settled_by_the_network():
    b = failing_deploy()
    b.stopped(12, "TaskFailedToStart", "something nobody has seen before", exit_code=None, age=10)
    net = network(vpcs=[{"VpcId": "vpc-1", "EnableDnsSupport": False}])
    assert verdicts(b, net) == [(None, None)]


# ---- NetworkAnalyzer: evidence for the network causes in play ----------------------------------------------

def propose(b: EvidenceBuilder, net: dict[str, Any] | None):
    return NetworkAnalyzer().propose(Analysis(read_view(document(net, b))))


def test_without_a_network_read_the_analyzer_proposes_nothing():
    assert propose(secrets_failure(), None) == []
    assert propose(secrets_failure(), {}) == []


def test_the_path_joins_the_network_cause_in_play_as_evidence_beside_it():
    (h,) = propose(secrets_failure(), network())
    rule = primary_rule("secrets-network")
    assert (h.cause, h.rule, h.tier) == ("secrets-network", rule, Tier.ALSO)
    assert (h.confidence, h.summary, h.severity) == (rule.confidence, rule.summary, rule.severity)
    assert h.evidence == [f"network: {line}" for line in unreachable()]  # a subnet with addresses is no evidence


def test_the_path_evidence_is_at_most_four_lines():
    net = network(security_groups=[{"GroupId": "sg-1", "IpPermissionsEgress": []}])
    (h,) = propose(secrets_failure(), net)
    assert h.evidence == [f"network: {line}" for line in unreachable()]


def test_a_subnet_out_of_addresses_is_evidence_and_its_own_hypothesis():
    net = network(subnets=[ZERO_FREE], route_tables=[table(NAT)])
    found = propose(secrets_failure(), net)  # the failures are settled as subnet-ip-exhaustion
    assert [(h.cause, h.tier) for h in found] == [("subnet-ip-exhaustion", Tier.FAILURE),
                                                  ("subnet-ip-exhaustion", Tier.ALSO)]
    assert found[0].evidence == [ZERO_LINE]
    assert found[1].evidence == [ZERO_LINE]


def test_a_path_with_nothing_wrong_gives_a_network_cause_no_evidence():
    assert propose(secrets_failure(), network(route_tables=[table(NAT)])) == []


def test_the_path_is_no_evidence_for_a_cause_that_is_not_about_the_network():
    b = failing_deploy()
    b.stopped(12, exit_code=1, age=10)
    assert propose(b, network()) == []
    assert propose(EvidenceBuilder(), network()) == []


def test_a_network_cause_named_by_service_events_alone_gets_the_path_as_evidence():
    b = EvidenceBuilder(desired=2, running=1)
    b.deployment(9)
    b.event("(service api) failed to launch a task with (error Timeout waiting for network interface provisioning "
            "to complete.).")
    found = propose(b, network())
    assert [(h.cause, h.tier) for h in found] == [("eni-provisioning-timeout", Tier.ALSO)]


def test_several_network_causes_in_play_each_get_the_evidence_in_name_order():
    b = secrets_failure()
    b.event("(service api) failed to launch a task with (error Timeout waiting for network interface provisioning "
            "to complete.).")
    found = propose(b, network())
    assert [(h.cause, h.tier) for h in found] == [("eni-provisioning-timeout", Tier.ALSO),
                                                  ("secrets-network", Tier.ALSO)]
