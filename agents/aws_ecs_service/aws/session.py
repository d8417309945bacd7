"""boto3 sessions and clients: built once per container and per (credentials, region), reused, counted.

boto3 itself honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL[_<SERVICE>]; we add the
retry/timeouts config and count the calls each triage makes. Building a boto3 Session and its
clients loads service models from disk (tens of ms per client), so a warm Lambda container or a
long chat keeps them: `SessionPool` hands out one AwsContext per (credential, region), whose
clients are created on first use. Assumed-role credentials come from a resolver that refreshes
them before they expire; fresh credentials make a fresh context, the stale one is dropped.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from ..domain.target import ServiceTarget

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 6},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=32,
)
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
                              "ThrottledException", "RequestThrottled", "RequestThrottledException"})


def is_transient(exc: Exception) -> bool:
    """Throttling, a 5xx answer or a lost connection (still failing after the retries): AWS is struggling, it did
    not refuse. The caller may go on without that answer; an access denial or a missing resource is not this."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in THROTTLING_CODES or status >= 500
    return isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError)


@dataclass
class CallCounter:
    """Counts API requests made through clients of one AwsContext (retries included)."""

    calls: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, event_name: str = "", **_kwargs) -> None:
        # event_name is "before-send.<service>.<Operation>", once per HTTP attempt
        parts = event_name.split(".")
        name = f"{parts[1]}:{parts[2]}" if len(parts) >= 3 else event_name
        with self._lock:
            self.calls += 1
            self.by_operation[name] = self.by_operation.get(name, 0) + 1


class AwsContext:
    """A boto3 session plus cached, counted clients for one region, and the account its credentials are in."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        session: boto3.session.Session | None = None,
        credentials: dict | None = None,
    ):
        if session is None:
            kwargs = {}
            if profile:
                kwargs["profile_name"] = profile
            if credentials:
                kwargs.update({k: v for k, v in credentials.items() if k in (
                    "aws_access_key_id", "aws_secret_access_key", "aws_session_token")})
            session = boto3.session.Session(**kwargs)
        self.session = session
        self.region = region or session.region_name or "us-east-1"
        self.counter = CallCounter()
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    def client(self, service: str):
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(service, region_name=self.region, config=RETRY_CONFIG)
                client.meta.events.register("before-send", self.counter)
                self._clients[service] = client
            return client

    def account(self) -> str:
        """The account of this context's credentials (STS GetCallerIdentity, asked once)."""
        if self._account is None:
            self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account


CredentialResolver = Callable[[str], Mapping[str, str] | None]
POOL_SIZE = 64


class SessionPool:
    """AwsContexts reused across invocations: one per (credentials, region).

    `credentials_for(account)` returns boto3 credential keys for an account the configuration reaches
    with its own credentials (an assumed role, a Planton credential), or None for the default chain
    (profile / environment / instance role), which boto3 refreshes by itself.
    """

    def __init__(self, profile: str | None = None, credentials_for: CredentialResolver | None = None,
                 size: int = POOL_SIZE):
        self.profile = profile
        self.credentials_for = credentials_for
        self._contexts: OrderedDict[tuple[str, str], AwsContext] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def context(self, region: str | None = None, credentials: Mapping[str, str] | None = None) -> AwsContext:
        fingerprint = _fingerprint(credentials) if credentials else f"chain:{self.profile or ''}"
        key = (fingerprint, region or "")
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = AwsContext(region=region, profile=None if credentials else self.profile,
                                 credentials=dict(credentials) if credentials else None)
                self._contexts[key] = ctx
                while len(self._contexts) > self._size:
                    self._contexts.popitem(last=False)
            self._contexts.move_to_end(key)
            return ctx

    def for_target(self, target: ServiceTarget) -> AwsContext:
        """A context in the target's region with the credentials configured for its account."""
        credentials = self.credentials_for(target.account) if self.credentials_for else None
        return self.context(target.region, credentials)


def _fingerprint(credentials: Mapping[str, str]) -> str:
    material = "|".join(str(credentials.get(k) or "") for k in ("aws_access_key_id", "aws_secret_access_key",
                                                                 "aws_session_token"))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


_shared: dict[str | None, SessionPool] = {}


def shared_pool(profile: str | None = None) -> SessionPool:
    """The process's pool for the default chain (a Lambda container keeps it between invocations)."""
    if profile not in _shared:
        _shared[profile] = SessionPool(profile=profile)
    return _shared[profile]
