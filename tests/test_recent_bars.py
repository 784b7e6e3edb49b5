"""`Exchange.recent_bars(symbol, n)` is `bars(symbol)[-n:]`, without copying the whole bar history."""
from __future__ import annotations

from floor.config import load_config
from market.background import BackgroundMarket
from market.exchange import Exchange


def test_recent_bars_are_the_tail_of_the_bar_history_as_it_fills_and_rolls_over():
    cfg = load_config(seed=3)
    ex = Exchange(background=BackgroundMarket(cfg.market, seed=3), bar_history=12)
    for _ in range(20):  # past the 12 bars kept: the deque drops the oldest
        for sym in ex.instruments:
            for n in range(-2, 16):
                assert ex.recent_bars(sym, n) == ex.bars(sym)[-n:], (sym, n)
        ex.advance(4)
        ex.end_cycle()
    assert len(ex.bars("AAPL")) == 12 and ex.recent_bars("AAPL", 3) == ex.bars("AAPL")[-3:] != []
    assert ex.recent_bars("NOT-LISTED", 3) == []
