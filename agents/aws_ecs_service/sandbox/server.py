"""The sandbox endpoint: one local HTTP server, ECS answered by the sandbox's world, everything
else (CloudWatch Logs, CloudWatch, S3, ...) by moto's server application, in this process.

    with Sandbox() as sandbox, sandbox.aws_environment():
        ...  # boto3 clients now talk to sandbox.endpoint, exactly as they would to AWS

The agent reaches it only through `AWS_ENDPOINT_URL` and fake credentials, the same code
path as real AWS.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from ..domain.target import ServiceTarget
from . import demo_world
from .ecs_world import EcsApiError, EcsWorld

ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ECS_WRITE_OPERATIONS = frozenset({"UpdateService", "StopTask", "RunTask"})
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Sandbox:
    """A local AWS holding the demo incident. `start()` returns the endpoint URL."""

    cluster = demo_world.CLUSTER
    service = demo_world.SERVICE

    def __init__(self, region: str = "us-east-1", settle_seconds: float = 1.5):
        self.region = region
        self.world = EcsWorld(region, ACCOUNT, settle_seconds, on_steady=self._on_steady)
        self.ecs_writes: list[dict[str, Any]] = []  # every ECS write call received, for the story and tests
        self.endpoint = ""
        self._moto: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> ServiceTarget:
        return ServiceTarget.from_names(ACCOUNT, self.region, self.cluster, self.service)

    # ---- life ---------------------------------------------------------------------------------------
    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ecs-agent-sandbox", daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        now = time.time()
        demo_world.build_ecs(self.world, now)
        with self.aws_environment():  # moto builds boto3 sessions of its own: keep the user's profile out
            self._seed(demo_world.build_cloudwatch(self.world, now))
        return self.endpoint

    def stop(self) -> None:
        self.world.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def aws_environment(self) -> Iterator[dict[str, str]]:
        """Point boto3 at the sandbox for the duration: endpoint, region, fake credentials.

        Profiles and per-service endpoint overrides are hidden meanwhile, so nothing can
        reach a real account; the previous environment comes back afterwards.
        """
        hidden = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")
                  or k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                           "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")]
        values = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
                  **CREDENTIALS}
        saved = {k: os.environ.get(k) for k in [*hidden, *values]}
        for key in hidden:
            del os.environ[key]
        os.environ.update(values)
        try:
            yield values
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # ---- HTTP -----------------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(ECS_TARGET_PREFIX):
            return self._moto(environ, start_response)
        operation = target[len(ECS_TARGET_PREFIX):]
        try:
            body = json.loads(Request(environ).get_data() or b"{}")
        except ValueError:
            body = {}
        if operation in ECS_WRITE_OPERATIONS:
            self.ecs_writes.append({"at": time.time(), "operation": operation, "params": body})
        try:
            answer, status = self.world.handle(operation, body), 200
        except EcsApiError as exc:
            answer, status = {"__type": exc.code, "message": exc.message}, 400
        response = Response(json.dumps(answer), status=status, content_type="application/x-amz-json-1.1")
        return response(environ, start_response)

    # ---- CloudWatch, Logs: seeded into moto through the endpoint itself ----------------------------------
    def _client(self, name: str) -> Any:
        import boto3
        import botocore.session

        # A session of its own (the scheduler thread builds clients too) that ignores AWS_PROFILE: the
        # sandbox's own clients must work whatever profile the user's shell names.
        private = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        return boto3.session.Session(botocore_session=private).client(
            name, region_name=self.region, endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def _seed(self, seed: demo_world.CloudWatchSeed) -> None:
        logs = self._client("logs")
        for group in {s["group"] for s in seed.log_streams}:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):  # moto state is per process
                logs.create_log_group(logGroupName=group)
        for stream in seed.log_streams:
            logs.create_log_stream(logGroupName=stream["group"], logStreamName=stream["stream"])
            logs.put_log_events(logGroupName=stream["group"], logStreamName=stream["stream"], logEvents=[
                {"timestamp": int(at * 1000), "message": message} for at, message in stream["events"]])
        self._put_metrics(seed.metrics)
        cloudwatch = self._client("cloudwatch")
        for alarm in seed.alarms:
            alarm = dict(alarm)
            state, reason = alarm.pop("state"), alarm.pop("reason")
            cloudwatch.put_metric_alarm(**alarm)
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason)

    def _put_metrics(self, metrics: list[dict[str, Any]]) -> None:
        cloudwatch = self._client("cloudwatch")
        for metric in metrics:
            data = [{"MetricName": metric["name"], "Dimensions": metric["dimensions"], "Unit": metric["unit"],
                     "Timestamp": dt.datetime.fromtimestamp(at, dt.UTC), "Value": value}
                    for at, value in metric["points"]]
            cloudwatch.put_metric_data(Namespace=metric["namespace"], MetricData=data)

    def _on_steady(self, cluster: str, service: str) -> None:
        # Runs on the scheduler's thread: CloudWatch catches up with the recovered service.
        metrics, alarms = demo_world.recovered_cloudwatch(time.time())
        self._put_metrics(metrics)
        cloudwatch = self._client("cloudwatch")
        for name, state, reason in alarms:
            cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
