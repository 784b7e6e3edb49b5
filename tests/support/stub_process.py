"""The OpenAI stub (tests/support/openai_stub.py) as its own server process on 127.0.0.1, for tests.

`StubProcess` starts `python tests/support/openai_stub.py --port 0 --port-file F`, waits for the port,
and talks to it over HTTP: `enqueue(script)` adds replies (the JSON script form), `requests()` reads the
recorded request bodies. `kill()` is a kill -9. The process is always stopped at the end of the test.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

STUB = Path(__file__).with_name("openai_stub.py")


class StubProcess:
    def __init__(self, tmp_path: Path, *, latency_s: float = 0.0, script: dict | None = None) -> None:
        port_file = tmp_path / f"stub-port-{time.monotonic_ns()}"
        args = [sys.executable, str(STUB), "--port", "0", "--port-file", str(port_file), "--latency", str(latency_s)]
        if script is not None:
            path = port_file.with_suffix(".json")
            path.write_text(json.dumps(script), encoding="utf-8")
            args += ["--script", str(path)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                self.kill()
                raise RuntimeError(f"the stub server did not start: {err}")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def enqueue(self, script: dict[str, Any]) -> None:
        req = urllib.request.Request(self._url("/stub/enqueue"), data=json.dumps(script).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def requests(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self._url("/stub/requests"), timeout=5) as resp:
            return json.loads(resp.read())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def __enter__(self) -> StubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def calls(*pairs: tuple[str, dict]) -> dict[str, Any]:
    """A tool-calls reply spec."""
    return {"kind": "tool_calls", "calls": [[n, a] for n, a in pairs]}


def submit(orders: list[dict], rationale: str = "because", **extra: Any) -> dict[str, Any]:
    """A `submit_decision` reply spec."""
    return calls(("submit_decision", {"orders": orders, "rationale": rationale, **extra}))
