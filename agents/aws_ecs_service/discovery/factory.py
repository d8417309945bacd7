"""Choose the discovery provider from ECSDeepAgentConfig and hand code (never the model) AWS sessions.

Planton Cloud when both `planton_token` and `org_id` are set; otherwise AWS-native (the
boto3 chain plus the `targets` of agent.yaml).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..aws.session import AwsContext, SessionPool
from ..config import ECSDeepAgentConfig
from .aws_native import (
    DEFAULT_ENVIRONMENT_TAG_KEYS,
    DEFAULT_ORGANIZATION_TAG_KEYS,
    DEFAULT_TARGET,
    AwsNativeDiscovery,
)
from .interface import CredentialSource, DiscoveryError, SdkCredentials, ServiceDirectory, ServiceRecord

ENVIRONMENT_TAG_KEYS_ENV = "ECS_AGENT_ENVIRONMENT_TAG_KEYS"
ORGANIZATION_TAG_KEYS_ENV = "ECS_AGENT_ORGANIZATION_TAG_KEYS"


@dataclass
class Discovery:
    """The credential source and service directory of one configuration, and the AWS sessions they lead to."""

    provider: str  # "aws" | "planton"
    credentials: CredentialSource
    services: ServiceDirectory
    profile: str | None = None
    pool: SessionPool = field(init=False)

    def __post_init__(self) -> None:
        # one pool per configuration: sessions and clients are reused, keyed by the (refreshed) credentials
        self.pool = SessionPool(profile=self.profile, credentials_for=self.credentials_for_account)

    def session_for_service(self, record: ServiceRecord) -> AwsContext:
        """An AwsContext in the service's account and region. Code path only: the model never sees the keys."""
        if not record.target:
            raise DiscoveryError(f"no credential is known for {record.name} (account {record.account_id or '?'}): "
                                 f"add one for that account")
        if self.provider == "aws" and record.target == DEFAULT_TARGET:
            # the standard chain: let boto3 keep refreshing its own credentials
            return self.pool.context(record.region)
        return self.pool.context(record.region,
                                 self.credentials.extract_for_sdk(record.target, region=record.region))

    def credentials_for_account(self, account: str) -> SdkCredentials | None:
        """The credentials configured for an account (an assumed role, a Planton credential); None: the default
        chain (whose account the policy guard still checks before any write)."""
        for summary in self.credentials.list_credentials():
            if summary.account_id == account and not (self.provider == "aws" and summary.id == DEFAULT_TARGET):
                return self.credentials.extract_for_sdk(summary.id)
        return None


def _tag_keys(env_name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(env_name, "")
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    return keys or default


def build_discovery(config: ECSDeepAgentConfig) -> Discovery:
    if config.planton_token and config.org_id:
        from .planton import PlantonCloudDiscovery

        planton = PlantonCloudDiscovery(config.planton_token, config.org_id, env_name=config.env_name)
        return Discovery(provider="planton", credentials=planton, services=planton)
    native = AwsNativeDiscovery(
        targets=config.targets, region=config.aws_region, profile=config.aws_profile, environment=config.env_name,
        environment_tag_keys=_tag_keys(ENVIRONMENT_TAG_KEYS_ENV, DEFAULT_ENVIRONMENT_TAG_KEYS),
        organization_tag_keys=_tag_keys(ORGANIZATION_TAG_KEYS_ENV, DEFAULT_ORGANIZATION_TAG_KEYS),
    )
    return Discovery(provider="aws", credentials=native, services=native, profile=config.aws_profile)

