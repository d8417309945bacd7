"""Read-only EC2 calls: the tasks' network path (subnets, routes, VPC endpoints, security groups, VPC DNS)."""
from __future__ import annotations

from typing import Any


def subnets(ec2, subnet_ids: list[str]) -> list[dict[str, Any]]:
    """The subnets (VPC, AZ, free addresses, public IP on launch)."""
    return ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]


def security_groups(ec2, group_ids: list[str]) -> list[dict[str, Any]]:
    return ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]


def route_tables(ec2, vpc_id: str) -> list[dict[str, Any]]:
    """Every route table of the VPC: the subnets' own associations and the main table they fall back to."""
    pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [table for page in pages for table in page["RouteTables"]]


def vpc_endpoints(ec2, vpc_id: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [endpoint for page in pages for endpoint in page["VpcEndpoints"]]


def vpc_dns(ec2, vpc_id: str) -> dict[str, Any]:
    """{"VpcId", "EnableDnsSupport", "EnableDnsHostnames"}: whether the VPC resolves names (AWS endpoints included)."""
    support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    return {"VpcId": vpc_id, "EnableDnsSupport": support, "EnableDnsHostnames": hostnames}
