"""Order vocabulary: sides, order types, time in force, and the commands a caller sends.

Commands are named in the imperative (SubmitOrder, CancelOrder, ModifyOrder). Prices are integer
ticks (cents by default) and quantities whole shares; nothing here is a float.
"""
from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP = "stop"  # becomes a market order when the last trade reaches stop_price
    STOP_LIMIT = "stop_limit"  # becomes a limit order at `price` when triggered


class TimeInForce(StrEnum):
    GTC = "gtc"  # good till cancelled
    DAY = "day"  # expires at the end of the cycle
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: fill all of it now, or none of it


class SubmitOrder(NamedTuple):
    """Ask the exchange to accept a new order. `order_id` is the client's id and must be unique."""

    order_id: str
    owner: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType = OrderType.LIMIT
    price: int | None = None  # limit price in ticks (LIMIT, STOP_LIMIT)
    stop_price: int | None = None  # trigger price in ticks (STOP, STOP_LIMIT)
    tif: TimeInForce = TimeInForce.GTC


class CancelOrder(NamedTuple):
    order_id: str
    owner: str | None = None  # when given, must match the order's owner


class ModifyOrder(NamedTuple):
    """Change a resting order. Reducing only the quantity keeps time priority; anything else loses it."""

    order_id: str
    qty: int | None = None
    price: int | None = None
    owner: str | None = None
