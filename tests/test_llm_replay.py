"""Issue 15, defects 1, 6 and 7 on a recorded-request replay: a run is recorded against the OpenAI stub
(in its own process), the stub is killed with SIGKILL, and the same run replayed from the answer cache
(traders/llm/cache.py, which keys every request) sends each order once, posts the same chat message,
and writes the same complete traces, without a single request. Replays are cheap, so these checks can
run in every `make test`; the SSE replay reads the answers the JSON run recorded."""
from __future__ import annotations

import shutil

import pytest
from llm_floor import llm_floor_config, offer_write_tools
from support.stub_process import StubProcess, calls, submit

from floor.session import FloorSession

BUY = {"symbol": "AMZN", "side": "buy", "qty": 20, "order_type": "market", "tif": "ioc"}
SCRIPT = [
    calls(("place_order", BUY)), submit([BUY], "AMZN trend up"),  # cycle 1: staged and declared: sent once
    calls(("post_message", {"text": "@sentiment AMZN is strong"})), submit([], "said my piece"),  # cycle 2
    calls(("place_order", {**BUY, "symbol": "XYZ"}), ("depth", {"symbol": "NVDA"})), submit([], "hold"),  # 3
]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)
    offer_write_tools(monkeypatch)


def _record(s: FloorSession) -> dict:
    ledger = s.floor.ledger
    orders = [(o["cycle"], o["symbol"], o["side"], o["qty"]) for o in ledger.orders(account="momentum", limit=None)
              if o["qty"]]
    posts = [(m["cycle"], m["text"]) for m in ledger.messages(sender="momentum", limit=None)]
    transcripts = [t["payload"] for t in ledger.traces(agent="momentum", kind="llm_transcript", limit=None)]
    return {"orders": orders, "posts": posts,
            "tools": [[(c["name"], c["ok"], c["result"]) for c in p["tool_calls"]] for p in transcripts],
            "prompts": [[turn["prompt"] for turn in p["turns"]] for p in transcripts],
            "modes": [t["payload"]["mode"] for t in ledger.traces(agent="momentum", kind="decision", limit=None)]}


@pytest.mark.parametrize("replay_streaming", [False, True], ids=["json", "sse"])
def test_a_replayed_run_keeps_one_order_per_decision_its_posts_and_complete_traces(tmp_path, replay_streaming):
    with StubProcess(tmp_path) as stub:
        stub.enqueue({"queue": SCRIPT})
        cfg = llm_floor_config(stub.base_url, ("momentum",), use_cache=True)
        s = FloorSession(tmp_path / "rec.db", cfg)
        s.start()
        s.run(3)
        recorded = _record(s)
        s.close()
        assert len(stub.requests()) == 6
    # the stub is dead (SIGKILL): any request now fails; the replay must need none
    assert recorded["modes"] == ["llm", "llm", "llm"]
    assert [o for o in recorded["orders"] if o[0] == 1] == [(1, "AMZN", "buy", 20)]
    assert recorded["posts"] == [(2, "@sentiment AMZN is strong")]
    assert [ok for _, ok, _ in recorded["tools"][2]] == [False, True]
    for suffix in ("", "-wal", "-shm"):  # the recording (WAL mode: its newest rows may be in the -wal file)
        if (tmp_path / f"rec.llm-cache.db{suffix}").exists():
            shutil.copy(tmp_path / f"rec.llm-cache.db{suffix}", tmp_path / f"replay.llm-cache.db{suffix}")
    replay_cfg = cfg.model_copy(update={"llm_configs": tuple(c.model_copy(update={"streaming": replay_streaming})
                                                             for c in cfg.llm_configs)})
    s = FloorSession(tmp_path / "replay.db", replay_cfg)
    s.start()
    s.run(3)
    assert _record(s) == recorded
    assert s.floor.llm_cache.hits == 6 and s.floor.llm_cache.misses == 0
    s.close()


def test_a_replayed_run_spends_its_budget_exactly_as_the_recording_did(tmp_path):
    """Cached answers are charged at their recorded usage, so the replay exhausts the budget at the same
    cycle and records the same spend rows, with no request."""
    from floor.config import FloorConfig
    from ledger import llm_spend

    answer = {**submit([], "holding"), "usage": [6000, 100]}
    with StubProcess(tmp_path, script={"default": answer}) as stub:
        base = llm_floor_config(stub.base_url, ("momentum", "sentiment"), use_cache=True)
        cfg = FloorConfig.model_validate(base.model_dump() | {"llm_budget": {
            "max_cost": 0.2, "input_cost_per_mtok": 10.0, "output_cost_per_mtok": 10.0}})

        def spend_rows(s):
            conn, branch = s.floor.ledger.conn, s.floor.ledger.branch_id
            return [llm_spend.cycle_rows(conn, branch, c) for c in range(1, 5)]

        s = FloorSession(tmp_path / "rec.db", cfg)
        s.start()
        s.run(4)
        recorded = spend_rows(s)
        s.close()
    modes = [r["mode"] for rows in recorded for r in rows]
    assert "llm" in modes and modes[-1] == "fallback"  # the cap was reached within the four cycles
    for suffix in ("", "-wal", "-shm"):
        if (tmp_path / f"rec.llm-cache.db{suffix}").exists():
            shutil.copy(tmp_path / f"rec.llm-cache.db{suffix}", tmp_path / f"replay.llm-cache.db{suffix}")
    s = FloorSession(tmp_path / "replay.db", cfg)
    s.start()
    s.run(4)
    replayed = spend_rows(s)
    assert s.floor.llm_cache.misses == 0
    s.close()
    for rows in replayed + recorded:
        for r in rows:
            r.pop("cached_calls")  # the one figure that differs: the replay's answers came from the cache
    assert replayed == recorded
