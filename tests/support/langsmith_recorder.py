"""A local stand-in for the LangSmith API that records what the SDK posts (tests only, 127.0.0.1).

It answers `GET /info` with 404 (the SDK then uses its defaults: uncompressed multipart ingestion) and
records every `POST /runs/multipart` (and the older `/runs/batch`, `/runs`, `PATCH /runs/{id}`), folding
each run's create and update parts into one dict per run id: name, parent, trace, inputs, outputs,
tags, metadata (`extra.metadata`). `hang=True` makes a black hole instead: it accepts connections and
never answers, like a stuck endpoint.
"""
from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status: int, body: bytes = b"{}") -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        if self.server.hang:
            time.sleep(3600)
            return
        body = self._body()
        self.server.record(self.command, self.path, self.headers.get("content-type", ""), body)
        self._reply(404 if self.command == "GET" else 200)

    do_GET = do_POST = do_PATCH = do_PUT = _handle  # noqa: N815 - http.server naming


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hang: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang = hang
        self.requests: list[tuple[str, str]] = []
        self.runs: dict[str, dict] = {}
        self.lock = threading.Lock()

    def record(self, method: str, path: str, ctype: str, body: bytes) -> None:
        with self.lock:
            self.requests.append((method, path))
            if path.startswith("/runs/multipart"):
                self._multipart(ctype, body)
            elif path.startswith("/runs/batch"):
                data = json.loads(body)
                for run in data.get("post", []) + data.get("patch", []):
                    self._fold(run["id"], run)
            elif path.startswith("/runs"):
                data = json.loads(body)
                self._fold(data.get("id") or path.rsplit("/", 1)[-1], data)

    def _multipart(self, ctype: str, body: bytes) -> None:
        msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            _op, run_id, *field = name.split(".")
            value = json.loads(part.get_payload(decode=True) or b"null")
            self._fold(run_id, {field[0]: value} if field else value)

    def _fold(self, run_id: str, fields: dict) -> None:
        run = self.runs.setdefault(str(run_id), {"id": str(run_id)})
        for key, value in fields.items():
            if key == "extra" and isinstance(value, dict):
                run.setdefault("extra", {}).update(value)
            elif value is not None:
                run[key] = value


class LangSmithRecorder:
    def __init__(self, *, hang: bool = False) -> None:
        self.server = _Server(hang)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LangSmithRecorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def runs(self) -> dict[str, dict]:
        with self.server.lock:
            return {k: dict(v) for k, v in self.server.runs.items()}

    @property
    def requests(self) -> list[tuple[str, str]]:
        with self.server.lock:
            return list(self.server.requests)
