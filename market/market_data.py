"""Market-data value types: L2 depth, OHLCV bars per cycle, and read-only views of live orders.

All are immutable NamedTuples with integer prices (ticks) and quantities; VWAP is the only float
(a statistic). The exchange builds them on request from the books' running state.

Bars: one `Bar` per *completed* cycle and symbol, closed by `Exchange.end_cycle()`; the cycle in
progress is available separately as `Exchange.current_bar(symbol)`. A cycle without trades gives a
flat bar at the previous close with `volume == 0`, `trades == 0` and `vwap == close`; a symbol that has
never traded has no bars yet. The history is bounded (`Exchange(bar_history=...)`, default 1,000 per
symbol) so that snapshots stay small; the ledger is the place for full history.
"""
from __future__ import annotations

from typing import NamedTuple

from market.orders import OrderType, Side, TimeInForce


class Depth(NamedTuple):
    """Aggregated book levels, best first: each level is (price, total_qty, order_count)."""

    symbol: str
    bids: tuple[tuple[int, int, int], ...]
    asks: tuple[tuple[int, int, int], ...]


class Bar(NamedTuple):
    cycle: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    vwap: float
    trades: int


class RestingOrderView(NamedTuple):
    """A live order as callers see it: resting limit orders and untriggered stops.

    `qty` is the remaining open quantity, `filled_qty` what has traded so far; `triggered` is False
    only for a stop still waiting for its trigger.
    """

    order_id: str
    owner: str
    symbol: str
    side: Side
    price: int | None
    qty: int
    tif: TimeInForce
    order_type: OrderType
    stop_price: int | None
    filled_qty: int
    triggered: bool


class BarBuilder:
    """Running OHLCV/VWAP accumulators for the cycle in progress of one symbol (mutable, internal)."""

    __slots__ = ("open", "high", "low", "close", "volume", "notional", "trades")

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, close: int | None) -> None:
        self.open = self.high = self.low = self.close = close
        self.volume = 0
        self.notional = 0
        self.trades = 0

    def add(self, first: int, high: int, low: int, last: int, qty: int, notional: int, trades: int) -> None:
        """Fold one aggressive order's fills (first/high/low/last price, total qty and notional) in."""
        if self.trades == 0:
            self.open = first
            self.high = high
            self.low = low
        else:
            if high > self.high:
                self.high = high
            if low < self.low:
                self.low = low
        self.close = last
        self.volume += qty
        self.notional += notional
        self.trades += trades

    def bar(self, cycle: int) -> Bar | None:
        if self.close is None:
            return None
        if self.trades == 0:
            c = self.close
            return Bar(cycle, c, c, c, c, 0, float(c), 0)
        return Bar(cycle, self.open, self.high, self.low, self.close, self.volume, self.notional / self.volume, self.trades)

    def __getstate__(self):
        return (self.open, self.high, self.low, self.close, self.volume, self.notional, self.trades)

    def __setstate__(self, state) -> None:
        self.open, self.high, self.low, self.close, self.volume, self.notional, self.trades = state
