"""Start a real `trading-floor serve events` process for a test, and stop it: shared by the event-stream
tests (tests/test_event_stream.py, tests/test_scenario_surfaces.py).

`events_server_process(db, *args)` runs `python -m cli.app serve events --db DB --port PORT *args` on a
free loopback port, waits (bounded) until `/health` answers, yields the base URL, and at the end
terminates the process (then kills it if it does not exit in time). A server that exits before it
answers fails the test with its stderr.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from floor_helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


@contextlib.contextmanager
def events_server_process(db, *args: str, token: str | None = None) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "cli.app", "serve", "events", "--db", str(db), "--port", str(port), *args]
    env = dict(os.environ) | ({"TRADING_FLOOR_TOKEN": token} if token else {})
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", headers=auth, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the event stream did not start in time")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
