"""One boto3 session per target, clients with adaptive retries, and an API-call counter.

boto3 itself honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL[_<SERVICE>]; we only
add the retry/timeouts config and count the calls each triage makes.
"""
from __future__ import annotations

import threading
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
    """A boto3 session plus cached, counted clients for one region."""

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

    def client(self, service: str):
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(service, region_name=self.region, config=RETRY_CONFIG)
                client.meta.events.register("before-send", self.counter)
                self._clients[service] = client
            return client
