"""`langgraph dev` as a real process on 127.0.0.1, driven through its HTTP API, time travel included."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from floor_helpers import fast_config, free_port, write_config

ROOT = Path(__file__).resolve().parents[1]



@pytest.fixture
def dev_server(tmp_path):
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config())
    port = free_port()
    db = tmp_path / "dev.db"
    env = os.environ | {
        "TRADING_FLOOR_DB": str(db), "TRADING_FLOOR_CONFIG": str(cfg),
        "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true",
    }
    # the project's langgraph.json, with absolute paths, so the server's working folder (and its
    # .langgraph_api state) is the test's temporary folder, not the project
    spec = json.loads((ROOT / "langgraph.json").read_text())
    spec["dependencies"] = [str(ROOT)]
    spec["graphs"] = {name: str(ROOT / path.removeprefix("./")) for name, path in spec["graphs"].items()}
    (tmp_path / "langgraph.json").write_text(json.dumps(spec))
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    langgraph = Path(sys.executable).with_name("langgraph")
    proc = subprocess.Popen(
        [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
         "--config", str(tmp_path / "langgraph.json")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"langgraph dev exited: {(tmp_path / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"langgraph dev did not start: {(tmp_path / 'server.log').read_text()[-3000:]}")
    yield base, db
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _run(client: httpx.Client, thread: str, **extra) -> dict:
    r = client.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "trading_floor", "input": {}, **extra})
    assert r.status_code == 200, r.text
    out = r.json()
    assert "cycle" in out, out
    return out


def test_cycles_and_time_travel_through_the_http_api(dev_server):
    base, db = dev_server
    with httpx.Client(base_url=base, timeout=120) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        for expected in (1, 2, 3):
            assert _run(client, thread)["cycle"] == expected
        state = client.get(f"/threads/{thread}/state").json()
        assert state["values"]["cycle"] == 3
        history = client.post(f"/threads/{thread}/history", json={"limit": 100}).json()
        at_1 = next(h for h in history if h["values"].get("cycle") == 1 and not h["next"])
        first_branch = state["values"]["branch_id"]

        # time travel: run again from the end of cycle 1
        out = _run(client, thread, checkpoint_id=at_1["checkpoint"]["checkpoint_id"])
        assert out["cycle"] == 2
        assert out["branch_id"] != first_branch  # the old future (cycles 2-3) is kept on its own branch

    conn = sqlite3.connect(db)
    fills = dict(conn.execute("SELECT branch_id, max(cycle) FROM fills GROUP BY branch_id").fetchall())
    assert fills[first_branch] == 3
    assert fills.get(out["branch_id"], 2) == 2  # the new branch has cycle 2 only
    (fork_cycle,) = conn.execute("SELECT fork_cycle FROM branches WHERE branch_id = ?", (out["branch_id"],)).fetchone()
    assert fork_cycle == 1
    conn.close()
