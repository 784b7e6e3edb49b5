"""Value traders: each holds a persistent, noisy view of the fundamental and trades toward it.

Trader i's view of stock s is `fundamental_s * (1 + bias[i, s] + fresh noise)`; the bias is drawn once
(so traders disagree durably, which keeps two-sided interest), the fresh noise at each decision. The
view of the ETF is the basket NAV of the trader's component views, so value traders also lean against
ETF/basket dislocations. Arrivals are Poisson, vectorised like the noise traders.

On arrival a trader compares its view with the mid (or last trade) and sets a target position:
flat while the mispricing is within `threshold_bps`, growing linearly to +-`max_position_lots` at
`full_position_bps`. It then sends one DAY limit order toward the target (at most one clip of
`mean_lots`-sized geometric lots), priced at the view minus `edge_bps` to buy or plus it to sell:
marketable when the book is mispriced, otherwise resting liquidity near fair value that expires at the
cycle end. Targeting a position (instead of buying whenever cheap) keeps inventories bounded and
stationary, and the bias is an AR(1) that moves one step per decision (`view_bias_persistence`), so
no trader stays on one side forever over thousands of cycles.
"""
from __future__ import annotations

import math

import numpy as np

from market.background.config import ValueTraderConfig
from market.instruments import Instrument, InstrumentKind
from market.orders import OrderType, Side, SubmitOrder, TimeInForce

_BUY, _SELL = Side.BUY, Side.SELL
_LIMIT, _DAY = OrderType.LIMIT, TimeInForce.DAY
_ETF = InstrumentKind.ETF
_tuple_new = tuple.__new__  # builds a NamedTuple command from a full tuple of its fields, as its class would


class ValueTraders:
    def __init__(
        self, config: ValueTraderConfig, instruments: tuple[Instrument, ...], stocks: tuple[str, ...], rng
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.stocks = stocks
        # persistent view bias per trader and stock, as a fraction (float32 keeps the pickle small)
        self.bias = (rng.standard_normal((config.count, len(stocks))) * config.view_bias_bps * 1e-4).astype(
            np.float32
        )
        self.next_id = 0
        self.orders_sent = 0
        self._stock_pos = {s: k for k, s in enumerate(stocks)}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_stock_pos", None)  # derived from `stocks`: rebuilt on load
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._stock_pos = {s: k for k, s in enumerate(self.stocks)}

    def reconfigure(self, config: ValueTraderConfig, rng: np.random.Generator) -> None:
        """Other settings for the same traders (BackgroundMarket.reconfigure): the biases of the traders
        that stay are kept; traders added by a larger `count` draw theirs from `rng` (a stream of their
        own); traders beyond a smaller one retire."""
        old_count = self.bias.shape[0]
        if config.count < old_count:
            self.bias = self.bias[: config.count].copy()
        elif config.count > old_count:
            fresh = rng.standard_normal((config.count - old_count, len(self.stocks))) * config.view_bias_bps * 1e-4
            self.bias = np.vstack([self.bias, fresh.astype(np.float32)])
        self.config = config

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator) -> list:
        cfg = self.config
        n = int(rng.poisson(cfg.count * cfg.rate_per_tick)) if cfg.count else 0
        if n == 0 or not self.instruments:
            return []
        # the draws, in this order: trader, symbol, view noise, clip size, bias innovation (one each per
        # arrival); the scaling is done on Python floats in the same order of operations as on arrays
        # n scalar draws of `integers` give exactly the values (and leave exactly the generator state) of
        # one draw of size n: both fill through the same bounded-integer routine, one value after another
        # (tests/test_background_draws.py checks it), and a scalar call costs a third of a sized one
        integers, count, n_inst = rng.integers, cfg.count, len(self.instruments)
        who = [int(integers(0, count)) for _ in range(n)]
        sym_idx = [int(integers(0, n_inst)) for _ in range(n)]
        noise_bps = cfg.view_noise_bps
        noise = [z * noise_bps * 1e-4 for z in rng.standard_normal(n).tolist()]
        max_lots = cfg.max_lots
        lots = [x if x < max_lots else max_lots for x in rng.geometric(1.0 / cfg.mean_lots, n).tolist()]
        threshold = cfg.threshold_bps * 1e-4
        slope = 1.0 / max(cfg.full_position_bps * 1e-4 - threshold, 1e-12)
        edge = cfg.edge_bps * 1e-4
        phi = cfg.view_bias_persistence
        scale = math.sqrt(1.0 - phi * phi) * cfg.view_bias_bps * 1e-4
        innov = [z * scale for z in rng.standard_normal(n).tolist()]
        events: list = []
        next_id = _decide(self, exchange, fair, n, who, sym_idx, noise, lots, innov, threshold, slope, edge, phi,
                          cfg.max_position_lots, self.next_id, events)
        self.orders_sent += next_id - self.next_id
        self.next_id = next_id
        return events


def _decide(value: ValueTraders, exchange, fair: dict[str, float], n: int, who: list, sym_idx: list, noise: list,
            lots: list, innov: list, threshold: float, slope: float, edge: float, phi: float, max_position_lots: int,
            next_id: int, events: list) -> int:
    """The tick's `n` arrivals, with their draws: send each one's order; returns the next order number.
    (A function of the module, not a method, so that value_trader.pxd can give it C types.)"""
    stock_pos = value._stock_pos
    bias = value.bias
    stock_fair = None
    instruments = value.instruments
    best_bid, best_ask, position = exchange.best_bid, exchange.best_ask, exchange.position
    for k in range(n):
        inst = instruments[sym_idx[k]]
        sym = inst.symbol
        i = who[k]
        if inst.kind is _ETF:
            if stock_fair is None:
                stock_fair = np.array([fair[s] for s in value.stocks])
            views = stock_fair * (1.0 + bias[i])
            view = inst.nav(dict(zip(value.stocks, views.tolist(), strict=True)))
        else:
            j = stock_pos[sym]
            b = phi * float(bias[i, j]) + innov[k]
            bias[i, j] = b
            view = fair[sym] * (1.0 + b)
        view *= 1.0 + noise[k]
        bid = best_bid(sym)
        ask = best_ask(sym)
        if bid is not None and ask is not None:
            ref = (bid + ask) * 0.5
        else:
            last = exchange.last_price(sym)
            ref = float(last) if last is not None else fair[sym]
        gap = view / ref - 1.0
        lot = inst.lot_size
        cap = max_position_lots * lot
        excess = abs(gap) - threshold
        target = 0 if excess <= 0.0 else int(min(1.0, excess * slope) * cap) * (1 if gap > 0 else -1)
        owner = f"value:{i}"
        want = target - position(owner, sym)
        qty = min(lots[k] * lot, abs(want))
        qty -= qty % lot
        if qty <= 0:
            continue
        if want > 0:
            side, price = _BUY, inst.round_to_tick(view * (1.0 - edge))
        else:
            side, price = _SELL, inst.round_to_tick(view * (1.0 + edge))
        oid = f"bg-v{next_id}"
        next_id += 1
        events += exchange.submit(_tuple_new(SubmitOrder, (oid, owner, sym, side, qty, _LIMIT, price, None, _DAY)))
    return next_id


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
