"""Scenario events on the real exchange and background market (market/scenarios): each event's effect on
the books, the circuit breaker's level, determinism through snapshots, and an empty scenario changing nothing."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.background import BackgroundConfig, BackgroundMarket
from market.events import OrderAccepted, OrderCancelled, OrderRejected, RejectReason, TradeExecuted
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce
from market.scenarios import FLASH_OWNER, Scenario, attach, driver_of

SMALL = {"noise": {"count": 200, "rate_per_tick": 0.03}, "value": {"count": 20, "rate_per_tick": 0.05}}
TICKS = 20


def _market(seed: int = 5) -> Exchange:
    bg = BackgroundMarket(BackgroundConfig.model_validate(SMALL), seed=seed)
    ex = Exchange(DEFAULT_UNIVERSE, background=bg)
    ex.cycle = 1
    return ex


def _scenario(**data) -> Scenario:
    return Scenario.model_validate(data)


def _cycle(ex: Exchange) -> list:
    return ex.advance(TICKS) + ex.end_cycle()


def _run(ex: Exchange, cycles: int) -> list:
    out = []
    for _ in range(cycles):
        out += _cycle(ex)
    return out


def _limit(oid: str, sym: str, side: Side, price: int, qty: int = 10) -> SubmitOrder:
    return SubmitOrder(oid, "alice", sym, side, qty, OrderType.LIMIT, price, None, TimeInForce.GTC)


def test_an_empty_scenario_changes_nothing():
    plain, scn = _market(), _market()
    attach(scn, _scenario(), start_cycle=0)
    assert _run(plain, 6) == _run(scn, 6)
    assert plain.bars("NVDA") == scn.bars("NVDA")


def test_an_order_during_a_halt_is_refused_with_a_reason_and_trading_resumes_after():
    ex = _market()
    attach(ex, _scenario(events=[{"kind": "halt", "at": 3, "symbol": "AAPL", "cycles": 2, "reason": "news pending"}]),
           start_cycle=0)
    _run(ex, 1)
    bid = ex.best_bid("AAPL")
    resting = ex.submit(_limit("a1", "AAPL", Side.BUY, bid - 50))
    assert type(resting[0]) is OrderAccepted
    _cycle(ex)  # cycle 2
    halted_cycles = ex.advance(TICKS)  # cycle 3, halted from its first tick
    assert not [e for e in halted_cycles if type(e) is TradeExecuted and e.symbol == "AAPL"]
    refused = ex.submit(_limit("a2", "AAPL", Side.BUY, bid))
    assert type(refused[0]) is OrderRejected and refused[0].reason is RejectReason.HALTED
    assert "AAPL is halted (news pending)" in refused[0].message
    assert type(ex.modify(ModifyOrder("a1", 20, bid - 60, "alice"))[0]) is OrderRejected
    assert type(ex.submit(_limit("m1", "MSFT", Side.BUY, ex.best_bid("MSFT")))[0]) is OrderAccepted  # others trade
    ex.end_cycle()
    _cycle(ex)  # cycle 4: still halted
    assert ex.halts == {"AAPL": "news pending"}
    events = ex.advance(TICKS)  # cycle 5: resumes at its first tick
    assert ex.halts == {} and "submit" not in ex.__dict__
    assert [e for e in events if type(e) is TradeExecuted and e.symbol == "AAPL"]
    assert type(ex.submit(_limit("a3", "AAPL", Side.BUY, bid - 40))[0]) is OrderAccepted
    assert type(ex.cancel(CancelOrder("a1", "alice"))[0]) is OrderCancelled  # rested through the halt
    kinds = [(f.cycle, f.kind) for f in driver_of(ex).fired]
    assert kinds == [(3, "halt"), (5, "resume")]


def test_cancels_are_accepted_during_a_halt_and_a_halted_snapshot_restores_halted():
    ex = _market()
    attach(ex, _scenario(events=[{"kind": "halt", "at": 2, "symbol": "NVDA", "cycles": 3}]), start_cycle=0)
    _cycle(ex)
    ex.submit(_limit("n1", "NVDA", Side.BUY, ex.best_bid("NVDA") - 100))
    ex.advance(TICKS)
    assert type(ex.cancel(CancelOrder("n1", "alice"))[0]) is OrderCancelled
    blob = ex.snapshot()
    probe, copy = Exchange.restore(blob), Exchange.restore(blob)
    assert probe.halts == {"NVDA": "news pending"}
    assert probe.submit(_limit("n2", "NVDA", Side.BUY, 100))[0].reason is RejectReason.HALTED
    assert _run(copy, 4) == _run(ex, 4)  # the snapshot carries the scenario: both go on the same way


@pytest.mark.parametrize(("move", "levels", "trips"), [(-14.0, (5.0, 10.0), 2), (-2.0, (5.0,), 0)])
def test_the_circuit_breaker_trips_at_its_level_and_not_before(move, levels, trips):
    ex = _market(seed=11)
    attach(ex, _scenario(breaker={"levels_pct": list(levels), "halt_cycles": 1},
                         events=[{"kind": "news", "at": 2, "move_pct": move}]), start_cycle=0)
    driver, bg = driver_of(ex), ex.background
    worst = -math.inf
    for _ in range(6):
        for _ in range(TICKS):
            ex.advance(1)
            worst = max(worst, driver.drawdown_pct(bg, ex))
            # a level has tripped exactly when the drawdown has reached it at the end of some tick
            assert driver.breaker_level == sum(worst >= level for level in levels)
        ex.end_cycle()
    breakers = [f for f in driver.fired if f.kind == "breaker"]
    assert driver.breaker_level == trips
    assert len(breakers) >= (1 if trips else 0)
    if trips:
        first = breakers[0]
        assert first.cycle >= 2
        assert "every symbol halted" in first.headline


def test_orders_are_refused_market_wide_while_the_breaker_holds():
    ex = _market(seed=11)
    attach(ex, _scenario(breaker={"levels_pct": [4.0], "halt_cycles": 2},
                         events=[{"kind": "news", "at": 2, "move_pct": -10}]), start_cycle=0)
    _run(ex, 2)
    ex.advance(TICKS)
    assert set(ex.halts) == {i.symbol for i in DEFAULT_UNIVERSE}
    assert ex.submit(_limit("x", "MSFT", Side.BUY, 100))[0].reason is RejectReason.HALTED


def _mean_spread(ex: Exchange, cycles: int, sym: str) -> float:
    spreads = []
    for _ in range(cycles):
        for _ in range(TICKS):
            ex.advance(1)
            bid, ask = ex.best_bid(sym), ex.best_ask(sym)
            if bid is not None and ask is not None:
                spreads.append(ask - bid)
        ex.end_cycle()
    return sum(spreads) / len(spreads)


def test_a_drought_widens_the_spread_as_configured_and_ends():
    calm, dry = _market(seed=3), _market(seed=3)
    attach(dry, _scenario(events=[{"kind": "drought", "at": 3, "cycles": 3, "widen": 6}]), start_cycle=0)
    _run(calm, 2), _run(dry, 2)
    calm_spread, dry_spread = _mean_spread(calm, 3, "MSFT"), _mean_spread(dry, 3, "MSFT")
    assert dry_spread > 2.0 * calm_spread
    makers = dry.background.market_makers.config
    assert makers.half_spread_bps == pytest.approx(6 * BackgroundConfig().market_makers.half_spread_bps)
    _cycle(dry)  # cycle 6: the drought is over
    assert dry.background.market_makers.config == BackgroundConfig().market_makers
    assert [f.kind for f in driver_of(dry).fired] == ["drought", "drought_end"]


def test_makers_who_withdraw_take_their_quotes_away():
    ex = _market(seed=3)
    attach(ex, _scenario(events=[{"kind": "drought", "at": 2, "cycles": 2, "withdraw": 5}]), start_cycle=0)
    _cycle(ex)
    ex.advance(TICKS)
    assert ex.background.market_makers.config.count == 0
    assert not [o for o in ex.open_orders("mm:0") + ex.open_orders("mm:1")]


def test_a_flash_crash_sells_aggressively_and_moves_the_price_down():
    calm, crash = _market(seed=4), _market(seed=4)
    attach(crash, _scenario(events=[{"kind": "flash_crash", "at": 2, "symbol": "NVDA", "qty": 20000, "ticks": 4}]),
           start_cycle=0)
    _cycle(calm), _cycle(crash)
    calm.advance(4)
    events = crash.advance(4)
    sold = [e for e in events if type(e) is TradeExecuted and e.seller == FLASH_OWNER]
    assert sold and all(e.symbol == "NVDA" and e.aggressor is Side.SELL for e in sold)
    assert sum(e.qty for e in sold) <= 20000
    assert min(e.price for e in sold) < calm.best_bid("NVDA")
    assert crash.last_price("NVDA") < calm.last_price("NVDA")


def test_a_news_shock_moves_the_fundamental_by_its_size():
    calm, news = _market(seed=9), _market(seed=9)
    attach(news, _scenario(events=[{"kind": "news", "at": 2, "symbol": "AMZN", "move_pct": -7.5}]), start_cycle=0)
    _cycle(calm), _cycle(news)
    calm.advance(1), news.advance(1)
    a, b = calm.background.fair_values(), news.background.fair_values()
    assert b["AMZN"] / a["AMZN"] == pytest.approx(0.925, rel=1e-12)
    assert b["MSFT"] == a["MSFT"]
    fired = driver_of(news).fired
    assert fired[0].kind == "news" and "AMZN" in fired[0].headline


def test_a_conditional_event_fires_once_its_condition_holds():
    ex = _market(seed=9)
    attach(ex, _scenario(events=[
        {"kind": "news", "at": 2, "symbol": "NVDA", "move_pct": -12},
        {"kind": "rumour", "when": {"symbol": "NVDA", "falls_pct": 5}, "text": "a fund is liquidating", "source": "a desk chat"},
    ]), start_cycle=0)
    driver = driver_of(ex)
    _cycle(ex)
    assert [f.kind for f in driver.fired] == []
    _run(ex, 3)
    rumours = [f for f in driver.fired if f.kind == "rumour"]
    assert len(rumours) == 1 and rumours[0].source == "a desk chat"
    assert ex.last_price("NVDA") <= driver.open_prices["NVDA"] * 0.97


def test_a_scenario_run_is_deterministic():
    data = {"breaker": {"levels_pct": [6]}, "events": [
        {"kind": "news", "at": 2, "move_pct": -8}, {"kind": "flash_crash", "at": 3, "symbol": "AAPL", "qty": 5000},
        {"kind": "drought", "at": 3, "cycles": 2, "widen": 3, "withdraw": 1},
        {"kind": "halt", "at": 4, "symbol": "GOOG", "cycles": 1}]}
    a, b = _market(seed=2), _market(seed=2)
    attach(a, _scenario(**data), start_cycle=0), attach(b, _scenario(**data), start_cycle=0)
    assert _run(a, 7) == _run(b, 7)
    assert driver_of(a).fired == driver_of(b).fired


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), level=st.floats(1.0, 8.0), move=st.floats(-12.0, -1.0))
def test_the_breaker_never_trips_before_its_level(seed, level, move):
    ex = _market(seed=seed)
    attach(ex, _scenario(breaker={"levels_pct": [level]}, events=[{"kind": "news", "at": 2, "move_pct": move}]),
           start_cycle=0)
    driver, bg = driver_of(ex), ex.background
    worst = -math.inf
    for _ in range(4 * TICKS):
        ex.advance(1)
        worst = max(worst, driver.drawdown_pct(bg, ex))
        assert driver.breaker_level == (1 if worst >= level else 0)
        if ex.tick == TICKS:
            ex.end_cycle()
