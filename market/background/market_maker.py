"""Market makers: ladders of GTC quotes around a private estimate, skewed by inventory, hard-limited.

Maker m's estimate of stock s is `fundamental_s * (1 + e[m, s])`, where the error e is an AR(1) process
(stationary std `estimate_noise_bps`, persistence `estimate_persistence`): makers are well informed but
not perfectly, and not identically. The ETF estimate is the basket NAV of the maker's own component
estimates, so ETF quotes track the NAV and an ETF/basket dislocation stays small but real.

The quote centre is shifted against inventory: `centre = estimate * (1 - skew * inventory / limit)`.
Bids and asks sit at least `half_spread` from the centre, `levels` deep, one grid step
(`level_spacing`, a whole number of ticks) apart. Prices snap to that grid, so a small move of the
centre leaves the ladder where it is. Sizes are cut so that even if every resting bid (ask) filled, the
position would stay within +-limit: the inventory limit is hard.

Each maker looks at each symbol every `quote_interval_ticks` (staggered) and requotes only when needed:
the target ladder moved on the grid, the inventory changed by `requote_inventory_lots`, a best quote
has been taken, or the quotes reached `max_quote_age_ticks`. A requote is a cancel/replace that keeps
the orders already at a target price (and their time priority) unless depleted below half size, so the
message rate, and the cost per tick, stay low. Quotes are GTC so that the books still hold liquidity
between cycles, when DAY orders have expired and the floor traders act.
"""
from __future__ import annotations

import math

import numpy as np

from market.background.config import MarketMakerConfig
from market.instruments import Instrument, InstrumentKind
from market.orders import CancelOrder, OrderType, Side, SubmitOrder, TimeInForce


class _Quote:
    """One maker's live ladder in one symbol: resting (price, order id) per side, best first."""

    __slots__ = ("centre", "inventory", "tick", "bids", "asks")

    def __init__(self) -> None:
        self.centre = math.nan
        self.inventory = 0
        self.tick = -(10**9)
        self.bids: list[tuple[int, str]] = []
        self.asks: list[tuple[int, str]] = []

    def __getstate__(self):
        return (self.centre, self.inventory, self.tick, self.bids, self.asks)

    def __setstate__(self, state) -> None:
        self.centre, self.inventory, self.tick, self.bids, self.asks = state


class MarketMakers:
    def __init__(
        self, config: MarketMakerConfig, instruments: tuple[Instrument, ...], stocks: tuple[str, ...], rng
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.stocks = stocks
        self.error = rng.standard_normal((config.count, len(stocks))) * config.estimate_noise_bps * 1e-4
        self.quotes = [[_Quote() for _ in instruments] for _ in range(config.count)]
        self.next_id = 0
        self.orders_sent = 0
        self.cancels_sent = 0

    def estimates(self, fair: dict[str, float]) -> list[dict[str, float]]:
        """Each maker's estimate per symbol (cents): noisy fundamentals, and the NAV of them for an ETF."""
        stock_fair = np.array([fair[s] for s in self.stocks])
        out = []
        for m in range(self.config.count):
            est = dict(zip(self.stocks, (stock_fair * (1.0 + self.error[m])).tolist(), strict=True))
            for inst in self.instruments:
                if inst.kind is InstrumentKind.ETF:
                    est[inst.symbol] = inst.nav(est)
            out.append(est)
        return out

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator, tick: int) -> list:
        cfg = self.config
        if cfg.count == 0:
            return []
        phi = cfg.estimate_persistence
        self.error = phi * self.error + math.sqrt(1.0 - phi * phi) * cfg.estimate_noise_bps * 1e-4 * (
            rng.standard_normal(self.error.shape)
        )
        events: list = []
        interval = cfg.quote_interval_ticks
        inv_trigger = cfg.requote_inventory_lots
        max_age = cfg.max_quote_age_ticks
        order = exchange.order
        for m, est in enumerate(self.estimates(fair)):
            owner = f"mm:{m}"
            for j, inst in enumerate(self.instruments):
                if (tick + m + j) % interval:  # staggered wake-ups spread the work over ticks
                    continue
                sym = inst.symbol
                q = self.quotes[m][j]
                inv = exchange.position(owner, sym)
                limit = cfg.inventory_limit_lots * inst.lot_size
                centre = est[sym] * (1.0 - cfg.skew_bps * 1e-4 * inv / limit)
                bids, asks = self._ladder(inst, centre)
                if (
                    q.bids
                    and q.asks
                    and bids
                    and q.bids[0][0] == bids[0]
                    and q.asks[0][0] == asks[0]
                    and abs(inv - q.inventory) < inv_trigger * inst.lot_size
                    and tick - q.tick < max_age
                    and order(q.bids[0][1]) is not None
                    and order(q.asks[0][1]) is not None
                ):
                    continue  # the ladder is where it should be
                events += self._requote(exchange, owner, inst, q, bids, asks, centre, inv, limit, tick)
        return events

    def _ladder(self, inst: Instrument, centre: float) -> tuple[list[int], list[int]]:
        """Target bid and ask prices, best first, on a grid of `spacing` so small moves keep levels."""
        cfg = self.config
        tick_size = inst.tick_size
        half = max(cfg.min_half_spread_ticks * tick_size, centre * cfg.half_spread_bps * 1e-4)
        step = max(cfg.min_level_spacing_ticks, round(centre * cfg.level_spacing_bps * 1e-4 / tick_size)) * tick_size
        best_bid = math.floor((centre - half) / step) * step
        best_ask = math.ceil((centre + half) / step) * step
        bids = [p for p in range(best_bid, best_bid - cfg.levels * step, -step) if p > 0]
        asks = list(range(best_ask, best_ask + cfg.levels * step, step))
        return bids, asks

    def _requote(
        self, exchange, owner, inst: Instrument, q: _Quote, target_bids, target_asks, centre, inv, limit, tick
    ) -> list:
        """Move the ladder to the target prices: keep orders already at a target price (and their time
        priority) unless they are depleted, cancel the rest, and fill the missing levels within the limit."""
        cfg = self.config
        events: list = []
        size = cfg.quote_lots * inst.lot_size
        lot = inst.lot_size
        refresh_age = tick - q.tick >= cfg.max_quote_age_ticks
        sym = inst.symbol
        sides = ((Side.BUY, target_bids, q.bids, limit - inv), (Side.SELL, target_asks, q.asks, limit + inv))
        kept_per_side: list[dict[int, tuple[str, int]]] = []
        for _side, target, book_side, _room in sides:  # cancel first, so a new bid never meets our old ask
            wanted = set(target)
            kept: dict[int, tuple[str, int]] = {}
            for price, oid in book_side:
                view = exchange.order(oid)
                if view is None:
                    continue
                if price in wanted and price not in kept and not refresh_age and view.qty * 2 >= size:
                    kept[price] = (oid, view.qty)
                else:
                    events += exchange.cancel(CancelOrder(oid, owner))
                    self.cancels_sent += 1
            kept_per_side.append(kept)
        for (side, target, book_side, room), kept in zip(sides, kept_per_side, strict=True):
            room -= sum(qty for _, qty in kept.values())  # resting size on this side counts against the limit
            ladder: list[tuple[int, str]] = []
            for price in target:
                if price in kept:
                    ladder.append((price, kept[price][0]))
                    continue
                qty = min(size, room)
                qty -= qty % lot
                if qty <= 0:
                    continue
                room -= qty
                oid = f"bg-m{self.next_id}"
                self.next_id += 1
                self.orders_sent += 1
                events += exchange.submit(SubmitOrder(oid, owner, sym, side, qty, OrderType.LIMIT, price, None, TimeInForce.GTC))
                ladder.append((price, oid))
            book_side[:] = ladder
        q.centre, q.inventory, q.tick = centre, inv, tick
        return events
