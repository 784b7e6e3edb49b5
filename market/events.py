"""Immutable market events, named in the past tense.

Every event carries the exchange-wide sequence number `seq` (its id, strictly increasing) and the
simulation time (`cycle`, `tick`) at which it happened. Events are NamedTuples: immutable, cheap
to create on the matching hot path, and easy to serialise with `event_to_dict`.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from market.orders import OrderType, Side, TimeInForce


class RejectReason(StrEnum):
    INVALID_QUANTITY = "invalid_quantity"  # zero, negative, not an integer, or not a multiple of the lot
    INVALID_PRICE = "invalid_price"  # missing, not an integer, or not positive
    OFF_TICK = "off_tick"  # not a multiple of the instrument's tick size
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ORDER = "unknown_order"  # cancel/modify of an id that is not resting
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    NOT_OWNER = "not_owner"  # cancel/modify by someone other than the order's owner
    INVALID_ORDER = "invalid_order"  # malformed command: bad side, type, time in force, ...
    NO_LIQUIDITY = "no_liquidity"  # market order against an empty opposite side
    HALTED = "trading_halted"  # the symbol's trading is halted (market/scenarios): orders are refused until it resumes


class CancelReason(StrEnum):
    REQUESTED = "requested"  # the owner asked
    SELF_TRADE = "self_trade"  # self-trade prevention
    IOC_REMAINDER = "ioc_remainder"  # unfilled part of an IOC or market order
    FOK_UNFILLABLE = "fok_unfillable"  # a FOK that could not fill completely


class OrderAccepted(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int
    price: int | None
    stop_price: int | None


class OrderRejected(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    reason: RejectReason
    message: str  # a human sentence


class TradeExecuted(NamedTuple):
    """A fill: one match between a resting (maker) order and an incoming (taker) order."""

    seq: int
    cycle: int
    tick: int
    trade_id: str
    symbol: str
    price: int
    qty: int
    buy_order_id: str
    sell_order_id: str
    buyer: str
    seller: str
    aggressor: Side  # the side of the incoming order


class OrderCancelled(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    remaining_qty: int
    reason: CancelReason


class OrderExpired(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    remaining_qty: int


class OrderModified(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    qty: int
    price: int | None
    kept_priority: bool


class StopTriggered(NamedTuple):
    seq: int
    cycle: int
    tick: int
    order_id: str
    owner: str
    symbol: str
    stop_price: int
    last_price: int


MarketEvent = (
    OrderAccepted | OrderRejected | TradeExecuted | OrderCancelled | OrderExpired | OrderModified | StopTriggered
)

EVENT_KINDS: dict[type, str] = {
    OrderAccepted: "order_accepted",
    OrderRejected: "order_rejected",
    TradeExecuted: "trade_executed",
    OrderCancelled: "order_cancelled",
    OrderExpired: "order_expired",
    OrderModified: "order_modified",
    StopTriggered: "stop_triggered",
}


def event_to_dict(event: MarketEvent) -> dict[str, Any]:
    """A JSON-ready dict: {"kind": ..., field: value, ...}; enums become their string values."""
    out: dict[str, Any] = {"kind": EVENT_KINDS[type(event)]}
    for key, value in zip(event._fields, event, strict=True):
        out[key] = value.value if isinstance(value, StrEnum) else value
    return out
