"""The pieces under the live dashboard and the cycle steps, without a browser: tidy numbers, the dashboard's
props from a real run, the tape's floor/background split, the wording installed into Chainlit, the cycle
step's title and the approval line, and pages that misbehave (a page that hangs never holds up the others
or the run)."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from unittest.mock import AsyncMock, Mock

os.environ.setdefault("CHAINLIT_APP_ROOT", tempfile.mkdtemp(prefix="chainlit-root-"))  # before chainlit loads

import pytest  # noqa: E402
from chainlit.session import WebsocketSession  # noqa: E402
from floor_helpers import fast_config  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chat_ui import assets, dashboard, present  # noqa: E402
from chat_ui.narrate import CycleStory, approval_text, cycle_title  # noqa: E402
from chat_ui.numbers import pct, shares, signed_usd, usd  # noqa: E402
from chat_ui.tables import dollars_config  # noqa: E402
from floor.session import FloorSession  # noqa: E402


def test_tidy_numbers():
    assert usd(10_000_000) == "$100,000.00" and usd(-5) == "-$0.05" and usd(None) == "n/a"
    assert signed_usd(-400) == "-$4.00" and signed_usd(1234) == "+$12.34" and signed_usd(0) == "$0.00"
    assert pct(-0.004) == "-0.004%" and pct(0.0) == "0.00%" and pct(-1.5) == "-1.50%" and pct(0.25) == "+0.25%"
    assert shares(1) == "1 share" and shares(0) == "0 shares" and shares(1200) == "1,200 shares"


@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
def test_a_percent_never_reads_as_the_wrong_sign_or_as_zero_when_it_is_not(value):
    text = pct(value)
    if value == 0:
        assert text == "0.00%"
    else:
        assert text[0] == ("-" if value < 0 else "+")
        assert float(text.rstrip("%")) != 0


@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(-1e6, 1e6, allow_nan=False)), max_size=2_000),
       st.integers(2, 300))
def test_thin_keeps_at_most_the_limit_and_always_the_last_point(points, limit):
    pts = sorted(points)
    out = dashboard.thin(pts, limit)
    assert len(out) <= limit
    if pts:
        assert out[-1] == pts[-1] and set(out) <= set(pts)
        assert len(out) == min(len(pts), limit)


def test_config_money_in_dollars():
    cfg = dollars_config(fast_config().model_dump(mode="json"))
    assert cfg["traders"][0]["initial_cash"] == "$100,000.00"
    assert cfg["traders"][0]["risk"]["cash_floor"].startswith("$")
    assert isinstance(cfg["traders"][0]["risk"]["max_order_qty"], int)  # shares stay shares


def test_dashboard_props_from_a_real_run(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config(seed=5))
    try:
        s.start()
        s.run(12)
        st_ = s.align_to_state()
        props = dashboard.build(s.floor, cycle=st_["cycle"], thread="run-1", branch=st_["branch_id"], status="idle")
        json.dumps(props)  # what goes to the page is plain JSON
        ledger, traders = s.floor.ledger, s.floor.trader_names
        assert props["cycle"] == 12 and [r["rank"] for r in props["leaderboard"]] == list(range(1, len(traders) + 1))
        board = ledger.leaderboard(s.floor.marks())
        assert [r["trader"] for r in props["leaderboard"]] == [r["account"] for r in board]
        assert props["leaderboard"][0]["value"] == usd(board[0]["value"])
        flor = next(p for p in props["prices"] if p["symbol"] == "FLOR")
        assert flor["nav"] and flor["premium"].endswith("%")
        assert [c for c, _ in flor["series"]] == list(range(1, 13)) or flor["series"][-1][0] == 12
        assert all(isinstance(c, int) for p in props["prices"] for c, _ in p["series"])  # integer cycles
        assert {p["name"] for p in props["pnl"]} == set(traders)
        held = {(p["trader"], p["symbol"]) for p in props["positions"]}
        assert held == {(t, p.symbol) for t in traders for p in ledger.positions(t, s.floor.marks()) if p.qty}
        tape = props["tape"]
        assert tape == sorted(tape, key=lambda f: (f["cycle"], f["tick"]), reverse=True) or len(tape) < 2
        floor_rows = [f for f in tape if f["floor"]]
        assert all(f["buyer"] in traders or f["seller"] in traders for f in floor_rows)
        assert all(f["buyer"] not in traders and f["seller"] not in traders for f in tape if not f["floor"])
        assert len(floor_rows) <= dashboard.TAPE_ROWS and len(tape) - len(floor_rows) <= dashboard.TAPE_ROWS
    finally:
        s.close()


def test_tape_keeps_floor_trades_even_when_background_traffic_floods():
    background = [{"fill_id": f"b{i}", "cycle": 9, "tick": i, "symbol": "NVDA", "qty": 1, "price": 100,
                   "buyer": "bg:noise", "seller": "bg:mm"} for i in range(200)]
    floor = [{"fill_id": "f1", "cycle": 2, "tick": 3, "symbol": "AAPL", "qty": 80, "price": 19_000,
              "buyer": "momentum", "seller": "bg:mm"}]
    rows = dashboard.tape_rows(floor, background, ["momentum"], limit=15)
    assert [r["id"] for r in rows if r["floor"]] == ["f1"]
    assert sum(not r["floor"] for r in rows) == 15


def test_chainlit_wording_without_used_prefix_and_no_llm_footer_in_rule_mode(tmp_path):
    src = {"chat": {"messages": {"status": {"using": "Using", "used": "Used"}}, "watermark": "LLMs can make mistakes."}}
    (tmp_path / "en-US.json").write_text(json.dumps(src))
    (tmp_path / "broken.json").write_text("{not json")
    assert assets.patch_translations(tmp_path) == [tmp_path / "en-US.json"]
    data = json.loads((tmp_path / "en-US.json").read_text())
    assert data["chat"]["messages"]["status"] == {"using": "", "used": ""} and data["chat"]["watermark"] == ""
    assert assets.patch_translations(tmp_path) == []  # idempotent
    assert assets.patch_translations(tmp_path, llm=True) == [tmp_path / "en-US.json"]
    assert "LLM mode" in json.loads((tmp_path / "en-US.json").read_text())["chat"]["watermark"]
    copied = assets.install_public(tmp_path / "public")
    assert (tmp_path / "public" / "elements" / "Dashboard.jsx").exists() and copied
    assert assets.install_public(tmp_path / "public") == []


def test_cycle_title_and_the_approval_line():
    story = CycleStory(23, floor_fills=2, headline=["momentum BUY 80 NVDA"], thread="run-1", branch=2)
    assert cycle_title(story) == "Cycle 23 · run-1/branch 2 · 2 floor fills · momentum BUY 80 NVDA"
    assert cycle_title(CycleStory(1, floor_fills=1, thread="run-1", branch=1)) == "Cycle 1 · run-1/branch 1 · 1 floor fill"
    assert approval_text({"answer": False, "kept": []}, 3).startswith("✗ **A person rejected** all of 3")
    assert approval_text({"answer": True, "kept": [0, 1, 2]}, 3).startswith("✓ **A person approved** all of 3")
    partly = approval_text({"answer": [0, 2], "kept": [0, 2]}, 3)
    assert "**A person kept** 2 orders of 3 (numbers 1, 3)" in partly and "[" not in partly


def test_an_llm_decision_step_shows_its_transcript():
    trace_text = pytest.importorskip("traders.llm.trace_text")  # written alongside this issue
    from chat_ui.narrate import transcript_text

    payload = {"turns": [{"step": 1, "prompt": ["t1"], "answer": "buy 10 NVDA", "usage": [120, 8]}],
               "texts": {"t1": {"role": "system", "text": "You are momentum."}},
               "tool_calls": [{"step": 1, "name": "quote", "args": {"symbol": "NVDA"}, "ok": True, "result": "$120"}]}
    text = transcript_text(payload)
    assert text.startswith("\n\n**Transcript**") and "quote" in text and "You are momentum." in text
    assert trace_text.render_transcript(payload, markdown=True) in text


def _page(sid: str, emit) -> Mock:
    s = Mock(spec=WebsocketSession)
    s.id, s.socket_id, s.thread_id, s.user, s.user_env, s.chat_settings = sid, f"sock-{sid}", "t", None, {}, {}
    s.client_type, s.languages, s.chat_profile, s.http_referer = "webapp", ["en"], None, None
    s.emit = emit
    return s


def test_a_page_that_hangs_or_fails_never_holds_up_the_others(monkeypatch):
    monkeypatch.setattr(present, "DELIVERY_TIMEOUT", 0.3)

    async def hang(*_a, **_k):
        await asyncio.sleep(3600)

    async def main():
        good = _page("good", AsyncMock())
        audience = present.Audience()
        caught_up = []

        async def catch_up():
            caught_up.append(1)

        audience.catch_up = catch_up
        for page in (_page("hangs", hang), _page("fails", AsyncMock(side_effect=ValueError("no active connection"))),
                     good):
            audience.join(page)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await audience.each(lambda: present.say("cycle 1"))
        took = loop.time() - start
        good.socket_id = "sock-good-2"  # the page came back on a new socket: caught up first, then the update
        await audience.each(lambda: present.say("cycle 2"))
        audience.stop()
        return good, took, caught_up

    good, took, caught_up = asyncio.run(main())
    texts = [c.args[1]["output"] for c in good.emit.call_args_list if c.args[0] == "new_message"]
    assert texts == ["cycle 1", "cycle 2"] and took < 2 and caught_up == [1]


def test_the_dashboard_feed_gives_a_page_only_what_it_lacks():
    from chat_ui.dashboard_feed import DashboardFeed

    feed = DashboardFeed()
    assert feed.newer_than(None) is None and feed.newer_than(0) is None  # nothing published yet
    first = feed.publish({"cycle": 1, "status": "running: 1 of 3 cycles"})
    second = feed.publish({"cycle": 2, "status": "running: 2 of 3 cycles"})
    assert (first["version"], second["version"]) == (1, 2)
    assert json.loads(feed.newer_than(None)) == json.loads(feed.newer_than(first["version"])) == second
    assert feed.newer_than(second["version"]) is None  # the page has the newest: nothing to send
    assert json.loads(feed.newer_than(7)) == second  # numbers from a server that restarted: brought up to date
