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

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator) -> list:
        cfg = self.config
        n = int(rng.poisson(cfg.count * cfg.rate_per_tick)) if cfg.count else 0
        if n == 0 or not self.instruments:
            return []
        who = rng.integers(0, cfg.count, n).tolist()
        sym_idx = rng.integers(0, len(self.instruments), n).tolist()
        noise = (rng.standard_normal(n) * cfg.view_noise_bps * 1e-4).tolist()
        lots = np.minimum(rng.geometric(1.0 / cfg.mean_lots, n), cfg.max_lots).tolist()
        stock_fair = np.array([fair[s] for s in self.stocks])
        stock_pos = {s: k for k, s in enumerate(self.stocks)}
        threshold = cfg.threshold_bps * 1e-4
        slope = 1.0 / max(cfg.full_position_bps * 1e-4 - threshold, 1e-12)
        edge = cfg.edge_bps * 1e-4
        phi = cfg.view_bias_persistence
        innov = (rng.standard_normal(n) * (math.sqrt(1.0 - phi * phi) * cfg.view_bias_bps * 1e-4)).tolist()

        events: list = []
        sent = 0
        for k in range(n):
            inst = self.instruments[sym_idx[k]]
            sym = inst.symbol
            i = who[k]
            if inst.kind is InstrumentKind.ETF:
                views = stock_fair * (1.0 + self.bias[i])
                view = inst.nav(dict(zip(self.stocks, views.tolist(), strict=True)))
            else:
                j = stock_pos[sym]
                b = phi * float(self.bias[i, j]) + innov[k]
                self.bias[i, j] = b
                view = fair[sym] * (1.0 + b)
            view *= 1.0 + noise[k]
            bid = exchange.best_bid(sym)
            ask = exchange.best_ask(sym)
            if bid is not None and ask is not None:
                ref = (bid + ask) * 0.5
            else:
                last = exchange.last_price(sym)
                ref = float(last) if last is not None else fair[sym]
            gap = view / ref - 1.0
            cap = cfg.max_position_lots * inst.lot_size
            excess = abs(gap) - threshold
            target = 0 if excess <= 0.0 else int(min(1.0, excess * slope) * cap) * (1 if gap > 0 else -1)
            owner = f"value:{i}"
            pos = exchange.position(owner, sym)
            want = target - pos
            qty = min(lots[k] * inst.lot_size, abs(want))
            qty -= qty % inst.lot_size
            if qty <= 0:
                continue
            if want > 0:
                side, price = Side.BUY, inst.round_to_tick(view * (1.0 - edge))
            else:
                side, price = Side.SELL, inst.round_to_tick(view * (1.0 + edge))
            oid = f"bg-v{self.next_id}"
            self.next_id += 1
            sent += 1
            events += exchange.submit(SubmitOrder(oid, owner, sym, side, qty, OrderType.LIMIT, price, None, TimeInForce.DAY))
        self.orders_sent += sent
        return events
