"""The tasks' network path (read only when a network-looking cause is in play): subnets, routes, VPC
endpoints, security groups and the VPC's DNS settings.

A VPC without DNS resolution, or a subnet without a free address, settles a start failure that
only looks like a network timeout; a missing route or endpoint is evidence for the cause the
failure already names (no path to ECR for an image pull, to Secrets Manager for a secret).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..rules import first_match, primary_rule
from ..taxonomy import record
from ..view import View
from .base import Hypothesis, Signal, Tier, signal_hypotheses

if TYPE_CHECKING:
    from .analysis import Analysis

# what a task reaches, and the VPC endpoints that stand in for the internet for it
_SERVICES = (("Amazon ECR", ("ecr.api", "ecr.dkr", "s3")), ("AWS Secrets Manager", ("secretsmanager",)),
             ("AWS Systems Manager", ("ssm",)), ("Amazon CloudWatch Logs", ("logs",)))
_SETTLED_BY_PATH = ("vpc-dns-resolution", "subnet-ip-exhaustion")
_HTTPS = 443


def path_facts(view: View) -> list[str]:
    """One line per fact about the path that can stop a task: names that do not resolve, subnets without
    addresses, services with no way to reach them, security groups without outbound HTTPS."""
    net = view.evidence.get("network") or {}
    if not net:
        return []
    endpoints = net.get("vpc_endpoints") or []
    lines = []
    for vpc in net.get("vpcs") or []:
        if vpc.get("EnableDnsSupport") is False:
            lines.append(f"vpc {vpc.get('VpcId')}: DNS resolution disabled (enableDnsSupport false)")
        elif vpc.get("EnableDnsHostnames") is False and any(e.get("PrivateDnsEnabled") for e in endpoints):
            lines.append(f"vpc {vpc.get('VpcId')}: DNS hostnames disabled, so the interface endpoints' private DNS "
                         "names do not resolve")
    tables = net.get("route_tables") or []
    for subnet in net.get("subnets") or []:
        sid = subnet.get("SubnetId")
        lines.append(f"subnet {sid} ({subnet.get('AvailabilityZone', '?')}): "
                     f"{subnet.get('AvailableIpAddressCount', '?')} free IP addresses")
        table = _route_table(subnet, tables)
        internet = _internet(table, net.get("assign_public_ip"))
        if internet:
            continue
        for service, names in _SERVICES:
            missing = [n for n in names if not _endpoint(n, endpoints, table)]
            if missing:
                lines.append(f"subnet {sid}: no path to {service} ({_why_no_internet(table)}; no VPC endpoint for "
                             f"{', '.join(missing)})")
    for group in net.get("security_groups") or []:
        if not any(_allows_https(rule) for rule in group.get("IpPermissionsEgress") or []):
            lines.append(f"security group {group.get('GroupId')}: no outbound rule allows HTTPS ({_HTTPS})")
    return lines


def _route_table(subnet: dict[str, Any], tables: list[dict[str, Any]]) -> dict[str, Any]:
    """The subnet's own route table, else the VPC's main one."""
    def associated(table: dict[str, Any], test) -> bool:
        return any(test(a) for a in table.get("Associations") or [])

    own = next((t for t in tables if associated(t, lambda a: a.get("SubnetId") == subnet.get("SubnetId"))), None)
    return own or next((t for t in tables if associated(t, lambda a: a.get("Main"))), {})


def _gateway(table: dict[str, Any], prefix: str) -> bool:
    return any(route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("State", "active") == "active"
               and str(route.get("NatGatewayId") or route.get("GatewayId") or "").startswith(prefix)
               for route in table.get("Routes") or [])


def _why_no_internet(table: dict[str, Any]) -> str:
    if _gateway(table, "igw-"):
        return "a route to an internet gateway but no public IP"
    return "no route to a NAT gateway or an internet gateway"


def _internet(table: dict[str, Any], assign_public_ip: str | None) -> bool:
    return _gateway(table, "nat-") or (_gateway(table, "igw-") and assign_public_ip == "ENABLED")


def _endpoint(name: str, endpoints: list[dict[str, Any]], table: dict[str, Any]) -> bool:
    """An available endpoint for the service: interface endpoints serve the whole VPC, a gateway endpoint (S3)
    only the route tables it is attached to."""
    for e in endpoints:
        if not str(e.get("ServiceName", "")).endswith(f".{name}") or e.get("State", "available").lower() != "available":
            continue
        if e.get("VpcEndpointType") != "Gateway" or table.get("RouteTableId") in (e.get("RouteTableIds") or []):
            return True
    return False


def _allows_https(rule: dict[str, Any]) -> bool:
    if rule.get("IpProtocol") == "-1":
        return True
    return rule.get("IpProtocol") == "tcp" and rule.get("FromPort", 0) <= _HTTPS <= rule.get("ToPort", 65535)


def refine_network_verdicts(analysis: Analysis, verdicts: list[Any]) -> None:
    """A start failure that looks like the network, on a VPC that does not resolve names or a subnet with no
    address left, is that setting."""
    settled = [s for s in analysis.network_signals if s.rule.cause in _SETTLED_BY_PATH]
    if not settled:
        return
    rule, line = settled[0].rule, settled[0].line
    for v in verdicts:
        if v.cause and v.cause != rule.cause and (cause := record(v.cause)) and cause.network_path:
            v.refine(rule, line)


def network_signals(view: View) -> list[Signal]:
    out = []
    for line in path_facts(view):
        hit = first_match("network_path", line)
        if hit:
            out.append(Signal(hit[0], f"network: {line}"))
    return out


class NetworkAnalyzer:
    source = "network path"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        view = analysis.view
        facts = [f"network: {line}" for line in path_facts(view)]
        if not facts:
            return []
        found = signal_hypotheses(analysis.network_signals, view, unit="network facts")
        # what the path says about the network causes in play joins their evidence (decision.py corroborates)
        in_play = {v.cause for v in analysis.failures if v.cause} | {s.rule.cause for s in analysis.event_signals}
        relevant = [f for f in facts if " free IP addresses" not in f or ": 0 free" in f]
        for cause in sorted(c for c in in_play if relevant and (r := record(c)) and r.network_path):
            rule = primary_rule(cause)
            found.append(Hypothesis(cause, rule, rule.confidence, rule.summary, relevant[:4], rule.severity, Tier.ALSO))
        return found
