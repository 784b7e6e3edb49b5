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

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator) -> list:
        """Draw this tick's arrivals and send them; returns the exchange's events."""
        cfg = self.config
        n = int(rng.poisson(self._rate)) if self._rate > 0.0 else 0
        if n == 0 or not self.instruments:
            return []
        # one batch of uniforms per tick: 6 per arrival (trader, symbol, side, kind, distance, size)
        u = rng.random(6 * n).tolist()
        events: list = []
        submit = exchange.submit
        insts = self.instruments
        n_sym = len(insts)
        cum = self._cum_list
        p_market = cfg.market_order_prob
        p_aggr = p_market + cfg.aggressive_limit_prob
        aggr = cfg.aggressive_bps * 1e-4
        passive = cfg.passive_offset_bps * 1e-4
        max_off = cfg.max_offset_bps * 1e-4
        log_q = self._log_q
        max_lots = cfg.max_lots
        count = cfg.count
        next_id = self.next_id
        for k in range(0, 6 * n, 6):
            who, us, uside, ukind, uoff, usize = u[k : k + 6]
            inst = insts[min(int(us * n_sym), n_sym - 1)] if cum is None else insts[bisect_right(cum, us)]
            sym = inst.symbol
            buy = uside < 0.5
            side = Side.BUY if buy else Side.SELL
            lots = 1 if log_q == 0.0 else min(1 + int(math.log1p(-usize) / log_q), max_lots)
            qty = lots * inst.lot_size
            oid = f"bg-n{next_id}"
            next_id += 1
            owner = f"noise:{min(int(who * count), count - 1)}"
            if ukind < p_market:
                events += submit(SubmitOrder(oid, owner, sym, side, qty, OrderType.MARKET, None, None, TimeInForce.IOC))
                continue
            bid = exchange.best_bid(sym)
            ask = exchange.best_ask(sym)
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
                off = min(-math.log1p(-uoff) * passive, max_off)
                raw = base * (1.0 - off) if buy else base * (1.0 + off)
            price = inst.round_to_tick(raw)
            events += submit(SubmitOrder(oid, owner, sym, side, qty, OrderType.LIMIT, price, None, TimeInForce.DAY))
        self.orders_sent += n
        self.next_id = next_id
        return events


def _fallback(exchange, symbol: str, fair: dict[str, float]) -> float:
    """Reference price when the book is one-sided or empty: the last trade, else the public fundamental."""
    last = exchange.last_price(symbol)
    return float(last) if last is not None else fair[symbol]
