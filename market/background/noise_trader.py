"""Noise traders: a population with Poisson arrivals of market and limit orders around the mid.

The population is vectorised: with N traders each arriving at rate r per tick, the number of arrivals in a
tick is Poisson(N r) and each arrival belongs to a uniformly drawn trader, which is the same law as N
independent Poisson processes but costs one draw per tick instead of N. All the random numbers for a
tick's arrivals are drawn in one batch; the loop then only builds orders against the live book.

An arrival is a market order (IOC; its remainder is cancelled), an aggressive limit that crosses the
spread by up to `aggressive_bps`, or a passive limit an exponential distance behind the mid. Limit
orders are DAY orders, so they expire at the end of the cycle and stale orders never pile up. Nothing
per trader is stored: owners are just `noise:<i>`.
"""
from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from market.background.config import NoiseTraderConfig
from market.instruments import Instrument
from market.orders import OrderType, Side, SubmitOrder, TimeInForce

_BUY, _SELL = Side.BUY, Side.SELL
_LIMIT, _MARKET = OrderType.LIMIT, OrderType.MARKET
_DAY, _IOC = TimeInForce.DAY, TimeInForce.IOC
_tuple_new = tuple.__new__  # builds a NamedTuple command from a full tuple of its fields, as its class would


class NoiseTraders:
    def __init__(self, config: NoiseTraderConfig, instruments: tuple[Instrument, ...]) -> None:
        self.config = config
        self.instruments = instruments
        n_sym = len(instruments)
        weights = np.array([config.symbol_weights.get(i.symbol, 1.0) for i in instruments], dtype=float)
        if n_sym and weights.sum() <= 0:
            raise ValueError("noise symbol_weights must not all be zero")
        uniform = bool(np.all(weights == weights[0])) if n_sym else True
        # cumulative weights for a bisect draw; None means uniform (a multiply is enough)
        self._cum_list = None if uniform else (np.cumsum(weights / weights.sum())[:-1]).tolist()
        self._rate = config.count * config.rate_per_tick
        # order size is 1 + Geometric(p) lots with mean `mean_lots`, drawn by inversion: log(1-u)/log(1-p)
        p = 1.0 / config.mean_lots
        self._log_q = math.log1p(-p) if p < 1.0 else 0.0
        self.next_id = 0
        self.orders_sent = 0
        self._derive()

    def _derive(self) -> None:
        """Constants of the hot loop, from the config and instruments (not pickled: rebuilt on load)."""
        cfg = self.config
        self._symbols = [(i.symbol, i.lot_size, i.tick_size) for i in self.instruments]
        self._owners = [f"noise:{k}" for k in range(cfg.count)]
        self._params = (
            cfg.market_order_prob,
            cfg.market_order_prob + cfg.aggressive_limit_prob,
            cfg.aggressive_bps * 1e-4,
            cfg.passive_offset_bps * 1e-4,
            cfg.max_offset_bps * 1e-4,
            cfg.max_lots,
        )

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for k in ("_symbols", "_owners", "_params"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._derive()

    def reconfigured(self, config: NoiseTraderConfig) -> NoiseTraders:
        """The same population with other settings (nothing per trader is stored): ids and counts go on."""
        new = NoiseTraders(config, self.instruments)
        new.next_id, new.orders_sent = self.next_id, self.orders_sent
        return new

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator) -> list:
        """Draw this tick's arrivals and send them; returns the exchange's events."""
        n = int(rng.poisson(self._rate)) if self._rate > 0.0 else 0
        if n == 0 or not self.instruments:
            return []
        # one batch of uniforms per tick: 6 per arrival (trader, symbol, side, kind, distance, size)
        u = rng.random(6 * n).tolist()
        events: list = []
        next_id = _arrivals(self, exchange, fair, u, n, self.next_id, events)
        self.orders_sent += n
        self.next_id = next_id
        return events


def _arrivals(noise: NoiseTraders, exchange, fair: dict[str, float], u: list, n: int, next_id: int,
              events: list) -> int:
    """Send the tick's `n` arrivals, drawn six uniforms each in `u`; returns the next order number.
    (A function of the module, not a method, so that noise_trader.pxd can give it C types.)"""
    submit = exchange.submit
    best_bid = exchange.best_bid
    best_ask = exchange.best_ask
    symbols = noise._symbols
    n_sym = len(symbols)
    last_sym = n_sym - 1
    cum = noise._cum_list
    p_market, p_aggr, aggr, passive, max_off, max_lots = noise._params
    log_q = noise._log_q
    owners = noise._owners
    count = len(owners)
    last_trader = count - 1
    log1p = math.log1p
    # (`k if k < cap else cap` below is min(k, cap) without the call: a few hundred thousand per run)
    for i in range(0, 6 * n, 6):  # six at a time, in draw order
        who, us, uside, ukind, uoff, usize = u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5]
        if cum is None:
            k = int(us * n_sym)
            sym, lot, tick_size = symbols[k if k < last_sym else last_sym]
        else:
            sym, lot, tick_size = symbols[bisect_right(cum, us)]
        buy = uside < 0.5
        side = _BUY if buy else _SELL
        if log_q == 0.0:
            qty = lot
        else:
            lots = 1 + int(log1p(-usize) / log_q)
            qty = (lots if lots < max_lots else max_lots) * lot
        oid = f"bg-n{next_id}"
        next_id += 1
        k = int(who * count)
        owner = owners[k if k < last_trader else last_trader]
        if ukind < p_market:
            events += submit(_tuple_new(SubmitOrder, (oid, owner, sym, side, qty, _MARKET, None, None, _IOC)))
            continue
        bid = best_bid(sym)
        ask = best_ask(sym)
        if ukind < p_aggr:  # cross the spread by up to `aggressive_bps`
            ref = ask if buy else bid
            if ref is None:
                ref = bid if buy else ask
            base = float(ref) if ref is not None else _fallback(exchange, sym, fair)
            off = uoff * aggr
            raw = base * (1.0 + off) if buy else base * (1.0 - off)
        else:  # rest an exponential distance behind the mid
            if bid is not None and ask is not None:
                base = (bid + ask) * 0.5
            elif bid is None and ask is None:
                base = _fallback(exchange, sym, fair)
            else:
                base = float(bid if bid is not None else ask)
            off = -log1p(-uoff) * passive
            if off > max_off:
                off = max_off
            raw = base * (1.0 - off) if buy else base * (1.0 + off)
        price = int(round(raw / tick_size)) * tick_size  # Instrument.round_to_tick, inlined
        if price < tick_size:
            price = tick_size
        events += submit(_tuple_new(SubmitOrder, (oid, owner, sym, side, qty, _LIMIT, price, None, _DAY)))
    return next_id


def _fallback(exchange, symbol: str, fair: dict[str, float]) -> float:
    """Reference price when the book is one-sided or empty: the last trade, else the public fundamental."""
    last = exchange.last_price(symbol)
    return float(last) if last is not None else fair[symbol]


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
