"""Planton Cloud discovery: AwsCredential and AwsEcsService resources of one organisation.

Planton Cloud serves its APIs over gRPC and the Connect protocol; we speak Connect's
unary JSON form (POST https://<api>/<package.Service>/<method>, bearer token), so plain
HTTPS is enough. Resource shapes follow the public definitions:
`project.planton.credential.awscredential.v1.AwsCredential` (spec: account_id,
access_key_id, secret_access_key, region, session_token) and
`project.planton.provider.aws.awsecsservice.v1.AwsEcsService` (spec.ecs_service_name,
spec.cluster_arn, status.outputs.ecs_cluster_name ...), listed through the search
controllers as ApiResourceSearchRecord entries (id, name, kind, org_id, env_name).
The token and secret keys are never logged or put into an error message.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ..diagnosis.redaction import MASK, redact_text
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

DEFAULT_API_URL = "https://api.live.planton.ai"
API_URL_ENV = "PLANTON_API_URL"
DEFAULT_TIMEOUT_SECONDS = 10.0
PAGE_SIZE = 100
MAX_PAGES = 100
DEFAULT_REGION = "us-west-2"  # AwsCredentialSpec.region's declared default

SEARCH_CREDENTIALS = "cloud.planton.apis.search.v1.connect.ConnectSearchQueryController/searchCredentialApiResourcesByContext"
GET_AWS_CREDENTIAL = "cloud.planton.apis.connect.awscredential.v1.AwsCredentialQueryController/get"
SEARCH_CLOUD_RESOURCES = ("cloud.planton.apis.search.v1.infrahub.cloudresource.CloudResourceSearchQueryController/"
                          "getCloudResourcesCanvasView")
GET_CLOUD_RESOURCE = "cloud.planton.apis.infrahub.cloudresource.v1.CloudResourceQueryController/get"
AWS_CREDENTIAL_KIND = "aws_credential"
AWS_ECS_SERVICE_KIND = "aws_ecs_service"

_ECS_ARN = re.compile(r"^arn:aws[a-z\-]*:ecs:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):cluster/(?P<name>.+)$")


class PlantonCloudError(DiscoveryError):
    """A Planton Cloud API call failed; the message says why in one line, without secrets."""


def _get(obj: dict[str, Any] | None, snake: str, default: Any = None) -> Any:
    """Read a field in either protojson spelling: original (snake_case) or lowerCamelCase."""
    if not obj:
        return default
    if snake in obj:
        return obj[snake]
    head, *rest = snake.split("_")
    return obj.get(head + "".join(w.title() for w in rest), default)


class PlantonCloudClient:
    """Connect-protocol JSON calls to Planton Cloud with readable errors and paging."""

    def __init__(self, token: str, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 transport: httpx.BaseTransport | None = None):
        if not token:
            raise PlantonCloudError("Planton Cloud needs an API token (PLANTON_TOKEN or plantonToken)")
        self.base_url = (base_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        self.timeout = timeout
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Connect-Protocol-Version": "1",
            "Connect-Timeout-Ms": str(int(timeout * 1000)),
        })

    def __repr__(self) -> str:
        return f"PlantonCloudClient(base_url={self.base_url!r}, token={MASK})"

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, body: dict[str, Any], what: str,
             not_found: type[DiscoveryError] = PlantonCloudError) -> dict[str, Any]:
        """One unary call; `what` names the thing asked for, for the error message."""
        try:
            response = self._http.post(f"/{method}", json=body)
        except httpx.TimeoutException:
            raise PlantonCloudError(f"Planton Cloud did not answer within {self.timeout:g}s while fetching {what} "
                                    f"({self.base_url})") from None
        except httpx.HTTPError as exc:
            raise PlantonCloudError(f"cannot reach Planton Cloud at {self.base_url}: "
                                    f"{self._scrub(type(exc).__name__ + ': ' + str(exc))}") from None
        log.debug("planton %s -> HTTP %s", method.rsplit("/", 1)[-1], response.status_code)
        if response.status_code >= 400:
            raise self._error(response, what, not_found)
        try:
            answer = response.json()
        except ValueError:
            raise PlantonCloudError(f"Planton Cloud sent a non-JSON answer for {what} "
                                    f"(HTTP {response.status_code})") from None
        if not isinstance(answer, dict):
            raise PlantonCloudError(f"Planton Cloud sent an unexpected answer for {what}")
        return answer

    def pages(self, method: str, body: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every page of a paged search: page_info.page_number from 1 until total_pages (or a short page)."""
        for number in range(1, MAX_PAGES + 1):
            answer = self.call(method, {**body, "page_info": {"page_number": number, "page_size": PAGE_SIZE}}, what)
            yield answer
            total = _get(answer, "total_pages")
            if total is None or number >= int(total):
                return

    def _error(self, response: httpx.Response, what: str, not_found: type[DiscoveryError]) -> DiscoveryError:
        code, message = "", ""
        try:
            body = response.json()
            code, message = str(body.get("code", "")), str(body.get("message", ""))
        except ValueError:
            message = response.text[:200]
        detail = f": {self._scrub(message)}" if message else ""
        status = response.status_code
        if status == 401 or code == "unauthenticated":
            return PlantonCloudError("Planton Cloud rejected the API token (401 unauthenticated): check that "
                                     "PLANTON_TOKEN / plantonToken is a current API key for this organisation")
        if status == 403 or code == "permission_denied":
            return PlantonCloudError(f"Planton Cloud denied access to {what} (403 permission denied){detail}")
        if status == 404 or code == "not_found":
            return not_found(f"Planton Cloud has no {what} (404 not found)")
        return PlantonCloudError(f"Planton Cloud failed to return {what} "
                                 f"(HTTP {status}{' ' + code if code else ''}){detail}")

    def _scrub(self, text: str) -> str:
        return redact_text(text.replace(self._token, MASK))


class PlantonCloudDiscovery(CredentialSource, ServiceDirectory):
    """AwsCredential and AwsEcsService resources of an organisation (and environment), as the interface wants."""

    def __init__(self, token: str, org_id: str, env_name: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, client: PlantonCloudClient | None = None):
        if not org_id:
            raise PlantonCloudError("Planton Cloud needs an organisation id (PLANTON_ORG_ID or orgId)")
        self.org_id = org_id
        self.env_name = env_name
        self.client = client or PlantonCloudClient(token, base_url=base_url, timeout=timeout)

    # ---- credentials -------------------------------------------------------------------------

    def list_credentials(self, environment: str | None = None) -> list[CredentialSummary]:
        env = environment or self.env_name
        body: dict[str, Any] = {"org_id": self.org_id, "kinds": [AWS_CREDENTIAL_KIND]}
        if env:
            body["env_name"] = env
        found: list[CredentialSummary] = []
        for page in self.client.pages(SEARCH_CREDENTIALS, body, f"AWS credentials of organisation {self.org_id!r}"):
            for record in _get(page, "records", []) or []:
                found.append(CredentialSummary(id=_get(record, "id"), name=_get(record, "name") or _get(record, "id"),
                                               source="planton", environment=_get(record, "env_name") or None,
                                               organization=_get(record, "org_id") or self.org_id))
        return found

    def _credential(self, credential_id: str) -> dict[str, Any]:
        return self.client.call(GET_AWS_CREDENTIAL, {"value": credential_id}, f"AWS credential {credential_id!r}",
                                not_found=CredentialNotFound)

    def get_credential(self, credential_id: str) -> CredentialSummary:
        resource = self._credential(credential_id)
        metadata, spec = _get(resource, "metadata", {}), _get(resource, "spec", {})
        return CredentialSummary(id=_get(metadata, "id") or credential_id, name=_get(metadata, "name") or credential_id,
                                 source="planton", account_id=_get(spec, "account_id") or None,
                                 region=_get(spec, "region") or DEFAULT_REGION,
                                 environment=_get(metadata, "env") or None,
                                 organization=_get(metadata, "org") or self.org_id)

    def extract_for_sdk(self, credential_id: str, region: str | None = None) -> SdkCredentials:
        spec = _get(self._credential(credential_id), "spec", {})
        access_key, secret_key = _get(spec, "access_key_id"), _get(spec, "secret_access_key")
        if not access_key or not secret_key:
            raise PlantonCloudError(f"AWS credential {credential_id!r} has no access key in Planton Cloud")
        return sdk_credentials(access_key, secret_key, _get(spec, "session_token"),
                               region or _get(spec, "region") or DEFAULT_REGION)

    # ---- services ----------------------------------------------------------------------------

    def list_services(self, environment: str | None = None, organization: str | None = None) -> list[ServiceRecord]:
        if organization and organization != self.org_id:
            return []
        env = environment or self.env_name
        body: dict[str, Any] = {"org": self.org_id, "kinds": [AWS_ECS_SERVICE_KIND]}
        if env:
            body["envs"] = [env]
        ids = [_get(r, "id") for page in self.client.pages(SEARCH_CLOUD_RESOURCES, body,
                                                          f"ECS services of organisation {self.org_id!r}")
               for r in _canvas_records(page)]
        if not ids:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
            resources = list(pool.map(self._ecs_service, ids))
        accounts = self._account_credentials(env)
        return [self._record(resource, accounts) for resource in resources]

    def get_service(self, service_id: str) -> ServiceRecord:
        resource = self._ecs_service(service_id)
        return self._record(resource, self._account_credentials(_get(_get(resource, "metadata", {}), "env")))

    def _ecs_service(self, service_id: str) -> dict[str, Any]:
        wrapper = self.client.call(GET_CLOUD_RESOURCE, {"value": service_id}, f"ECS service {service_id!r}",
                                   not_found=ServiceNotFound)
        return _unwrap_cloud_object(wrapper)

    def _account_credentials(self, environment: str | None) -> dict[str, str]:
        """account id -> credential id, for the credentials of the environment (first one wins)."""
        accounts: dict[str, str] = {}
        for summary in self.list_credentials(environment):
            detail = self.get_credential(summary.id)
            if detail.account_id:
                accounts.setdefault(detail.account_id, detail.id)
        return accounts

    def _record(self, resource: dict[str, Any], accounts: dict[str, str]) -> ServiceRecord:
        metadata, spec = _get(resource, "metadata", {}), _get(resource, "spec", {})
        outputs = _get(_get(resource, "status", {}), "outputs", {})
        cluster_arn = _get(spec, "cluster_arn")
        if isinstance(cluster_arn, dict):
            cluster_arn = _get(cluster_arn, "value")
        match = _ECS_ARN.match(cluster_arn or "")
        cluster = _get(outputs, "ecs_cluster_name") or (match["name"] if match else None) or ""
        name = _get(outputs, "aws_ecs_service_name") or _get(spec, "ecs_service_name") or _get(metadata, "name")
        account = match["account"] if match else None
        region = match["region"] if match else DEFAULT_REGION
        target = accounts.get(account) if account else None
        if target is None and len(set(accounts.values())) == 1:
            target = next(iter(accounts.values()))  # one credential in the environment: it is the one
        arn = f"arn:aws:ecs:{region}:{account}:service/{cluster}/{name}" if account and cluster else None
        return ServiceRecord(id=_get(metadata, "id") or name, name=name, cluster=cluster, region=region,
                             account_id=account, environment=_get(metadata, "env") or None,
                             organization=_get(metadata, "org") or self.org_id, arn=arn, target=target,
                             desired_count=_get(_get(spec, "container", {}), "replicas"))


def _canvas_records(page: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for environment in _get(page, "canvas_environments", []) or []:
        for group in (_get(environment, "resource_kind_mapping", {}) or {}).values():
            yield from _get(group, "records", []) or []


def _unwrap_cloud_object(wrapper: dict[str, Any]) -> dict[str, Any]:
    """CloudResource{spec.cloud_object.<kind>} -> the AwsEcsService inside; an unwrapped resource passes through."""
    cloud_object = _get(_get(wrapper, "spec", {}), "cloud_object")
    if not cloud_object:
        return wrapper
    inner = _get(cloud_object, AWS_ECS_SERVICE_KIND) or _get(_get(cloud_object, "object", {}), "value")
    if not inner:
        raise PlantonCloudError("Planton Cloud resource is not an AwsEcsService")
    return inner
