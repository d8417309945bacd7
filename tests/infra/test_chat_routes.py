"""The API the stack deploys serves exactly the chat routes of functions/openapi.json, each behind IAM."""
from __future__ import annotations

import json

from tests.local_chat_api import OPENAPI

APPROVAL_LINK_ROUTES = {("GET", "/approvals/{token}"), ("POST", "/approvals/{token}")}


def _path(resources: dict, resource_ref: dict) -> str:
    if "Ref" not in resource_ref:  # the API's root resource
        return ""
    resource = resources[resource_ref["Ref"]]["Properties"]
    return f"{_path(resources, resource['ParentId'])}/{resource['PathPart']}"


def test_deployed_chat_routes_are_the_openapi_documents_and_need_iam(views):
    resources = views.of_type("AWS::ApiGateway::Resource")
    methods = {(m["Properties"]["HttpMethod"], _path(resources, m["Properties"]["ResourceId"])): m["Properties"]
               for m in views.of_type("AWS::ApiGateway::Method").values()}
    documented = {(verb.upper(), path) for path, ops in json.loads(OPENAPI.read_text())["paths"].items()
                  for verb in ops}
    assert set(methods) - APPROVAL_LINK_ROUTES == documented
    assert all(methods[route]["AuthorizationType"] == "AWS_IAM" for route in documented)
