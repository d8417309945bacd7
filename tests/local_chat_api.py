"""The chat API running locally: API Gateway's REST proxy events, an HTTP server that turns requests into
them, and the function's database and environment.

`proxy_event` builds what API Gateway sends for an IAM-authorized route (resource template, path
parameters, single and multi-value headers and query strings, requestContext with the caller's identity).
`LocalApi` serves HTTP and hands each request to the handler in a worker process: like Lambda's execution
environments, a worker runs one request at a time with its own module state and database connection
(Powertools' resolver keeps the current event on the app object, so it must never see two at once).
"""
from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import multiprocessing
import os
import re
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "functions" / "openapi.json"
STAGE = "v1"
ACCOUNT = "123456789012"
CALLER = {"userArn": f"arn:aws:iam::{ACCOUNT}:user/oncall", "caller": "AIDAEXAMPLEONCALL", "user": "AIDAEXAMPLEONCALL",
          "accountId": ACCOUNT, "accessKey": "AKIAEXAMPLEONCALL", "sourceIp": "198.51.100.20",
          "userAgent": "awscurl/0.36"}


def migrate_all(database_url: str) -> None:
    """Our tables and the checkpointer's, as the migrate function creates them on deploy."""
    from agents.aws_ecs_service.incidents.database import connect
    from agents.aws_ecs_service.incidents.schema import setup_all

    with connect({"DATABASE_URL": database_url}) as conn:
        setup_all(conn)


def chat_environment(database_url: str) -> dict[str, str]:
    """The chat function's environment here: the database, no model, writes off, no X-Ray, test metrics."""
    return {"DATABASE_URL": database_url, "ECS_AGENT_MODEL": "offline", "ALLOW_WRITE": "false",
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Test"}


def resources(openapi: Path = OPENAPI) -> dict[str, list[str]]:
    """Resource template -> its methods, as the API's routes (the OpenAPI document's paths)."""
    paths = json.loads(openapi.read_text())["paths"]
    return {path: [m.upper() for m in operations] for path, operations in paths.items()}


def _matcher(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


def match(path: str, templates: dict[str, list[str]]) -> tuple[str, dict[str, str]] | None:
    for template in templates:
        if m := _matcher(template).match(path):
            return template, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def proxy_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                query: str = "", identity: dict[str, str] | None = None,
                templates: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The event of API Gateway's Lambda proxy integration (REST API) for `method path?query`."""
    found = match(path, templates if templates is not None else resources())
    resource, params = found if found else (path, {})
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    binary = isinstance(body, bytes)
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https",
                   **(headers or {})}
    multi_query = parse_qs(query, keep_blank_values=True) if query else None
    now = dt.datetime.now(dt.UTC)
    return {
        "resource": resource, "path": path, "httpMethod": method.upper(),
        "headers": all_headers, "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params or None, "stageVariables": None,
        "requestContext": {
            "resourceId": "abc1", "resourcePath": resource, "httpMethod": method.upper(),
            "extendedRequestId": uuid.uuid4().hex[:16], "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}", "accountId": ACCOUNT, "protocol": "HTTP/1.1", "stage": STAGE,
            "domainPrefix": "abc123", "requestTimeEpoch": int(now.timestamp() * 1000), "requestId": str(uuid.uuid4()),
            "identity": dict(CALLER if identity is None else identity),
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "apiId": "abc123"},
        "body": base64.b64encode(body).decode() if binary else body,
        "isBase64Encoded": binary,
    }


def invoke(handler_path: str, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run `module.function` on one event (in a worker process); (the response, seconds in the handler)."""
    from tests.e2e.serverless_world import LambdaContextStub

    module, name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)
    started = time.perf_counter()
    response = handler(event, LambdaContextStub("chat-api"))
    return response, time.perf_counter() - started


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clients connect at once (the default backlog of 5 resets connections)


def _silence_stdout() -> None:
    """A worker's logs and metrics (JSON lines on stdout) go nowhere."""
    sys.stdout = open(os.devnull, "w")  # for the life of the worker process


class LocalApi:
    """http://127.0.0.1:<port>/<path> -> API Gateway proxy event -> the handler in one of `containers` workers.

    Unknown resources and methods get API Gateway's own 403 "Missing Authentication Token" without a call.
    `handler_seconds` collects (route, time spent in the handler: queueing and HTTP excluded) per call; `quiet`
    sends the workers' log and metric lines to /dev/null.
    """

    def __init__(self, handler_path: str = "functions.chat_api.handler", containers: int = 1, quiet: bool = False):
        self.handler_path = handler_path
        self.templates = resources()
        self.handler_seconds: list[tuple[str, float]] = []  # ("POST /threads/{id}/messages", seconds)
        self._lock = threading.Lock()
        self._pool = ProcessPoolExecutor(max_workers=containers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_silence_stdout if quiet else None)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave as written (no 40 ms delayed-ACK stalls)

            def _serve(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else None
                found = match(url.path, api.templates)
                if found is None or self.command not in api.templates[found[0]]:
                    return self._send(403, {"Content-Type": "application/json"},
                                      b'{"message":"Missing Authentication Token"}')
                event = proxy_event(self.command, url.path, body, dict(self.headers.items()), url.query,
                                    templates=api.templates)
                try:
                    response, seconds = api._pool.submit(invoke, api.handler_path, event).result()
                except Exception:  # noqa: BLE001 - an unhandled error in the function: API Gateway answers 502
                    return self._send(502, {"Content-Type": "application/json"},
                                      b'{"message": "Internal server error"}')
                with api._lock:
                    api.handler_seconds.append((f"{self.command} {found[0]}", seconds))
                headers = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
                headers.update(response.get("headers") or {})
                raw = response.get("body") or ""
                payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
                self._send(int(response["statusCode"]), headers, payload)

            def _send(self, status: int, headers: dict[str, str], payload: bytes):
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LocalApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._pool.shutdown(cancel_futures=True)
