"""A local HTTP server speaking the bedrock-runtime Converse API (REST-JSON): POST /model/{modelId}/converse.

Answers come from a script, in order (the last one repeats): a dict is a Converse response body;
`throttle()` answers 400 ThrottlingException; `slow(seconds, answer)` sleeps first. Every request is
kept (`requests`: path, model id, body) for assertions and for counting calls and input size.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

CHARS_PER_TOKEN = 4  # rough size of a Claude token in English/JSON text, for the input budget
MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def text(answer: str, input_tokens: int = 0) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": answer}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": input_tokens, "outputTokens": 20, "totalTokens": input_tokens + 20},
            "metrics": {"latencyMs": 5}}


def tool_use(name: str, arguments: dict[str, Any], use_id: str = "tooluse-1") -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": use_id, "name": name, "input": arguments}}]}}, "stopReason": "tool_use",
        "usage": {"inputTokens": 0, "outputTokens": 20, "totalTokens": 20}, "metrics": {"latencyMs": 5}}


def tool_uses(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One answer asking for several tools at once: (name, arguments) each."""
    content = [{"toolUse": {"toolUseId": f"tooluse-{i}", "name": name, "input": arguments}}
               for i, (name, arguments) in enumerate(calls, 1)]
    return {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": "tool_use",
            "usage": {"inputTokens": 0, "outputTokens": 20, "totalTokens": 20}, "metrics": {"latencyMs": 5}}


def throttle() -> dict[str, Any]:
    return {"_status": 400, "_error": "ThrottlingException", "message": "Too many requests, please wait."}


def slow(seconds: float, answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "_sleep": seconds}


def request_text(body: dict[str, Any]) -> str:
    """All text a Converse request carries (system, messages, tool results, tool specs)."""
    return json.dumps({k: body.get(k) for k in ("system", "messages", "toolConfig")})


class ConverseServer:
    def __init__(self, script: list[dict[str, Any]]):
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                parts = self.path.split("/")
                with server._lock:
                    server.requests.append({"path": self.path, "model": unquote(parts[2]) if len(parts) > 2 else "",
                                            "body": body})
                    answer = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                answer = dict(answer)
                if answer.get("_sleep"):
                    time.sleep(answer.pop("_sleep"))
                status = answer.pop("_status", 200)
                error = answer.pop("_error", None)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    if error:
                        self.send_header("x-amzn-ErrorType", f"{error}:http://internal.amazon.com/coral/")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ConverseServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def input_chars(self) -> int:
        return sum(len(request_text(r["body"])) for r in self.requests)


class ModelChat:
    """One thread of the agent, its model ChatBedrockConverse pointed at this endpoint (the `bedrock` fixture sets
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME), approvals and audit in memory, a short verification."""

    def __init__(self, timeout_s: float = 5, **config: Any):
        import asyncio
        import uuid

        from agents.aws_ecs_service import ECSDeepAgentConfig, create_ecs_deep_agent
        from agents.aws_ecs_service.aws.audit_log import LocalAuditLog
        from agents.aws_ecs_service.conversation.model import make_chat_model
        from agents.aws_ecs_service.operations.approvals import LocalApprovalStore

        settings = ECSDeepAgentConfig(model_name=MODEL_ID, aws_region="us-east-1", **config)
        self.approvals, self.audit = LocalApprovalStore(), LocalAuditLog()
        self.agent = asyncio.run(create_ecs_deep_agent(
            config=settings, chat_model=make_chat_model(settings, timeout_s=timeout_s), approvals=self.approvals,
            audit=self.audit, verify_timeout_s=2, verify_poll_s=0.2))
        self.thread = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex[:8]}"}}

    def say(self, text: str) -> dict[str, Any]:
        import asyncio

        return asyncio.run(self.agent.ainvoke({"messages": [{"role": "user", "content": text}]}, config=self.thread))

    def resume(self, value: dict[str, Any]) -> dict[str, Any]:
        import asyncio

        from langgraph.types import Command

        return asyncio.run(self.agent.ainvoke(Command(resume=value), config=self.thread))
