"""Start a real `langgraph dev` process for a test, and stop it: shared by tests/test_langgraph_dev.py (SQLite)
and tests/test_pg_surfaces.py (PostgreSQL).

`langgraph_dev_process(tmp_path, db)` writes the project's langgraph.json with absolute paths into `tmp_path`
(so the server's working folder and its .langgraph_api state are the test's, not the project's) and a fast
floor config, runs `langgraph dev` on a free loopback port with TRADING_FLOOR_DB=db, waits (bounded) until
`/ok` answers, yields the base URL, and at the end terminates the process (then kills it). A server that
exits or does not answer in time fails the test with the end of its log.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from floor_helpers import fast_config, free_port, write_config

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120.0


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def langgraph_dev_process(tmp_path: Path, db) -> Iterator[str]:
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config())
    port = free_port()
    env = os.environ | {
        "TRADING_FLOOR_DB": str(db), "TRADING_FLOOR_CONFIG": str(cfg),
        "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true",
    }
    spec = json.loads((ROOT / "langgraph.json").read_text())
    spec["dependencies"] = [str(ROOT)]
    spec["graphs"] = {name: str(ROOT / path.removeprefix("./")) for name, path in spec["graphs"].items()}
    (tmp_path / "langgraph.json").write_text(json.dumps(spec))
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("langgraph")), "dev", "--no-browser", "--no-reload",
             "--host", "127.0.0.1", "--port", str(port), "--config", str(tmp_path / "langgraph.json")],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    pytest.fail(f"langgraph dev exited: {_log_tail(log_path)}")
                try:
                    if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"langgraph dev did not start: {_log_tail(log_path)}")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
