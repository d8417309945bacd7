"""Which service: one exact identity (partition, account, region, cluster ARN, service ARN).

Everything an incident touches (triage results, plans and their hash, approvals, the remediation
lease, the audit log, reports, approval emails) carries a `ServiceTarget`. Names are derived from
the ARNs for people to read; code compares `key` (or the ARNs), never a short name, so `prod/api`
in us-east-1 and `prod/api` in us-west-2 (or in another account) are two services.

ECS has two service ARN formats: `service/<cluster>/<name>` (current) and `service/<name>` (legacy,
accounts that opted out). `key` is built from (partition, account, region, cluster name, service
name), which both formats determine, so a target made from an event (names only) and the one
DescribeServices returns are the same service.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, computed_field, model_validator

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                  r"(?P<kind>cluster|service)/(?P<rest>[A-Za-z0-9_-]{1,255}(?:/[A-Za-z0-9_-]{1,255})?)$")


class TargetError(ValueError):
    """Not a usable service identity; the message says which part is wrong."""


class TargetMismatch(Exception):
    """A plan, approval or triage is about another service than the incident it was handed to."""


def parse_ecs_arn(arn: str) -> dict[str, str] | None:
    """{partition, region, account, kind, names: [...]} of a cluster or service ARN; None when it is not one."""
    match = _ARN.match(arn or "")
    if not match:
        return None
    found = match.groupdict()
    found["names"] = found.pop("rest").split("/")
    return found


def cluster_arn(partition: str, region: str, account: str, cluster: str) -> str:
    return f"arn:{partition}:ecs:{region}:{account}:cluster/{cluster}"


def service_arn(partition: str, region: str, account: str, cluster: str, service: str) -> str:
    return f"arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}"


def check_consistent(account: str, region: str, cluster_arn_: str, service_arn_: str) -> None:
    """One service: a cluster ARN and a service ARN of the same partition, account and region, the service in that
    cluster (new format), and the account and region given are theirs. Raises TargetError naming what differs."""
    cluster, service = parse_ecs_arn(cluster_arn_), parse_ecs_arn(service_arn_)
    if not cluster or cluster["kind"] != "cluster" or len(cluster["names"]) != 1:
        raise TargetError(f"not a cluster ARN: {cluster_arn_!r}")
    if not service or service["kind"] != "service" or len(service["names"]) not in (1, 2):
        raise TargetError(f"not a service ARN: {service_arn_!r}")
    for part in ("partition", "region", "account"):
        if cluster[part] != service[part]:
            raise TargetError(f"the cluster ARN and the service ARN name different {part}s: "
                              f"{cluster[part]} and {service[part]}")
    if (account, region) != (service["account"], service["region"]):
        raise TargetError(f"account/region {account}/{region} is not the one of {service_arn_}")
    if len(service["names"]) == 2 and service["names"][0] != cluster["names"][0]:
        raise TargetError(f"service {service_arn_} is not in cluster {cluster_arn_}")


def service_key(partition: str, account: str, region: str, cluster: str, service: str) -> str:
    return f"{partition}:{account}:{region}:{cluster}/{service}"


class ServiceTarget(BaseModel):
    """One ECS service. Build it from ARNs (`from_arns`, `from_described`) or, where only names are known
    (an event), from names in an account and region (`from_names`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    account: str
    region: str
    cluster_arn: str
    service_arn: str

    @model_validator(mode="after")
    def _consistent(self) -> ServiceTarget:
        check_consistent(self.account, self.region, self.cluster_arn, self.service_arn)
        return self

    # ---- names, for people ------------------------------------------------------------------------
    @computed_field  # type: ignore[prop-decorator]
    @property
    def cluster(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[-1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def service(self) -> str:
        return self.service_arn.rsplit("/", 1)[-1]

    @property
    def partition(self) -> str:
        return self.service_arn.split(":", 2)[1]

    @property
    def key(self) -> str:
        """The identity compared everywhere (lease, open incident, plan hand-off), whatever the ARN format."""
        return service_key(self.partition, self.account, self.region, self.cluster, self.service)

    @property
    def label(self) -> str:
        """cluster/service (account, region): how reports, emails and prompts name the service."""
        return f"{self.cluster}/{self.service} (account {self.account}, {self.region})"

    def same_service(self, other: ServiceTarget | None) -> bool:
        return other is not None and other.key == self.key

    # ---- constructors -------------------------------------------------------------------------------
    @classmethod
    def from_arns(cls, cluster_arn_: str, service_arn_: str) -> ServiceTarget:
        found = parse_ecs_arn(service_arn_)
        if not found:
            raise TargetError(f"not a service ARN: {service_arn_!r}")
        return cls._build(found["account"], found["region"], cluster_arn_, service_arn_)

    @classmethod
    def from_names(cls, account: str, region: str, cluster: str, service: str, partition: str = "aws") -> ServiceTarget:
        for what, value, pattern in (("account", account, _ACCOUNT), ("region", region, _REGION),
                                     ("cluster", cluster, _NAME), ("service", service, _NAME)):
            if not pattern.match(value or ""):
                raise TargetError(f"{what} {value!r} is not a valid ECS {what}")
        return cls._build(account, region, cluster_arn(partition, region, account, cluster),
                          service_arn(partition, region, account, cluster, service))

    @classmethod
    def _build(cls, account: str, region: str, cluster_arn_: str, service_arn_: str) -> ServiceTarget:
        """The constructors' errors are TargetError, whatever raised them (pydantic wraps a validator's)."""
        try:
            return cls(account=account, region=region, cluster_arn=cluster_arn_, service_arn=service_arn_)
        except ValidationError as exc:
            raise TargetError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None

    @classmethod
    def from_described(cls, service: dict[str, Any]) -> ServiceTarget:
        """From a DescribeServices item (its serviceArn and clusterArn)."""
        return cls.from_arns(str(service.get("clusterArn") or ""), str(service.get("serviceArn") or ""))
