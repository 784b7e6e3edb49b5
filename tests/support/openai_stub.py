"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

Serves POST /v1/chat/completions as JSON, or as SSE when the request says `"stream": true`
(`data: {chunk}` lines, an optional usage chunk when `stream_options.include_usage`, then
`data: [DONE]`). Tool calls are returned in both forms.

Scripted: `enqueue(...)` a queue of replies, consumed one per request:
- `Reply.text("...")`, `Reply.tool_calls(("name", {...}), ...)`: a normal answer;
- `Reply.error(500)`: an HTTP error with an OpenAI-style error body;
- `Reply.delay(seconds)`: sleep before answering (longer than the client timeout -> a timeout);
- `Reply.garbage("...")`: status 200 but a body that is not JSON.
- `Reply.error(429, retry_after=3)`: an HTTP error with a `Retry-After` header (seconds);
- `Reply.hang()`: never answers in useful time (an hour's delay; the client's timeout or deadline ends it).
When the queue is empty `default` answers (None -> HTTP 500 "stub script exhausted").
`enqueue_for(key, ...)` keeps a queue per key: a request whose system message contains `key` (a trader's
name) is answered from it first, so that traders deciding in parallel each get their own script.
`latency_s` adds a fixed delay to every answer (for the LLM-mode benchmark).
POST /v1/embeddings answers with `stub_embedding` vectors; replies queued under the route key "embeddings"
(an error, garbage) are used for the next embeddings requests instead.
Every request body is recorded in `requests` (thread-safe).

Use in-process: `with OpenAIStub() as stub: ChatOpenAI(base_url=stub.base_url, ...)`.

Use as its own process (a real server a test can kill -9):
    python tests/support/openai_stub.py --port 0 [--script FILE] [--latency S] [--port-file F]
prints `listening http://127.0.0.1:PORT/v1` (and writes the port to `--port-file`). FILE is JSON:
`{"queue": [spec, ...], "routes": {"key": [spec, ...]}, "default": spec}`, a spec being a dict such as
`{"kind": "tool_calls", "calls": [["quote", {"symbol": "AAPL"}]]}`, `{"kind": "error", "status": 429,
"retry_after": 3}`, `{"kind": "hang"}` (see `Reply.from_spec`). While it runs, `POST /stub/enqueue` with
the same JSON adds to the script and `GET /stub/requests` returns the recorded request bodies.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    kind: str  # "text" | "tool_calls" | "error" | "delay" | "garbage"
    content: str = ""
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    status: int = 200
    delay_s: float = 0.0
    then: Reply | None = None  # what a delayed reply finally sends
    usage: tuple[int, int] = (25, 12)  # (prompt_tokens, completion_tokens)
    retry_after: float | None = None  # an error's Retry-After header, in seconds

    @staticmethod
    def text(content: str, usage: tuple[int, int] = (25, 12)) -> Reply:
        return Reply("text", content=content, usage=usage)

    @staticmethod
    def tool_calls(*calls: tuple[str, dict[str, Any]], usage: tuple[int, int] = (25, 12)) -> Reply:
        return Reply("tool_calls", calls=tuple(calls), usage=usage)

    @staticmethod
    def error(status: int = 500, message: str = "stub server error", retry_after: float | None = None) -> Reply:
        return Reply("error", content=message, status=status, retry_after=retry_after)

    @staticmethod
    def hang() -> Reply:
        return Reply.delay(3600.0)

    @staticmethod
    def from_spec(spec: dict[str, Any]) -> Reply:
        """A reply from its JSON form (the process mode's script): `kind` and the fields of that kind."""
        kind = spec.get("kind", "text")
        usage = tuple(spec.get("usage", (25, 12)))
        if kind == "text":
            return Reply.text(str(spec.get("content", "")), usage=usage)
        if kind == "tool_calls":
            return Reply.tool_calls(*((c[0], c[1]) for c in spec.get("calls", [])), usage=usage)
        if kind == "error":
            return Reply.error(int(spec.get("status", 500)), spec.get("message", "stub server error"),
                               retry_after=spec.get("retry_after"))
        if kind == "hang":
            return Reply.hang()
        if kind == "delay":
            then = spec.get("then")
            return Reply.delay(float(spec.get("seconds", 1.0)), Reply.from_spec(then) if then else None)
        if kind == "garbage":
            return Reply.garbage(spec.get("content", "<html>this is not JSON at all"))
        raise ValueError(f"unknown reply kind {kind!r}")

    @staticmethod
    def delay(seconds: float, then: Reply | None = None) -> Reply:
        return Reply("delay", delay_s=seconds, then=then or Reply.text("{}"))

    @staticmethod
    def garbage(body: str = "<html>this is not JSON at all") -> Reply:
        return Reply("garbage", content=body)


@dataclass
class _State:
    queue: deque[Reply] = field(default_factory=deque)
    routes: dict[str, deque[Reply]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path.rstrip("/") == "/stub/requests":
            self._send(200, json.dumps(self.server.stub.requests).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") == "/stub/enqueue":
            try:
                self.server.stub.load_script(json.loads(raw or b"{}"))
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self._send(400, json.dumps({"error": {"message": str(exc)}}).encode())
                return
            self._send(200, b'{"ok": true}')
            return
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(raw)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "bad json"}}')
            return
        stub = self.server.stub
        reply = stub._next(body)
        try:
            if stub.latency_s:
                time.sleep(stub.latency_s)
            while reply.kind == "delay":
                time.sleep(reply.delay_s)
                reply = reply.then or Reply.text("{}")
            if reply.kind == "error":
                err = {"error": {"message": reply.content, "type": "server_error", "code": reply.status}}
                extra = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
                self._send(reply.status, json.dumps(err).encode(), headers=extra)
            elif reply.kind == "garbage":
                self._send(200, reply.content.encode())
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._send(200, json.dumps(_completion(body, reply, stub._next_id())).encode())
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _embeddings(self, raw: bytes) -> None:
        """POST /v1/embeddings: vectors from `stub_embedding` unless the "embeddings" route scripts an error
        or garbage for this request."""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "bad json"}}')
            return
        reply = self.server.stub._next_embedding(body)
        if reply is not None and reply.kind == "error":
            self._send(reply.status, json.dumps({"error": {"message": reply.content, "code": reply.status}}).encode())
            return
        if reply is not None and reply.kind == "garbage":
            self._send(200, reply.content.encode())
            return
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else list(texts)
        data = [{"object": "embedding", "index": i, "embedding": stub_embedding(str(t))} for i, t in enumerate(texts)]
        self._send(200, json.dumps({"object": "list", "data": data, "model": body.get("model", "stub"),
                                    "usage": {"prompt_tokens": 0, "total_tokens": 0}}).encode())

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        cid = self.server.stub._next_id()
        for chunk in _chunks(body, reply, cid):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def stub_embedding(text: str, dim: int = 16) -> list[float]:
    """A deterministic 16-number vector of a text (its words hashed into buckets, unit length)."""
    import zlib

    v = [0.0] * dim
    for word in text.lower().split():
        v[zlib.crc32(word.strip(".,;:!?").encode()) % dim] += 1.0
    norm = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / norm for x in v]


def _usage(reply: Reply) -> dict[str, int]:
    p, c = reply.usage
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _tool_call_list(reply: Reply, cid: str) -> list[dict[str, Any]]:
    return [{"id": f"call_{cid}_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.calls)]


def _completion(body: dict[str, Any], reply: Reply, cid: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content if reply.kind == "text" else None}
    finish = "stop"
    if reply.kind == "tool_calls":
        message["tool_calls"] = _tool_call_list(reply, cid)
        finish = "tool_calls"
    return {"id": f"chatcmpl-{cid}", "object": "chat.completion", "created": 0,
            "model": body.get("model", "stub"), "choices": [{"index": 0, "message": message,
                                                             "finish_reason": finish}],
            "usage": _usage(reply)}


def _chunks(body: dict[str, Any], reply: Reply, cid: str) -> list[dict[str, Any]]:
    base = {"id": f"chatcmpl-{cid}", "object": "chat.completion.chunk", "created": 0,
            "model": body.get("model", "stub")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    if reply.kind == "text":
        text = reply.content
        out += [chunk({"content": text[i:i + 8]}) for i in range(0, len(text), 8)]
        out.append(chunk({}, "stop"))
    else:
        for i, call in enumerate(_tool_call_list(reply, cid)):
            args = call["function"]["arguments"]
            half = len(args) // 2
            out.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                              "function": {"name": call["function"]["name"],
                                                           "arguments": args[:half]}}]}))
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]}))
        out.append(chunk({}, "tool_calls"))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": _usage(reply)})
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: OpenAIStub


class OpenAIStub:
    def __init__(self, *, latency_s: float = 0.0, default: Reply | None = None) -> None:
        self.latency_s = latency_s
        self.default = default
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Script and records ----------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> OpenAIStub:
        with self._state.lock:
            self._state.queue.extend(replies)
        return self

    def enqueue_for(self, key: str, *replies: Reply) -> OpenAIStub:
        """Replies for requests whose system message contains `key` (see the module docstring)."""
        with self._state.lock:
            self._state.routes.setdefault(key, deque()).extend(replies)
        return self

    def load_script(self, script: dict[str, Any]) -> OpenAIStub:
        """Add a JSON script: {"queue": [...], "routes": {key: [...]}, "default": spec}."""
        self.enqueue(*(Reply.from_spec(x) for x in script.get("queue", [])))
        for key, specs in (script.get("routes") or {}).items():
            self.enqueue_for(key, *(Reply.from_spec(x) for x in specs))
        if script.get("default"):
            self.default = Reply.from_spec(script["default"])
        return self

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._state.queue)

    def _next(self, body: dict[str, Any]) -> Reply:
        system = " ".join(str(m.get("content")) for m in body.get("messages", [])
                          if isinstance(m, dict) and m.get("role") == "system")
        with self._state.lock:
            self._state.requests.append(body)
            for key, queue in self._state.routes.items():
                if queue and key in system:
                    return queue.popleft()
            if self._state.queue:
                return self._state.queue.popleft()
        return self.default or Reply.error(500, "stub script exhausted")

    def _next_embedding(self, body: dict[str, Any]) -> Reply | None:
        """The scripted reply for an embeddings request (route "embeddings"), or None: answer normally."""
        with self._state.lock:
            self._state.requests.append(body)
            queue = self._state.routes.get("embeddings")
            return queue.popleft() if queue else None

    def _next_id(self) -> str:
        with self._state.lock:
            self._state.served += 1
            return str(self._state.served)

    # Lifecycle -------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self, port: int = 0) -> OpenAIStub:
        self._server = _Server(("127.0.0.1", port), _Handler)  # port 0: a free port chosen by the OS
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """The stub as its own process (see the module docstring)."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server for tests (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", help="JSON script: {queue, routes, default}")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port-file", help="write the chosen port here once listening")
    args = parser.parse_args(argv)
    stub = OpenAIStub(latency_s=args.latency)
    if args.script:
        with open(args.script, encoding="utf-8") as fh:
            stub.load_script(json.load(fh))
    stub.start(args.port)
    port = stub._server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(str(port))
        import os

        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"listening {stub.base_url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
