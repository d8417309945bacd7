"""Where services and credentials come from: the two contracts every provider meets.

A CredentialSource hands out AWS credentials by id (an agent.yaml target, or a Planton
Cloud AwsCredential); a ServiceDirectory lists the ECS services an organisation and
environment can see. Summaries and records never carry a secret; only
`extract_for_sdk` does, and its result hides the secret from repr/str so a stray log
line or f-string cannot leak it.
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod

from pydantic import BaseModel

from ..diagnosis.errors import TriageError

SDK_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region")


class DiscoveryError(TriageError):
    """A credential or service could not be found or fetched; `str(exc)` is one readable, secret-free line."""


class CredentialNotFound(DiscoveryError):
    pass


class ServiceNotFound(DiscoveryError):
    pass


class CredentialSummary(BaseModel):
    """What may be shown about a credential: never the secret key, session token or API token."""

    id: str
    name: str
    source: str  # "boto3-chain" | "assume-role" | "planton"
    account_id: str | None = None
    region: str | None = None
    regions: list[str] = []
    environment: str | None = None
    organization: str | None = None
    role_arn: str | None = None
    expires_at: dt.datetime | None = None


class ServiceRecord(BaseModel):
    """One ECS service as the directory knows it; `target` is the credential id that reaches it (None: unknown)."""

    id: str
    name: str
    cluster: str
    region: str
    account_id: str | None = None
    environment: str | None = None
    organization: str | None = None
    arn: str | None = None
    target: str | None = None
    status: str | None = None
    desired_count: int | None = None
    running_count: int | None = None


class SdkCredentials(dict):
    """The flat keys a boto3 session takes, plus the region. repr/str never show the secrets."""

    def __repr__(self) -> str:
        return (f"SdkCredentials(aws_access_key_id=<redacted>, aws_secret_access_key=<redacted>, "
                f"aws_session_token=<redacted>, region={self.get('region')!r})")

    __str__ = __repr__


def sdk_credentials(access_key_id: str, secret_access_key: str, session_token: str | None,
                    region: str | None) -> SdkCredentials:
    return SdkCredentials(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                          aws_session_token=session_token or None, region=region)


class CredentialSource(ABC):
    @abstractmethod
    def list_credentials(self, environment: str | None = None) -> list[CredentialSummary]:
        """Credentials usable within the configured organisation, optionally one environment only."""

    @abstractmethod
    def get_credential(self, credential_id: str) -> CredentialSummary:
        """One credential's summary; raises CredentialNotFound."""

    @abstractmethod
    def extract_for_sdk(self, credential_id: str, region: str | None = None) -> SdkCredentials:
        """Live credentials for boto3 (code paths only: never hand the result to a model)."""


class ServiceDirectory(ABC):
    @abstractmethod
    def list_services(self, environment: str | None = None, organization: str | None = None) -> list[ServiceRecord]:
        """ECS services visible in the scope, across every account and region the provider reaches."""

    @abstractmethod
    def get_service(self, service_id: str) -> ServiceRecord:
        """One service by its record id (ARN for AWS-native, resource id for Planton); raises ServiceNotFound."""
