"""Scenarios on the whole floor: stored with the run, reproduced by rollback and re-run, applied to a
fork; headlines reach the traders' snapshot and the traces; rejections during a halt."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config, ledger_fills, trader_orders

from floor.scenario_file import parse
from floor.session import FloorSession

CRASH = {
    "name": "test-crash",
    "breaker": {"levels_pct": [4], "halt_cycles": 1},
    "events": [
        {"kind": "news", "at": 3, "move_pct": -5, "headline": "Bad news for everyone"},
        {"kind": "flash_crash", "at": 4, "symbol": "NVDA", "qty": 8000, "ticks": 2},
        {"kind": "halt", "at": 5, "symbol": "AAPL", "cycles": 2},
        {"kind": "rumour", "at": 6, "symbol": "AMZN", "text": "AMZN misses", "source": "a chat room"},
    ],
}


def _session(tmp_path, scenario=None, seed=5) -> FloorSession:
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.floor.scenario = parse(scenario) if scenario is not None else None
    s.start(seed=seed)
    return s


def _scenario_traces(session) -> list[tuple]:
    rows = session.floor.ledger.traces(kind="scenario_event", limit=None)
    return sorted((t["cycle"], t["payload"]["tick"], t["payload"]["kind"], t["payload"]["headline"]) for t in rows)


def test_a_scenario_run_rolled_back_across_an_event_and_rerun_gives_the_same_rows(tmp_path):
    s = _session(tmp_path, CRASH)
    try:
        s.run(9)
        fills, orders = ledger_fills(s, range(3, 10)), trader_orders(s, range(3, 10))
        events = _scenario_traces(s)
        state = s.floor.ledger.dump_state()
        assert any(orders), "floor traders should have ordered in cycles 3-9"
        assert [(c, k) for c, _, k, _ in events] == [(3, "news"), (3, "breaker"), (4, "flash_crash"), (4, "resume"),
                                                    (5, "halt"), (6, "rumour"), (7, "resume")]
        assert any(dict(f).get("seller") == "bg:scenario" for f in fills)
        s.rollback(2)  # back before every event
        s.run(7)
        assert ledger_fills(s, range(3, 10)) == fills
        assert trader_orders(s, range(3, 10)) == orders
        assert _scenario_traces(s) == events
        assert s.floor.ledger.dump_state() == state
    finally:
        s.close()


def test_headlines_reach_the_snapshot_and_orders_in_a_halted_symbol_are_refused(tmp_path):
    s = _session(tmp_path, {"events": [
        {"kind": "halt", "at": 2, "symbol": "AAPL", "cycles": 3, "reason": "news pending"},
        {"kind": "rumour", "at": 2, "text": "AAPL to be acquired", "source": "a blog", "symbol": "AAPL"}]})
    try:
        s.run(2)
        snap = s.floor.work.market
        assert snap.halted == ("AAPL",)
        assert [(h.kind, h.source) for h in snap.headlines] == [("halt", None), ("rumour", "a blog")]
        ex = s.floor.exchange
        from market.orders import OrderType, Side, SubmitOrder, TimeInForce
        out = ex.submit(SubmitOrder("probe", "alice", "AAPL", Side.BUY, 1, OrderType.LIMIT, 100, None, TimeInForce.DAY))
        assert out[0].reason.value == "trading_halted"
    finally:
        s.close()


def test_fork_with_a_scenario_applies_it_to_the_what_if_line_only(tmp_path):
    s = _session(tmp_path)
    try:
        s.run(6)
        main_thread = s.thread.thread_id
        s.floor.scenario = parse({"events": [{"kind": "news", "at": 3, "symbol": "MSFT", "move_pct": -20}]})
        with pytest.raises(ValueError, match="event 1 \\(news\\) is at cycle 3, which is in the past"):
            s.fork(4)
        s.floor.scenario = parse({"events": [{"kind": "news", "at": 5, "symbol": "MSFT", "move_pct": -20},
                                             {"kind": "flash_crash", "at": 6, "symbol": "MSFT", "qty": 3000}]})
        s.fork(4, label="what if MSFT crashed")
        s.run(4)  # cycles 5-8 on the fork
        fork_events = _scenario_traces(s)
        assert sorted(k for _, _, k, _ in fork_events) == ["flash_crash", "news"]
        fork_mid = s.floor.exchange.mid("MSFT")
        fork_fills = ledger_fills(s, range(5, 9))
        assert any(dict(f).get("seller") == "bg:value" and dict(f).get("sell_order_id", "").startswith("scn-")
                   for f in fork_fills)  # a run started without a scenario: the seller settles to bg:value
        s.rollback(4)  # back to the fork's first cycle: the scenario is in the fork's books from there
        s.run(4)
        assert ledger_fills(s, range(5, 9)) == fork_fills
        assert _scenario_traces(s) == fork_events
        s.use_thread(main_thread)
        s.run(2)  # the main line goes on to cycle 8 without the scenario
        assert _scenario_traces(s) == []
        assert s.floor.exchange.mid("MSFT") > fork_mid * 1.1
    finally:
        s.close()


def test_an_empty_scenario_gives_the_same_run_as_none(tmp_path):
    a, b = _session(tmp_path / "a"), _session(tmp_path / "b", {"name": "empty"})
    try:
        a.run(5), b.run(5)
        assert ledger_fills(a, range(0, 6)) == ledger_fills(b, range(0, 6))
        assert trader_orders(a, range(1, 6)) == trader_orders(b, range(1, 6))
    finally:
        a.close(), b.close()
