"""Performance metrics on hand-made value paths and a hand-made ledger, with answers worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import metrics as m
from analysis.trader_metrics import all_trader_metrics, trader_metrics
from ledger.store import Ledger
from ledger.types import Fill


def test_known_value_path_gives_known_sharpe_sortino_and_drawdown():
    values = [100.0, 110.0, 99.0, 108.9]  # returns +10 %, -10 %, +10 %
    r = m.returns_from_values(values)
    assert r == pytest.approx([0.1, -0.1, 0.1])
    # mean 1/30, sample sd sqrt(0.04/3)
    assert m.sharpe(r) == pytest.approx((1 / 30) / math.sqrt(0.04 / 3))
    assert m.sharpe(r) == pytest.approx(0.288675, abs=1e-6)
    # downside deviation sqrt(0.01 / 3)
    assert m.sortino(r) == pytest.approx((1 / 30) / math.sqrt(0.01 / 3))
    assert m.max_drawdown(values) == pytest.approx(0.1)
    assert m.drawdown_path(values) == pytest.approx([0, 0, 0.1, 0.01])
    assert m.total_return(values) == pytest.approx(0.089)
    assert m.sharpe(r, periods_per_year=252) == pytest.approx(m.sharpe(r) * math.sqrt(252))


def test_degenerate_paths_have_no_ratio_rather_than_infinity():
    assert math.isnan(m.sharpe([0.01, 0.01, 0.01]))
    assert math.isnan(m.sortino([0.01, 0.02]))  # no losing period
    assert m.max_drawdown([1, 2, 3]) == 0.0
    with pytest.raises(ValueError):
        m.returns_from_values([100, 0, 50])


def test_fifo_holding_period_round_trips_and_hit_rate():
    fills = [(1, 10, 100), (3, -5, 110), (6, -5, 90)]
    assert m.average_holding_period(fills) == pytest.approx((5 * 2 + 5 * 5) / 10)
    assert m.round_trip_pnls(fills) == [50.0, -50.0]
    assert m.hit_rate(m.round_trip_pnls(fills)) == 0.5
    # a short: sell first, buy back later and cheaper
    assert m.round_trip_pnls([(2, -4, 100), (4, 4, 90)]) == [40.0]
    assert m.average_holding_period([(2, -4, 100), (4, 4, 90)]) == 2.0
    assert math.isnan(m.hit_rate([]))


def test_implementation_shortfall_sign_and_weighting():
    assert m.implementation_shortfall("buy", 101, 100) == pytest.approx(0.01)
    assert m.implementation_shortfall("sell", 99, 100) == pytest.approx(0.01)
    assert m.implementation_shortfall("sell", 101, 100) == pytest.approx(-0.01)
    items = [("buy", 101, 10, 100), ("sell", 100, 30, 100)]
    assert m.weighted_shortfall(items) == pytest.approx(10 / 4000)
    assert m.turnover(2200, 11000) == pytest.approx(0.2)


@pytest.fixture
def ledger():
    led = Ledger.open(":memory:", symbols=["AAA"])
    led.start_run(config={}, seed=1, name="metrics")
    led.open_account("t", theory="momentum", cash=10_000)
    led.open_account("cp", theory="counterparty", cash=1_000_000, holdings={"AAA": 1000}, kind="background")
    yield led
    led.close()


def test_trader_metrics_from_a_hand_made_ledger(ledger):
    led = ledger
    led.record_trace(1, "market", "market_tick", "market_moved", {"quotes": {"AAA": {"mid": 99.0}}})
    assert led.settle(1, [Fill("f1", 1, 3, "AAA", 100, 10, "t", "cp")]).ok
    led.record_snapshot(1, {"AAA": 100})  # value 9,000 + 1,000 = 10,000
    led.record_snapshot(2, {"AAA": 150})  # 10,500
    led.record_snapshot(3, {"AAA": 90})  # 9,900
    led.record_trace(4, "market", "market_tick", "market_moved", {"quotes": {"AAA": {"mid": 121.0}}})
    assert led.settle(4, [Fill("f2", 4, 5, "AAA", 120, 10, "cp", "t")]).ok
    led.record_snapshot(4, {"AAA": 120})  # cash 10,200, flat
    out = trader_metrics(led, "t", {"AAA": 120})
    values = [v for _, v in out["value_path"]]
    assert values[-4:] == [10_000, 10_500, 9_900, 10_200]
    assert out["max_drawdown"] == pytest.approx(600 / 10_500)
    assert out["realized_pnl"] == 200 and out["unrealized_pnl"] == 0 and out["fees"] == 0
    assert out["total_pnl"] == 200 and out["return"] == pytest.approx(0.02)
    assert out["hit_rate"] == 1.0
    assert out["avg_holding_cycles"] == 3.0
    assert out["traded_notional"] == 2_200 and out["fills"] == 2
    # bought 1 cent above the arrival mid (10 shares), sold 1 cent below it (10 shares): 20 cents paid
    assert out["spread_paid"] == 20
    assert out["shortfall_bps"] == pytest.approx(20 / (99 * 10 + 121 * 10) * 1e4)
    rets = m.returns_from_values(values)
    assert out["sharpe"] == pytest.approx(m.sharpe(rets))
    rows = all_trader_metrics(led, ["AAA"])
    assert [r["account"] for r in rows] == ["t"]  # background accounts are not traders


def test_market_recorder_measures_spread_depth_volume_and_flow():
    from analysis.market_metrics import (
        MarketRecorder,
        flow_return_relation,
        order_flow_imbalance,
        spread_stats,
        volume_profile,
    )
    from market.background import BackgroundConfig, BackgroundMarket
    from market.exchange import Exchange

    cfg = BackgroundConfig.model_validate({"ticks_per_cycle": 10, "noise": {"count": 300}, "value": {"count": 30}})
    ex = Exchange(background=BackgroundMarket(cfg, seed=2))
    rec = MarketRecorder(ex, ["AAPL", "MSFT"], interval=5, depth_levels=5)
    for _ in range(60):
        rec.run_cycle(cfg.ticks_per_cycle)
    data = rec.arrays()
    a = data["AAPL"]
    assert len(a["mids"]) == 120 and len(a["volume"]) == 60 and len(a["cycle_mid"]) == 60
    st = spread_stats(a["spreads"], a["mids"])
    assert st["mean_ticks"] >= 1 and 0 < st["mean_bps"] < 30 and st["one_sided_share"] == 0
    assert (a["depth"] > 0).all() and a["depth"].shape == (5,)
    assert volume_profile(a["volume"])["mean"] > 0
    assert np.all(np.abs(a["signed"]) <= a["volume"])
    rel = flow_return_relation(a["signed"], a["volume"], a["cycle_mid"])
    assert -1 <= rel["corr_next_cycle"] <= 1 and rel["corr_same_cycle"] > 0  # buying pressure lifts the mid
    assert order_flow_imbalance([5, -3, 0], [10, 3, 0]).tolist() == [0.5, -1.0, 0.0]
