"""Background-only warm-up before cycle 1: the floor starts with a history, so the traders act at once."""
from __future__ import annotations

from floor_helpers import fast_config, ledger_fills

from floor.session import FloorSession
from ledger.invariants import check_ledger
from market.background import BackgroundMarket
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE
from market.warmup import warm_up


def _session(tmp_path, **overrides) -> FloorSession:
    s = FloorSession(tmp_path / "floor.db", fast_config(**overrides))
    s.start(seed=5)
    return s


def test_traders_trade_within_the_first_three_cycles(tmp_path):
    s = _session(tmp_path)
    try:
        s.run(3)
        traders = set(s.floor.trader_names)
        fills = s.floor.ledger.fills(limit=None)
        floor_fills = [f for f in fills if 1 <= f["cycle"] <= 3 and {f["buyer"], f["seller"]} & traders]
        assert floor_fills, "no floor trader traded in cycles 1-3"
        bars = s.floor.exchange.bars("NVDA")
        assert len(bars) >= 32 and bars[0].cycle == 1 - 32  # the warm-up's bars, numbered up to cycle 0
    finally:
        s.close()


def test_without_warm_up_the_first_cycles_have_no_history(tmp_path):
    s = _session(tmp_path, warmup_cycles=0)
    try:
        s.run(1)
        assert [b.cycle for b in s.floor.exchange.bars("NVDA")] == [1]
        assert all(f["cycle"] == 1 for f in s.floor.ledger.fills(limit=None))
    finally:
        s.close()


def test_warm_up_is_settled_at_cycle_0_and_survives_a_rollback_to_0(tmp_path):
    s = _session(tmp_path)
    try:
        opening = ledger_fills(s, [0])
        assert opening, "the warm-up's background trades are in the ledger at cycle 0"
        s.run(4)
        after_run = ledger_fills(s, [1, 2, 3, 4])
        s.rollback(0)
        assert ledger_fills(s, [0]) == opening
        s.run(4)
        assert ledger_fills(s, [1, 2, 3, 4]) == after_run  # the re-run from cycle 0 is bit for bit the same
        assert check_ledger(s.floor.ledger.conn) == []
    finally:
        s.close()


def test_warm_up_is_deterministic_and_leaves_the_exchange_at_cycle_1():
    def run() -> tuple[list, Exchange]:
        cfg = fast_config().market
        ex = Exchange(DEFAULT_UNIVERSE, background=BackgroundMarket(cfg, seed=3), bar_history=256)
        ex.cycle = 1
        return warm_up(ex, 5, cfg.ticks_per_cycle), ex

    (a, ex), (b, _) = run(), run()
    assert a == b and a
    assert ex.cycle == 1 and ex.tick == 0
    assert sorted({t.cycle for t in a}) == [-4, -3, -2, -1, 0]
