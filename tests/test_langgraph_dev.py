"""`langgraph dev` as a real process on 127.0.0.1, driven through its HTTP API, time travel included."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from langgraph_dev_server import langgraph_dev_process

ROOT = Path(__file__).resolve().parents[1]



@pytest.fixture
def dev_server(tmp_path):
    db = tmp_path / "dev.db"
    with langgraph_dev_process(tmp_path, db) as base:
        yield base, db


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
