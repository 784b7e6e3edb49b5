"""Each theory's rule logic on crafted price paths, plus sizing and the registry."""
from __future__ import annotations

import math

import numpy as np
import pytest

from market.instruments import DEFAULT_UNIVERSE
from traders.base import Theory, TheoryParams, rule_decision
from traders.decision import Action
from traders.registry import describe, get_theory, register, theory_names
from traders.risk_parity import equal_risk_weights
from traders.sizing import buy_size, realized_vol
from traders.snapshot import Position, TraderView, synthetic_snapshot
from traders.trader_config import RiskSettings, TraderConfig

BASE = {i.symbol: float(i.initial_price) for i in DEFAULT_UNIVERSE}
N = 40


def flat(sym: str, n: int = N, wiggle: float = 0.0) -> list[float]:
    """A flat path with an optional deterministic +-wiggle (cents) so volatility is not zero."""
    return [BASE[sym] + (wiggle if k % 2 else -wiggle) for k in range(n)]


def paths(wiggle: float = 3, **override: list[float]) -> dict[str, list[float]]:
    out = {s: flat(s, wiggle=wiggle) for s in BASE if s != "FLOR"}
    out["FLOR"] = [sum(out[s][k] for s in out) / 10 for k in range(N)]
    out.update(override)
    return out


def view(history: dict[str, list[float]], positions: dict[str, tuple[int, float]] | None = None,
         cash: int = 10_000_000, **snap_fields) -> TraderView:
    snap = synthetic_snapshot(history, **snap_fields)
    return TraderView(
        trader="t", market=snap, cash=cash, available_cash=cash, initial_cash=10_000_000,
        positions={s: Position(qty=q, avg_cost=c) for s, (q, c) in (positions or {}).items()},
    )


def cfg(theory: str, **params) -> TraderConfig:
    return TraderConfig(name="t", theory=theory, params=params)


def assert_well_formed(decision, v: TraderView) -> None:
    assert decision.rationale and decision.trader == "t" and decision.cycle == v.cycle
    assert all(math.isfinite(x) for x in decision.signals.values())
    for o in decision.orders:
        assert isinstance(o.limit_price, int) and o.limit_price % v.market.instruments[o.symbol].tick_size == 0
        assert decision.actions[o.symbol] == (Action.BUY if o.side == "buy" else Action.SELL)


# Momentum --------------------------------------------------------------------------------------------

def test_momentum_buys_a_rising_series():
    rising = [12000 * 1.003 ** k for k in range(N)]
    v = view(paths(NVDA=rising))
    d = rule_decision(v, cfg("momentum"))
    assert_well_formed(d, v)
    assert [(o.symbol, o.side) for o in d.orders] == [("NVDA", "buy")]
    assert d.orders[0].qty > 0
    assert d.orders[0].limit_price == v.market.quotes["NVDA"].ask
    assert d.signals["NVDA.return"] == pytest.approx(1.003 ** 10 - 1, rel=1e-3)
    assert "NVDA rose" in d.rationale and "buying" in d.rationale


def test_momentum_holds_a_flat_market_and_sells_a_falling_holding():
    v = view(paths())
    d = rule_decision(v, cfg("momentum"))
    assert d.orders == () and "holding" in d.rationale
    falling = [12000 * 0.997 ** k for k in range(N)]
    v = view(paths(NVDA=falling), positions={"NVDA": (50, 12500.0)})
    d = rule_decision(v, cfg("momentum"))
    assert [(o.symbol, o.side, o.qty) for o in d.orders] == [("NVDA", "sell", 50)]


# Mean reversion ----------------------------------------------------------------------------------------

def test_mean_reversion_sells_a_spike():
    spike = flat("AAPL", wiggle=20)
    spike[-1] = 19800.0
    v = view(paths(AAPL=spike), positions={"AAPL": (100, 19000.0)})
    d = rule_decision(v, cfg("mean_reversion"))
    assert_well_formed(d, v)
    assert [(o.symbol, o.side) for o in d.orders] == [("AAPL", "sell")]
    assert 0 < d.orders[0].qty <= 100
    assert d.signals["AAPL.z"] > 2.0
    # The same spike with nothing held: long-only, so no short sale.
    d0 = rule_decision(view(paths(AAPL=spike)), cfg("mean_reversion"))
    assert d0.orders == () and "hold none" in d0.rationale


def test_mean_reversion_buys_a_dip():
    dip = flat("AAPL", wiggle=20)
    dip[-1] = 18200.0
    d = rule_decision(view(paths(AAPL=dip)), cfg("mean_reversion"))
    assert [(o.symbol, o.side) for o in d.orders] == [("AAPL", "buy")]


# Arbitrage -----------------------------------------------------------------------------------------------

def test_arbitrage_buys_a_cheap_etf_and_ignores_a_fair_one():
    fair = view(paths())
    d = rule_decision(fair, cfg("arbitrage"))
    assert d.orders == ()
    assert abs(d.signals["premium"]) < 0.001
    cheap = paths()
    cheap["FLOR"] = cheap["FLOR"][:-1] + [cheap["FLOR"][-1] * 0.985]  # planted 1.5% discount
    v = view(cheap)
    d = rule_decision(v, cfg("arbitrage"))
    assert_well_formed(d, v)
    assert [(o.symbol, o.side) for o in d.orders] == [("FLOR", "buy")]
    assert d.signals["edge.buy"] == pytest.approx(0.015, abs=0.001)
    assert "below its basket NAV" in d.rationale


def test_arbitrage_sells_a_rich_etf_it_holds_and_hedges_when_asked():
    rich = paths()
    rich["FLOR"] = rich["FLOR"][:-1] + [rich["FLOR"][-1] * 1.01]
    d = rule_decision(view(rich), cfg("arbitrage"))
    assert d.orders == ()  # nothing held, nothing shorted
    held = view(rich, positions={"FLOR": (40, 10600.0)})
    d = rule_decision(held, cfg("arbitrage", hedge=True))
    assert d.orders[0].symbol == "FLOR" and d.orders[0].side == "sell" and d.orders[0].qty == 40
    legs = {o.symbol: (o.side, o.qty) for o in d.orders[1:]}
    assert legs == {s: ("buy", 4) for s in ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG")}  # 40 ETF = 4 units


# Risk parity -----------------------------------------------------------------------------------------------

def test_risk_parity_weights_match_inverse_volatility():
    amps = {"AAPL": 0.003, "MSFT": 0.004, "NVDA": 0.008, "AMZN": 0.005, "GOOG": 0.010}
    hist = paths()
    for sym, a in amps.items():
        hist[sym] = [BASE[sym] * math.exp(a if k % 2 else 0.0) for k in range(N)]  # returns alternate +-a
    v = view(hist)
    theory = get_theory("risk_parity")
    weights = theory.target_weights(v, theory.Params(lookback=30))
    assert set(weights) == set(amps)  # the ETF is left out by default
    inv = {s: 1 / a for s, a in amps.items()}
    for s in amps:
        assert weights[s] == pytest.approx(inv[s] / sum(inv.values()), rel=1e-9)
    d = rule_decision(v, TraderConfig(name="t", theory="risk_parity",
                                      risk=RiskSettings(max_position=10_000, max_order_qty=10_000)))
    assert_well_formed(d, v)
    value = {o.symbol: o.qty * o.limit_price for o in d.orders}
    assert all(o.side == "buy" for o in d.orders) and set(value) == set(amps)
    assert sorted(value, key=value.get) == sorted(amps, key=lambda s: -amps[s])  # calmer -> more capital


def test_risk_parity_does_not_trade_inside_its_band():
    amps = {"AAPL": 0.003, "MSFT": 0.004, "NVDA": 0.008, "AMZN": 0.005, "GOOG": 0.010}
    hist = paths()
    for sym, a in amps.items():
        hist[sym] = [BASE[sym] * math.exp(a if k % 2 else 0.0) for k in range(N)]
    v = view(hist)
    theory = get_theory("risk_parity")
    w = theory.target_weights(v, theory.Params())
    equity = 10_000_000
    positions = {s: (round(w[s] * 0.8 * equity / v.market.mid(s)), v.market.mid(s)) for s in w}
    cash = equity - int(sum(q * c for q, c in positions.values()))
    d = rule_decision(view(hist, positions=positions, cash=cash), cfg("risk_parity"))
    assert d.orders == () and "within" in d.rationale


def test_equal_risk_weights_equalise_risk_contributions():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(200, 4)) * np.array([0.01, 0.02, 0.005, 0.03]) + rng.normal(size=(200, 1)) * 0.004
    cov = np.cov(a, rowvar=False)
    w = equal_risk_weights(cov)
    rc = w * (cov @ w)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    assert rc.max() / rc.min() == pytest.approx(1.0, abs=1e-4)


# Trend following ---------------------------------------------------------------------------------------------

def test_trend_following_follows_a_trend():
    up = [16500 * (1 + 0.004 * k) for k in range(N)]
    v = view(paths(GOOG=up))
    d = rule_decision(v, cfg("trend_following"))
    assert_well_formed(d, v)
    assert [(o.symbol, o.side) for o in d.orders] == [("GOOG", "buy")]
    assert d.signals["GOOG.trend"] > 0.002
    down = [16500 * (1 - 0.004 * k) for k in range(N)]
    d = rule_decision(view(paths(GOOG=down), positions={"GOOG": (30, 16000.0)}), cfg("trend_following"))
    assert [(o.symbol, o.side, o.qty) for o in d.orders] == [("GOOG", "sell", 30)]


# Sentiment -----------------------------------------------------------------------------------------------------

def test_sentiment_buys_on_strongly_positive_chat():
    v = view(paths(wiggle=0), chat_sentiment=0.8, chat_sentiment_by_symbol={"NVDA": 0.9})
    d = rule_decision(v, cfg("sentiment"))
    assert_well_formed(d, v)
    bought = {o.symbol for o in d.orders if o.side == "buy"}
    assert "NVDA" in bought and bought <= {"NVDA", "FLOR"}
    assert d.signals["NVDA.score"] == pytest.approx(0.6 * 0.9)  # flat tape: chat alone
    neutral = rule_decision(view(paths()), cfg("sentiment"))
    assert neutral.orders == ()
    gloomy = view(paths(), positions={"NVDA": (20, 12000.0)}, chat_sentiment_by_symbol={"NVDA": -0.9})
    assert [(o.symbol, o.side) for o in rule_decision(gloomy, cfg("sentiment")).orders] == [("NVDA", "sell")]


# Sizing ----------------------------------------------------------------------------------------------------------

def _size(v: TraderView, **risk) -> int:
    spec = v.market.instruments["NVDA"]
    return buy_size(v, RiskSettings(**({"max_position": 10**6, "max_order_qty": 10**6} | risk)), spec,
                    12001, conviction=0.5, vol=0.01).qty


def test_sizing_respects_risk_aversion_max_position_and_cash_floor():
    v = view(paths())
    q1, q2, q4 = _size(v, risk_aversion=1), _size(v, risk_aversion=2), _size(v, risk_aversion=4)
    assert q1 > q2 > q4 > 0
    assert q2 == pytest.approx(q1 / 2, abs=1) and q4 == pytest.approx(q1 / 4, abs=1)
    held = view(paths(), positions={"NVDA": (390, 12000.0)})
    assert _size(held, max_position=400) == 10
    poor = view(paths(), cash=1_050_000)
    q = _size(poor, cash_floor=1_000_000)
    assert q == 50_000 // 12001 and 1_050_000 - q * 12001 >= 1_000_000
    assert _size(view(paths(), cash=900_000), cash_floor=1_000_000) == 0


def test_sizing_scales_inversely_with_volatility_and_skips_small_edges():
    v = view(paths())
    spec = v.market.instruments["NVDA"]
    risk = RiskSettings(max_position=10**6, max_order_qty=10**6, expected_return=0.01)
    calm = buy_size(v, risk, spec, 12001, 0.5, 0.01).qty
    wild = buy_size(v, risk, spec, 12001, 0.5, 0.04).qty
    assert calm == pytest.approx(4 * wild, abs=2)
    assert buy_size(v, risk, spec, 12001, 0.5, 0.01, edge=0.005).qty == 0  # below expected_return
    assert realized_vol([100.0] * 30) > 0  # floored, never zero


# Registry, determinism, extension -----------------------------------------------------------------------------

def test_six_theories_registered_and_described():
    assert set(theory_names()) >= {"momentum", "mean_reversion", "risk_parity", "arbitrage",
                                   "trend_following", "sentiment"}
    for name in theory_names():
        assert len(describe(name)) > 60


def test_decisions_are_deterministic():
    hist = paths(NVDA=[12000 * 1.003 ** k for k in range(N)])
    for name in ("momentum", "mean_reversion", "risk_parity", "arbitrage", "trend_following", "sentiment"):
        assert rule_decision(view(hist), cfg(name)) == rule_decision(view(hist), cfg(name))


def test_adding_a_trader_is_one_class_and_a_registration():
    class AlwaysHoldParams(TheoryParams):
        note: str = "patience"

    @register
    class AlwaysHold(Theory):
        name = "test_always_hold"
        description = "Always hold: a test theory that never trades."
        Params = AlwaysHoldParams

        def decide(self, view, cfg):
            return self.hold(view, cfg, f"Holding out of {self.params(cfg).note}.", {"n": 1.0})

    c = TraderConfig(name="t", theory="test_always_hold", params={"note": "discipline"})
    d = rule_decision(view(paths()), c)
    assert d.rationale == "Holding out of discipline." and d.orders == ()
    # A config entry reusing a theory with other parameters changes behaviour without any class.
    rising = paths(NVDA=[12000 * 1.001 ** k for k in range(N)])
    assert rule_decision(view(rising), cfg("momentum")).orders == ()
    assert rule_decision(view(rising), cfg("momentum", threshold=0.005)).orders


# Property: what a theory proposes, the risk check accepts -------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from floor.risk import RiskReason, check_decision  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    vol=st.floats(0.0005, 0.03),
    cash=st.integers(0, 20_000_000),
    held=st.integers(0, 600),
    etf_gap=st.floats(-0.03, 0.03),
)
def test_theory_orders_pass_the_risk_check(seed, vol, cash, held, etf_gap):
    rng = np.random.default_rng(seed)
    hist = {}
    for sym in BASE:
        if sym != "FLOR":
            hist[sym] = list(BASE[sym] * np.exp(np.cumsum(rng.normal(0, vol, N))))
    hist["FLOR"] = [sum(hist[s][k] for s in hist) / 10 * (1 + etf_gap) for k in range(N)]
    positions = {s: (held, hist[s][-10]) for s in BASE if held and rng.random() < 0.5}
    v = view(hist, positions=positions, cash=cash, chat_sentiment=float(rng.uniform(-1, 1)),
             chat_sentiment_by_symbol={"NVDA": float(rng.uniform(-1, 1))})
    for name in ("momentum", "mean_reversion", "risk_parity", "arbitrage", "trend_following", "sentiment"):
        c = cfg(name)
        d = rule_decision(v, c)
        assert_well_formed(d, v)
        r = check_decision(d, v, c.risk)
        assert all(x.reason is RiskReason.STOP_LOSS_ACTIVE for x in r.rejected), (name, r.rejected)
