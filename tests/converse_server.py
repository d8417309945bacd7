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


def text(answer: str, input_tokens: int = 0) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": answer}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": input_tokens, "outputTokens": 20, "totalTokens": input_tokens + 20},
            "metrics": {"latencyMs": 5}}


def tool_use(name: str, arguments: dict[str, Any], use_id: str = "tooluse-1") -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": use_id, "name": name, "input": arguments}}]}}, "stopReason": "tool_use",
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
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ConverseServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def input_chars(self) -> int:
        return sum(len(request_text(r["body"])) for r in self.requests)
