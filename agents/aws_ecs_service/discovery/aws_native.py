"""AWS-native discovery: the standard boto3 credential chain plus named targets from agent.yaml.

Each target is an account reached with STS AssumeRole; its credentials are cached until
shortly before they expire. Services are found with ListClusters / ListServices /
DescribeServices (tags included) in every target and region at once; the environment and
organisation of a service come from its tags, then its cluster's tags, then the target.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from pydantic import BaseModel, ConfigDict, Field

from ..aws.session import RETRY_CONFIG
from ..diagnosis.redaction import redact_text
from .interface import (
    CredentialNotFound,
    CredentialSource,
    CredentialSummary,
    DiscoveryError,
    SdkCredentials,
    ServiceDirectory,
    ServiceNotFound,
    ServiceRecord,
    sdk_credentials,
)

log = logging.getLogger(__name__)

DEFAULT_TARGET = "default"
SESSION_NAME_PREFIX = "ecs-incident-agent"
ASSUME_ROLE_SECONDS = 3600
REFRESH_MARGIN = dt.timedelta(minutes=15)  # botocore's own advisory refresh window
DESCRIBE_SERVICES_BATCH = 10  # DescribeServices takes at most 10 services
DEFAULT_ENVIRONMENT_TAG_KEYS = ("environment", "env", "stage")
DEFAULT_ORGANIZATION_TAG_KEYS = ("organization", "organisation", "org")
LISTING_TTL_SECONDS = 60.0
MAX_WORKERS = 8


class Target(BaseModel):
    """One `targets:` entry of agent.yaml."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    account_id: str | None = Field(default=None, alias="accountId")
    role_arn: str | None = Field(default=None, alias="roleArn")
    external_id: str | None = Field(default=None, alias="externalId", repr=False)
    regions: list[str] = Field(default_factory=list)
    environment: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class _Cached:
    credentials: SdkCredentials
    expires_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tag_value(tags: Iterable[dict[str, Any]], keys: tuple[str, ...]) -> str | None:
    """First tag whose key matches one of `keys` (case-insensitive), in the order of `keys`."""
    by_key = {str(t.get("key", "")).lower(): t.get("value") for t in tags or []}
    for key in keys:
        value = by_key.get(key.lower())
        if value:
            return str(value)
    return None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


class AwsNativeDiscovery(CredentialSource, ServiceDirectory):
    """Credential source and service directory over the boto3 chain and STS-assumed targets."""

    def __init__(
        self,
        targets: Iterable[dict[str, Any] | Target] = (),
        region: str | None = None,
        profile: str | None = None,
        environment: str | None = None,
        organization: str | None = None,
        environment_tag_keys: tuple[str, ...] = DEFAULT_ENVIRONMENT_TAG_KEYS,
        organization_tag_keys: tuple[str, ...] = DEFAULT_ORGANIZATION_TAG_KEYS,
        clock: Callable[[], dt.datetime] = _utcnow,
        base_session: boto3.session.Session | None = None,
    ):
        if base_session is None:
            base_session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        self._base = base_session
        self.region = region or self._base.region_name or "us-east-1"
        default = Target(name=DEFAULT_TARGET, regions=[self.region], environment=environment,
                         organization=organization)
        self.targets: dict[str, Target] = {DEFAULT_TARGET: default}
        for entry in targets:
            target = entry if isinstance(entry, Target) else Target.model_validate(entry)
            if not target.role_arn:
                raise DiscoveryError(f"target {target.name!r}: roleArn is required")
            if target.name in self.targets:
                raise DiscoveryError(f"target {target.name!r} is defined twice")
            target.regions = target.regions or [self.region]
            target.account_id = target.account_id or _account_of(target.role_arn)
            self.targets[target.name] = target
        self.environment_tag_keys = environment_tag_keys
        self.organization_tag_keys = organization_tag_keys
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._cache_lock = threading.Lock()
        self._default_account: str | None = None
        self._listing: tuple[float, list[ServiceRecord]] | None = None
        self.last_scan_errors: list[str] = []
        self.sts_calls = 0

    # ---- credentials -------------------------------------------------------------------------

    def _target(self, credential_id: str) -> Target:
        target = self.targets.get(credential_id)
        if target is None:
            known = ", ".join(sorted(self.targets))
            raise CredentialNotFound(f"no AWS target named {credential_id!r} (known: {known})")
        return target

    def _default_account_id(self) -> str | None:
        if self._default_account is None:
            try:
                sts = self._base.client("sts", region_name=self.region, config=RETRY_CONFIG)
                self._default_account = sts.get_caller_identity()["Account"]
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                log.warning("could not identify the default AWS account: %s", redact_text(str(exc)))
        return self._default_account

    def _summary(self, target: Target) -> CredentialSummary:
        if target.name == DEFAULT_TARGET:
            return CredentialSummary(id=target.name, name=target.name, source="boto3-chain",
                                     account_id=self._default_account_id(), region=self.region,
                                     regions=target.regions, environment=target.environment,
                                     organization=target.organization)
        cached = self._cache.get(target.name)
        return CredentialSummary(id=target.name, name=target.name, source="assume-role", account_id=target.account_id,
                                 region=target.regions[0], regions=target.regions, environment=target.environment,
                                 organization=target.organization, role_arn=target.role_arn,
                                 expires_at=cached.expires_at if cached else None)

    def list_credentials(self, environment: str | None = None) -> list[CredentialSummary]:
        return [self._summary(t) for t in self.targets.values()
                if environment is None or t.environment is None or _same(t.environment, environment)]

    def get_credential(self, credential_id: str) -> CredentialSummary:
        return self._summary(self._target(credential_id))

    def extract_for_sdk(self, credential_id: str, region: str | None = None) -> SdkCredentials:
        target = self._target(credential_id)
        region = region or target.regions[0]
        if target.name == DEFAULT_TARGET:
            frozen = self._base.get_credentials()
            if frozen is None:
                raise DiscoveryError("no AWS credentials found in the standard chain (env, profile, SSO, role)")
            frozen = frozen.get_frozen_credentials()
            return sdk_credentials(frozen.access_key, frozen.secret_key, frozen.token, region)
        cached = self._assumed(target)
        return sdk_credentials(cached["aws_access_key_id"], cached["aws_secret_access_key"],
                               cached["aws_session_token"], region)

    def _assumed(self, target: Target) -> SdkCredentials:
        with self._cache_lock:
            cached = self._cache.get(target.name)
            if cached is not None and cached.expires_at - self._clock() > REFRESH_MARGIN:
                return cached.credentials
            kwargs: dict[str, Any] = {"RoleArn": target.role_arn, "DurationSeconds": ASSUME_ROLE_SECONDS,
                                      "RoleSessionName": f"{SESSION_NAME_PREFIX}-{target.name}"[:64]}
            if target.external_id:
                kwargs["ExternalId"] = target.external_id
            sts = self._base.client("sts", region_name=target.regions[0], config=RETRY_CONFIG)
            try:
                self.sts_calls += 1
                answer = sts.assume_role(**kwargs)["Credentials"]
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise DiscoveryError(f"cannot assume {target.role_arn} for target {target.name!r}: "
                                     f"{redact_text(str(exc))}") from None
            creds = sdk_credentials(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"], None)
            self._cache[target.name] = _Cached(credentials=creds, expires_at=answer["Expiration"])
            log.info("assumed %s for target %s (expires %s)", target.role_arn, target.name,
                     answer["Expiration"].isoformat())
            return creds

    def session_for(self, credential_id: str) -> boto3.session.Session:
        """A boto3 session for a target (the base session itself for the default chain)."""
        target = self._target(credential_id)
        if target.name == DEFAULT_TARGET:
            return self._base
        creds = self._assumed(target)
        return boto3.session.Session(aws_access_key_id=creds["aws_access_key_id"],
                                     aws_secret_access_key=creds["aws_secret_access_key"],
                                     aws_session_token=creds["aws_session_token"])

    # ---- services ----------------------------------------------------------------------------

    def list_services(self, environment: str | None = None, organization: str | None = None) -> list[ServiceRecord]:
        records = self._all_services()
        return [r for r in records
                if (environment is None or _same(r.environment, environment))
                and (organization is None or _same(r.organization, organization))]

    def get_service(self, service_id: str) -> ServiceRecord:
        for record in self._all_services():
            if service_id in (record.id, record.arn):
                return record
        raise ServiceNotFound(f"no ECS service with id {service_id!r} in any configured target")

    def _all_services(self) -> list[ServiceRecord]:
        if self._listing and time.monotonic() - self._listing[0] < LISTING_TTL_SECONDS:
            return self._listing[1]
        pairs = [(t, region) for t in self.targets.values() for region in t.regions]
        errors: list[str] = []
        records: list[ServiceRecord] = []
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pairs))) as pool:
            for target, region, found, error in pool.map(lambda p: self._scan(*p), pairs):
                if error:
                    errors.append(f"{target.name}/{region}: {error}")
                records += found
        for line in errors:
            log.warning("service discovery skipped %s", line)
        records.sort(key=lambda r: (r.environment or "", r.name, r.account_id or "", r.region))
        self.last_scan_errors = errors
        self._listing = (time.monotonic(), records)
        return records

    def _scan(self, target: Target, region: str) -> tuple[Target, str, list[ServiceRecord], str | None]:
        try:
            ecs = self.session_for(target.name).client("ecs", region_name=region, config=RETRY_CONFIG)
            return target, region, self._scan_region(ecs, target, region), None
        except DiscoveryError as exc:
            return target, region, [], str(exc)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            return target, region, [], redact_text(str(exc))

    def _scan_region(self, ecs, target: Target, region: str) -> list[ServiceRecord]:
        cluster_arns = [arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]]
        cluster_tags = self._cluster_tags(ecs, cluster_arns)
        found: list[ServiceRecord] = []
        for cluster_arn in cluster_arns:
            service_arns = [arn for page in ecs.get_paginator("list_services").paginate(cluster=cluster_arn)
                            for arn in page["serviceArns"]]
            for i in range(0, len(service_arns), DESCRIBE_SERVICES_BATCH):
                described = ecs.describe_services(cluster=cluster_arn, include=["TAGS"],
                                                  services=service_arns[i:i + DESCRIBE_SERVICES_BATCH])
                for svc in described["services"]:
                    found.append(self._record(svc, cluster_arn, cluster_tags.get(cluster_arn, []), target, region))
        return found

    def _cluster_tags(self, ecs, cluster_arns: list[str]) -> dict[str, list[dict[str, str]]]:
        tags: dict[str, list[dict[str, str]]] = {}
        for i in range(0, len(cluster_arns), 100):  # DescribeClusters takes at most 100 clusters
            for cluster in ecs.describe_clusters(clusters=cluster_arns[i:i + 100], include=["TAGS"])["clusters"]:
                tags[cluster["clusterArn"]] = cluster.get("tags") or []
        return tags

    def _record(self, svc: dict[str, Any], cluster_arn: str, cluster_tags: list[dict[str, str]],
                target: Target, region: str) -> ServiceRecord:
        tags = svc.get("tags") or []
        environment = (_tag_value(tags, self.environment_tag_keys) or _tag_value(cluster_tags, self.environment_tag_keys)
                       or target.environment)
        organization = (_tag_value(tags, self.organization_tag_keys)
                        or _tag_value(cluster_tags, self.organization_tag_keys) or target.organization)
        arn = svc["serviceArn"]
        return ServiceRecord(id=arn, arn=arn, name=svc["serviceName"], cluster=cluster_arn.rsplit("/", 1)[-1],
                             region=region, account_id=_account_of(arn) or target.account_id,
                             environment=environment, organization=organization, target=target.name,
                             status=svc.get("status"), desired_count=svc.get("desiredCount"),
                             running_count=svc.get("runningCount"))


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()
