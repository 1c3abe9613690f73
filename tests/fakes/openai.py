"""A local HTTP server that plays an OpenAI-compatible Chat Completions API for the real client.

It records every request it receives (headers and JSON body), so a test can assert what the
model saw, and answers from a script: each `FakeOpenAI.script(...)` entry answers one request,
in order; when the script is empty, `default` answers (a plain "reply" decision unless a test
or the benchmark sets its own). Entries can be a scripted decision, any raw content (invalid
JSON, a too-long reply), an HTTP error (429 with retry-after, 500, 401), a slow answer that
outlasts the client's timeout, an answer without `usage`, or one cut off by the length cap.
`json_schema_supported = False` makes it refuse `response_format: json_schema` the way
llama.cpp's server does, so the client's fallback to `json_object` can be tested.

Start it with `FakeOpenAI().start()`; `base_url` (ending in /v1) is what HERALD_LLM_BASE_URL
gets. It only listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "fake-openai-key"
MODEL = "fake-model"
_USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
_NO_USAGE = object()


@dataclass
class Answer:
    """One scripted response. With `status` >= 400 it is an error body; else a completion."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    usage: dict | None | object = field(default_factory=lambda: dict(_USAGE))
    finish_reason: str = "stop"
    refusal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = "Injected failure"
    raw_body: bytes | None = None


def decision(action: str = "reply", reply: str = "", reason: str = "", **kwargs) -> Answer:
    """A well-formed answer of the agent's schema."""
    body = json.dumps({"action": action, "reply": reply, "reason": reason})
    return Answer(content=body, **kwargs)


def invalid_json(text: str = "Sure! Here is my answer: {action: reply") -> Answer:
    return Answer(content=text)


def rate_limited(retry_after: str = "0") -> Answer:
    return Answer(status=429, headers={"retry-after": retry_after}, error_message="slow down")


def server_error() -> Answer:
    return Answer(status=500, error_message="The server had an error")


def slow(seconds: float, action: str = "reply", reply: str = "Too late") -> Answer:
    return decision(action, reply, delay=seconds)


def without_usage(reply: str = "No usage here") -> Answer:
    return decision("reply", reply, usage=_NO_USAGE)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict

    @property
    def text(self) -> str:
        """Everything the model was sent, as one string (for "never appears" assertions)."""
        return json.dumps(self.body, ensure_ascii=False)

    @property
    def response_format(self) -> str:
        return ((self.body.get("response_format") or {}).get("type")) or ""


@dataclass
class _State:
    requests: list[Received] = field(default_factory=list)
    script: list[Answer] = field(default_factory=list)
    default: Callable[[dict], Answer] = lambda body: decision("reply", "Thanks, noted!")
    json_schema_supported: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    served: int = 0


class _Handler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: the client reuses connections

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, _error_body(400, "Body is not JSON."))
        received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.state.lock:
            self.state.requests.append(received)
            answer = self.state.script.pop(0) if self.state.script else None
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, _error_body(404, f"Unknown path {self.path}"))
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(401, _error_body(401, "Incorrect API key provided."))
        if received.response_format == "json_schema" and not self.state.json_schema_supported:
            # llama.cpp's wording; the scripted answer stays for the retried request.
            if answer is not None:
                with self.state.lock:
                    self.state.script.insert(0, answer)
            message = '"response_format" must be one of "text" or "json_object"'
            return self._send(400, _error_body(400, message))
        answer = answer or self.state.default(body)
        if answer.delay and self.state.released.wait(answer.delay):
            return None  # the server is stopping
        if answer.raw_body is not None:
            return self._send(answer.status, answer.raw_body, answer.headers)
        if answer.status >= 400:
            return self._send(
                answer.status, _error_body(answer.status, answer.error_message), answer.headers
            )
        self._send(200, _completion(answer, body.get("model") or MODEL, self._next_id()))

    def _next_id(self) -> int:
        with self.state.lock:
            self.state.served += 1
            return self.state.served

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer


def _error_body(status: int, message: str) -> bytes:
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    error = {"message": message, "type": kind, "param": None, "code": kind}
    return json.dumps({"error": error}).encode()


def _completion(answer: Answer, model: str, number: int) -> bytes:
    message = {"role": "assistant", "content": answer.content, "refusal": answer.refusal}
    payload = {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": answer.finish_reason, "message": message}],
    }
    if answer.usage is not _NO_USAGE:
        payload["usage"] = answer.usage
    return json.dumps(payload).encode()


class FakeOpenAI:
    """`start()`, then point HERALD_LLM_BASE_URL at `base_url` and HERALD_LLM_API_KEY at API_KEY."""

    def __init__(self, port: int = 0):
        self.state = _State()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.released.set()  # slow answers stop waiting
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
            self.state.script.clear()
            self.state.default = _State.default
            self.state.json_schema_supported = True

    def script(self, *answers: Answer) -> None:
        with self.state.lock:
            self.state.script.extend(answers)

    def set_default(self, default: Callable[[dict], Answer]) -> None:
        self.state.default = default

    @property
    def json_schema_supported(self) -> bool:
        return self.state.json_schema_supported

    @json_schema_supported.setter
    def json_schema_supported(self, value: bool) -> None:
        self.state.json_schema_supported = value

    @property
    def requests(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def everything_sent(self) -> str:
        """Every request body the model received, as one string."""
        return "\n".join(r.text for r in self.requests)
