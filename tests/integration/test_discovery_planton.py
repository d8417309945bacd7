"""Planton Cloud discovery against a local HTTP server speaking Planton's Connect/JSON shapes."""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.aws_ecs_service.config import ECSDeepAgentConfig
from agents.aws_ecs_service.discovery import CredentialNotFound, ServiceNotFound, build_discovery, find_services
from agents.aws_ecs_service.discovery.planton import (
    GET_AWS_CREDENTIAL,
    GET_CLOUD_RESOURCE,
    SEARCH_CLOUD_RESOURCES,
    SEARCH_CREDENTIALS,
    PlantonCloudDiscovery,
    PlantonCloudError,
)
from agents.aws_ecs_service.discovery.tools import DiscoveryTools

pytestmark = pytest.mark.slow  # a local HTTP server per test

TOKEN = "pk_live_8fJ2kQ9zXv1mN4bT7yR3wE6uI0oP5aSd"
ORG = "acme"
STAGING_KEY = "ASIAQWERTYUIOPASDFGH"
STAGING_SECRET = "Zx8vB2nM4qW6eR8tY0uI2oP4aS6dF8gH0jK2lZ4x"
STAGING_SESSION = "FwoGZXIvYXdzEJr//////////wEaDHVzZXNzaW9udG9rZW4"
PROD_SECRET = "Pq1wE3rT5yU7iO9pA1sD3fG5hJ7kL9zX1cV3bN5m"

CREDENTIALS = {
    "cred-prod": {"api_version": "credential.project-planton.org/v1", "kind": "AwsCredential",
                  "metadata": {"id": "cred-prod", "name": "prod-account", "org": ORG, "env": "production"},
                  "spec": {"account_id": "111111111111", "access_key_id": "AKIAPRODPRODPRODPROD",
                           "secret_access_key": PROD_SECRET, "region": "us-east-1"}},
    # camelCase, as protojson writes it by default
    "cred-staging": {"apiVersion": "credential.project-planton.org/v1", "kind": "AwsCredential",
                     "metadata": {"id": "cred-staging", "name": "staging-account", "org": ORG, "env": "staging"},
                     "spec": {"accountId": "222222222222", "accessKeyId": STAGING_KEY,
                              "secretAccessKey": STAGING_SECRET, "sessionToken": STAGING_SESSION,
                              "region": "eu-west-1"}},
}
SEARCH_PAGES = {  # page number -> records (two pages: paging must be followed)
    1: [{"id": "cred-prod", "name": "prod-account", "kind": "AwsCredential", "org_id": ORG, "env_name": "production"}],
    2: [{"id": "cred-staging", "name": "staging-account", "kind": "AwsCredential", "orgId": ORG,
         "envName": "staging"}],
}
ECS_SERVICES = {
    "ecs-checkout": {"api_version": "aws.project-planton.org/v1", "kind": "AwsEcsService",
                     "metadata": {"id": "ecs-checkout", "name": "checkout", "org": ORG, "env": "staging"},
                     "spec": {"ecs_service_name": "checkout-api",
                              "cluster_arn": {"value": "arn:aws:ecs:eu-west-1:222222222222:cluster/shop"},
                              "container": {"replicas": 2, "cpu": 256, "memory": 512}},
                     "status": {"outputs": {"aws_ecs_service_name": "checkout-api", "ecs_cluster_name": "shop"}}},
    "ecs-api": {"api_version": "aws.project-planton.org/v1", "kind": "AwsEcsService",
                "metadata": {"id": "ecs-api", "name": "api", "org": ORG, "env": "production"},
                "spec": {"ecs_service_name": "api",
                         "cluster_arn": {"value": "arn:aws:ecs:us-east-1:111111111111:cluster/prod"}}},
}


class PlantonFake(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict]] = []
    held: dict[str, threading.Event] = {}  # method -> answered only once the test sets the event (30 s at most)

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        method = self.path.lstrip("/")
        self.calls.append((method, body))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"code": "unauthenticated", "message": "invalid api key"})
        if self.headers.get("Connect-Protocol-Version") != "1":
            return self._send(415, {"code": "unknown", "message": "not a connect request"})
        if method in self.held:
            self.held[method].wait(30)
        if body.get("org_id", body.get("org")) == "forbidden-org":
            return self._send(403, {"code": "permission_denied",
                                    "message": f"user of token {TOKEN} may not read org forbidden-org"})
        if method == SEARCH_CREDENTIALS:
            page = body["page_info"]["page_number"]
            records = [r for r in SEARCH_PAGES.get(page, [])
                       if "env_name" not in body or (r.get("env_name") or r.get("envName")) == body["env_name"]]
            return self._send(200, {"records": records, "totalPages": len(SEARCH_PAGES)})
        if method == GET_AWS_CREDENTIAL:
            found = CREDENTIALS.get(body["value"])
            return self._send(200, found) if found else self._send(404, {"code": "not_found", "message": "none"})
        if method == SEARCH_CLOUD_RESOURCES:
            envs = body.get("envs")
            records = [{"id": k, "name": v["metadata"]["name"], "kind": "AwsEcsService", "org_id": ORG,
                        "env_name": v["metadata"]["env"]}
                       for k, v in ECS_SERVICES.items() if not envs or v["metadata"]["env"] in envs]
            return self._send(200, {"canvas_environments": [
                {"env_name": "all", "resource_kind_mapping": {"aws_ecs_service": {"records": records}}}]})
        if method == GET_CLOUD_RESOURCE:
            found = ECS_SERVICES.get(body["value"])
            if not found:
                return self._send(404, {"code": "not_found", "message": "none"})
            wrapper = {"api_version": "infra-hub.planton.ai/v1", "kind": "CloudResource",
                       "metadata": found["metadata"],
                       "spec": {"kind": "aws_ecs_service", "cloud_object": {"aws_ecs_service": found}}}
            return self._send(200, wrapper)
        return self._send(404, {"code": "unimplemented", "message": method})


@pytest.fixture
def planton_url():
    PlantonFake.calls = []
    PlantonFake.held = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), PlantonFake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _secrets() -> list[str]:
    return [TOKEN, STAGING_SECRET, STAGING_SESSION, PROD_SECRET, STAGING_KEY]


def test_factory_picks_planton_when_token_and_org_are_set(planton_url, monkeypatch):
    monkeypatch.setenv("PLANTON_API_URL", planton_url)
    config = ECSDeepAgentConfig.load(env={"PLANTON_TOKEN": TOKEN, "PLANTON_ORG_ID": ORG, "PLANTON_ENV_ID": "staging"},
                                     yaml_path="/nonexistent.yaml")
    discovery = build_discovery(config)
    assert discovery.provider == "planton" and discovery.services.env_name == "staging"
    assert TOKEN not in repr(discovery.credentials.client)
    assert build_discovery(ECSDeepAgentConfig.load(env={"PLANTON_TOKEN": TOKEN}, yaml_path="/x.yaml")).provider == "aws"


def test_lists_pages_gets_and_maps_resources(planton_url, caplog):
    planton = PlantonCloudDiscovery(TOKEN, ORG, base_url=planton_url)
    with caplog.at_level(logging.DEBUG):
        creds = planton.list_credentials()
        pages = [b["page_info"]["page_number"] for m, b in PlantonFake.calls if m == SEARCH_CREDENTIALS]
        assert pages == [1, 2]
        assert [(c.id, c.environment, c.organization) for c in creds] == [
            ("cred-prod", "production", ORG), ("cred-staging", "staging", ORG)]

        staging = planton.get_credential("cred-staging")
        assert (staging.account_id, staging.region, staging.source) == ("222222222222", "eu-west-1", "planton")

        sdk = planton.extract_for_sdk("cred-staging")
        assert dict(sdk) == {"aws_access_key_id": STAGING_KEY, "aws_secret_access_key": STAGING_SECRET,
                             "aws_session_token": STAGING_SESSION, "region": "eu-west-1"}
        assert planton.extract_for_sdk("cred-prod", region="us-west-2")["region"] == "us-west-2"

        services = {s.name: s for s in planton.list_services()}
        checkout = services["checkout-api"]
        assert (checkout.id, checkout.cluster, checkout.region, checkout.account_id, checkout.environment,
                checkout.target, checkout.desired_count) == (
            "ecs-checkout", "shop", "eu-west-1", "222222222222", "staging", "cred-staging", 2)
        assert checkout.arn == "arn:aws:ecs:eu-west-1:222222222222:service/shop/checkout-api"
        assert services["api"].target == "cred-prod"
        assert planton.get_service("ecs-api").cluster == "prod"
        assert [s.name for s in planton.list_services(environment="staging")] == ["checkout-api"]
        assert [r.name for r in find_services("the checkout service in staging", directory=planton)] == [
            "checkout-api"]
    for secret in _secrets():
        assert secret not in caplog.text
        assert secret not in repr(sdk) and secret not in str(creds) and secret not in str(services)


def test_bad_token_gives_a_clear_message(planton_url):
    planton = PlantonCloudDiscovery("pk_live_wrongwrongwrongwrong", ORG, base_url=planton_url)
    with pytest.raises(PlantonCloudError, match=r"rejected the API token \(401 unauthenticated\).*PLANTON_TOKEN"):
        planton.list_credentials()


def test_forbidden_org_is_403_and_the_echoed_token_is_scrubbed(planton_url, caplog):
    planton = PlantonCloudDiscovery(TOKEN, "forbidden-org", base_url=planton_url)
    with caplog.at_level(logging.DEBUG), pytest.raises(PlantonCloudError) as failure:
        planton.list_services()
    message = str(failure.value)
    assert "denied access to ECS services of organisation 'forbidden-org' (403 permission denied)" in message
    assert TOKEN not in message and "<redacted>" in message
    assert TOKEN not in caplog.text


def test_unknown_ids_are_404_not_found(planton_url):
    planton = PlantonCloudDiscovery(TOKEN, ORG, base_url=planton_url)
    with pytest.raises(CredentialNotFound, match=r"no AWS credential 'cred-nope' \(404 not found\)"):
        planton.get_credential("cred-nope")
    with pytest.raises(ServiceNotFound, match=r"no ECS service 'ecs-nope' \(404"):
        planton.get_service("ecs-nope")


def test_slow_api_times_out_with_a_clear_message(planton_url):
    # The server answers only after the client has given up: without its timeout the call would get the answer.
    answer = PlantonFake.held[GET_AWS_CREDENTIAL] = threading.Event()
    planton = PlantonCloudDiscovery(TOKEN, ORG, base_url=planton_url, timeout=0.2)
    try:
        with pytest.raises(PlantonCloudError, match=r"did not answer within 0.2s while fetching AWS credential"):
            planton.extract_for_sdk("cred-staging")
    finally:
        answer.set()


def test_unreachable_api(planton_url):
    planton = PlantonCloudDiscovery(TOKEN, ORG, base_url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(PlantonCloudError, match="cannot reach Planton Cloud at http://127.0.0.1:9"):
        planton.list_credentials()


def test_tool_output_never_shows_keys_or_token(planton_url, monkeypatch, caplog):
    monkeypatch.setenv("PLANTON_API_URL", planton_url)
    discovery = build_discovery(ECSDeepAgentConfig.load(env={"PLANTON_TOKEN": TOKEN, "PLANTON_ORG_ID": ORG},
                                                        yaml_path="/nonexistent.yaml"))
    tools = DiscoveryTools(discovery)
    with caplog.at_level(logging.DEBUG):
        outputs = [tools.list_aws_credentials(), tools.get_aws_credential("cred-staging"),
                   tools.extract_aws_credentials_for_sdk("cred-staging"), tools.list_aws_ecs_services(),
                   tools.get_aws_ecs_service("ecs-checkout")]
    assert outputs[2] == ("credentials ready for account 222222222222 region eu-west-1 "
                          "(credential 'staging-account', planton)")
    assert json.loads(outputs[4])["target"] == "cred-staging"
    for text in [*outputs, caplog.text]:
        for secret in _secrets():
            assert secret not in text
