"""Background market behaviour on the real Exchange: determinism, snapshots, limits, healthy books."""
from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from market.background import BackgroundConfig, BackgroundMarket
from market.events import OrderAccepted, OrderRejected, RejectReason, TradeExecuted
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE, Instrument, InstrumentKind
from market.orders import OrderType, Side, SubmitOrder

SMALL = {"noise": {"count": 200, "rate_per_tick": 0.03}, "value": {"count": 20, "rate_per_tick": 0.05}}


def _config(**overrides) -> BackgroundConfig:
    data = {k: dict(v) for k, v in SMALL.items()}
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return BackgroundConfig.model_validate(data)


def _market(seed=7, instruments=DEFAULT_UNIVERSE, **overrides) -> tuple[Exchange, BackgroundMarket]:
    bg = BackgroundMarket(_config(**overrides), instruments=instruments, seed=seed)
    return Exchange(instruments, background=bg), bg


def _run(ex: Exchange, bg: BackgroundMarket, cycles: int) -> list:
    events = []
    for _ in range(cycles):
        events += ex.advance(bg.ticks_per_cycle)
        events += ex.end_cycle()
    return events


def test_same_seed_gives_identical_events_and_other_seeds_differ():
    a = _run(*_market(seed=11), cycles=8)
    b = _run(*_market(seed=11), cycles=8)
    c = _run(*_market(seed=12), cycles=8)
    assert len(a) > 1000
    assert a == b
    assert a != c
    assert sum(type(e) is TradeExecuted for e in a) > 100


def test_snapshot_mid_cycle_restores_and_continues_identically():
    ex, bg = _market(seed=5)
    _run(ex, bg, 3)
    ex.advance(7)  # stop in the middle of a cycle
    blob = ex.snapshot()
    floor_order = SubmitOrder("floor-1", "trader:x", "NVDA", Side.BUY, 25, OrderType.MARKET)

    def finish(exchange: Exchange) -> list:
        events = exchange.submit(floor_order)
        events += exchange.advance(bg.ticks_per_cycle - 7)
        events += exchange.end_cycle()
        background = exchange.background
        return events + _run(exchange, background, 3)

    original = finish(ex)
    restored = finish(Exchange.restore(blob))
    assert len(original) > 500
    assert original == restored


def test_market_maker_inventory_stays_within_limits_under_one_sided_flow():
    # a tight limit and a market-order-heavy flow that hammers the makers' quotes
    limit_lots = 30
    ex, bg = _market(
        seed=3,
        market_makers={"inventory_limit_lots": limit_lots, "quote_lots": 20, "quote_interval_ticks": 1},
        noise={"count": 300, "rate_per_tick": 0.05, "market_order_prob": 0.7, "mean_lots": 6},
    )
    worst = 0
    for _ in range(15):
        for _ in range(bg.ticks_per_cycle):
            ex.advance(1)
            for m in range(bg.config.market_makers.count):
                for sym, inst in ex.instruments.items():
                    pos = ex.position(f"mm:{m}", sym)
                    assert abs(pos) <= limit_lots * inst.lot_size, (m, sym, pos)
                    worst = max(worst, abs(pos))
        ex.end_cycle()
    assert worst > limit_lots // 2  # the limit was actually tested


def test_books_are_never_crossed_and_rarely_one_sided():
    ex, bg = _market(seed=9)
    one_sided = 0
    checks = 0
    for _ in range(20):
        for _ in range(bg.ticks_per_cycle):
            ex.advance(1)
            for sym in ex.instruments:
                bid, ask = ex.best_bid(sym), ex.best_ask(sym)
                checks += 1
                if bid is None or ask is None:
                    one_sided += 1
                else:
                    assert bid < ask, (sym, bid, ask)
        ex.end_cycle()
        for sym in ex.instruments:  # floor traders decide now: GTC maker quotes must be there
            assert ex.best_bid(sym) is not None and ex.best_ask(sym) is not None, sym
    assert one_sided <= checks * 0.01


def test_orders_are_on_tick_in_lots_and_never_rejected_for_bad_input():
    insts = (
        Instrument("AAA", "a", 5000, tick_size=5, lot_size=10),
        Instrument("BBB", "b", 12345, tick_size=1, lot_size=100),
        Instrument(
            "ETFX", "etf", 1735, tick_size=5, lot_size=10, kind=InstrumentKind.ETF,
            basket=(("AAA", 1), ("BBB", 1)), units=10,
        ),
    )
    ex, bg = _market(seed=2, instruments=insts)
    events = _run(ex, bg, 10)
    accepted = [e for e in events if type(e) is OrderAccepted]
    assert len(accepted) > 300
    by_sym = {i.symbol: i for i in insts}
    for e in accepted:
        inst = by_sym[e.symbol]
        assert e.qty > 0 and e.qty % inst.lot_size == 0
        if e.price is not None:
            assert e.price > 0 and e.price % inst.tick_size == 0
    rejected = [e for e in events if type(e) is OrderRejected]
    assert all(e.reason is RejectReason.NO_LIQUIDITY for e in rejected), rejected[:3]


def test_resting_orders_and_state_stay_bounded_over_many_cycles():
    ex, bg = _market(seed=4)
    cfg = bg.config.market_makers
    # a maker's lazy ladder holds at most levels + ladder_slack_levels orders per side
    bound = cfg.count * (cfg.levels + cfg.ladder_slack_levels) * 2 * len(ex.instruments)

    def resting_after_cycle() -> int:
        return sum(n for sym in ex.instruments for side in ex.depth(sym, levels=10_000)[1:] for _, _, n in side)

    _run(ex, bg, 30)
    early_orders, early_bytes = resting_after_cycle(), len(pickle.dumps(bg))
    _run(ex, bg, 270)
    late_orders, late_bytes = resting_after_cycle(), len(pickle.dumps(bg))
    # only the makers' GTC ladders survive a cycle end: DAY orders of noise and value traders expired
    assert early_orders <= bound and late_orders <= bound
    assert late_bytes <= early_bytes * 1.1 + 200
    assert late_bytes < 20_000


def test_default_market_is_active_liquid_and_tracks_fair_value():
    bg = BackgroundMarket(seed=1)
    ex = Exchange(background=bg)
    trades = 0
    spreads_bps = []
    cycles = 40
    for _ in range(cycles):
        trades += sum(type(e) is TradeExecuted for e in ex.advance(bg.ticks_per_cycle))
        ex.end_cycle()
        for sym in ex.instruments:
            mid = ex.mid(sym)
            spreads_bps.append((ex.best_ask(sym) - ex.best_bid(sym)) / mid * 1e4)
    assert 20 * cycles <= trades <= 1000 * cycles  # tens (to a few hundred) of trades per cycle
    assert max(spreads_bps) < 30  # liquidity close to mid even between cycles
    fair = bg.fair_values()
    for sym in ex.instruments:
        assert abs(ex.last_price(sym) / fair[sym] - 1) < 0.01, sym  # within 100 bp of the fundamental
    etf = ex.instruments["FLOR"]
    nav = etf.nav({c: ex.mid(c) for c, _ in etf.basket})
    assert abs(ex.mid("FLOR") / nav - 1) < 0.003  # an ETF/basket gap exists but stays small


def test_config_is_typed_frozen_and_seed_override_wins():
    with pytest.raises(ValidationError):
        BackgroundConfig.model_validate({"noise": {"count": 10, "speed": 3}})
    with pytest.raises(ValidationError):
        BackgroundConfig(ticks_per_cycle=0)
    cfg = BackgroundConfig(seed=1)
    with pytest.raises(ValidationError):
        cfg.seed = 2
    assert BackgroundMarket(cfg, seed=99).config.seed == 99
    assert BackgroundMarket(cfg).config.seed == 1


def test_demo_command_prints_a_summary():
    import typer
    from typer.testing import CliRunner

    from cli import demo as cli_demo

    app = typer.Typer()
    cli_demo.register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app into `demo` itself
        pass

    result = CliRunner().invoke(app, ["demo", "--cycles", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    for sym in ("AAPL", "FLOR"):
        assert sym in result.output
    assert "NAV" in result.output
    assert "trades" in result.output


class _QuietExchange:
    """A stand-in that records submissions and shows a fixed two-sided book (no matching)."""

    def __init__(self) -> None:
        self.sent: list[SubmitOrder] = []

    def submit(self, cmd):
        self.sent.append(cmd)
        return []

    def best_bid(self, symbol):
        return 9_990

    def best_ask(self, symbol):
        return 10_010

    def last_price(self, symbol):
        return 10_000

    def position(self, owner, symbol):
        return 0


def test_noise_arrivals_are_poisson_and_follow_symbol_weights():
    import numpy as np

    from market.background.config import NoiseTraderConfig
    from market.background.noise_trader import NoiseTraders

    cfg = NoiseTraderConfig(count=500, rate_per_tick=0.01, symbol_weights={"AAPL": 3.0, "FLOR": 0.0})
    noise = NoiseTraders(cfg, DEFAULT_UNIVERSE)
    ex = _QuietExchange()
    rng = np.random.Generator(np.random.PCG64(8))
    fair = {i.symbol: 10_000.0 for i in DEFAULT_UNIVERSE}
    counts = []
    for _ in range(4000):
        before = len(ex.sent)
        noise.act(ex, fair, rng)
        counts.append(len(ex.sent) - before)
    counts = np.array(counts)
    assert counts.mean() == pytest.approx(5.0, rel=0.03)  # count * rate
    assert counts.var() == pytest.approx(5.0, rel=0.1)  # Poisson: variance equals mean
    by_sym = {s: sum(c.symbol == s for c in ex.sent) for s in ("AAPL", "MSFT", "FLOR")}
    assert by_sym["FLOR"] == 0
    assert by_sym["AAPL"] / by_sym["MSFT"] == pytest.approx(3.0, rel=0.1)
    market = [c for c in ex.sent if c.order_type is OrderType.MARKET]
    assert len(market) / len(ex.sent) == pytest.approx(cfg.market_order_prob, abs=0.02)
    assert len({c.owner for c in ex.sent}) > 450  # arrivals spread over the whole population
    assert all(c.qty >= 1 and c.qty <= cfg.max_lots for c in ex.sent)
    sizes = np.array([c.qty for c in ex.sent])
    assert sizes.mean() == pytest.approx(cfg.mean_lots, rel=0.1)


def _still_market(**mm) -> tuple[Exchange, BackgroundMarket]:
    """One maker, no other agents, a fundamental that does not move: every quote change is the maker's."""
    cfg = BackgroundConfig.model_validate({
        "fundamentals": {"volatility_per_tick": 0.0},
        "noise": {"count": 0}, "value": {"count": 0},
        "market_makers": {"count": 1, "estimate_noise_bps": 0.0, **mm},
    })
    bg = BackgroundMarket(cfg, seed=1)
    ex = Exchange(background=bg)
    ex.advance(bg.ticks_per_cycle)
    ex.end_cycle()
    return ex, bg


@pytest.mark.parametrize("pick_off_bps", [1.5, None])
def test_makers_pick_off_a_stale_order_through_their_estimate(pick_off_bps):
    ex, bg = _still_market(pick_off_bps=pick_off_bps)
    sym = "NVDA"
    price = ex.best_bid(sym) + ex.instruments[sym].tick_size  # inside the spread, below the fundamental
    assert price < bg.fair_values()[sym] * (1 - 1.5e-4)
    ex.submit(SubmitOrder("stale-1", "trader:x", sym, Side.SELL, 10, OrderType.LIMIT, price))
    assert ex.order("stale-1") is not None  # it rests: nobody crossed it on arrival
    fills = [e for e in ex.advance(bg.config.market_makers.quote_interval_ticks)
             if type(e) is TradeExecuted and e.symbol == sym]
    if pick_off_bps is None:
        assert ex.order("stale-1") is not None and not fills
    else:  # the maker took it within one look, and its quotes came back around the fundamental
        assert ex.order("stale-1") is None and fills and ex.position("mm:0", sym) == 10
        assert ex.best_ask(sym) > bg.fair_values()[sym]


def test_makers_follow_a_jump_of_the_fundamental_in_the_same_tick():
    ex, bg = _still_market(quote_interval_ticks=50)  # the cadence alone would wait up to 50 ticks
    sym = "AAPL"
    k = bg.fundamentals.symbols.index(sym)
    bg.fundamentals._log[k] += 0.01  # +1 %: many grid steps
    ex.advance(1)
    fair = bg.fair_values()[sym]
    assert ex.best_bid(sym) < fair < ex.best_ask(sym)
    assert abs(ex.mid(sym) / fair - 1) < 10e-4
