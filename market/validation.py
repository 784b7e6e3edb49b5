"""Validation of order commands: every problem becomes a `Rejection` (reason + human sentence), never an
exception. Pure functions used by the `Exchange` slow path; the hot path for well-formed LIMIT orders
lives in `Exchange.submit` itself and falls back here for anything unusual.

Accepted spellings: sides, order types and times in force as enum members or their string values
("buy", "limit", "gtc"); prices and quantities as integers (Python or numpy); floats, strings and bools
are refused, even 100.0 or "100", because prices are integer ticks and quantities whole shares.
"""
from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

from market.events import RejectReason
from market.instruments import Instrument
from market.orders import OrderType, Side, TimeInForce

SIDES = {Side.BUY: (Side.BUY, True), Side.SELL: (Side.SELL, False)}
TYPES = {t: t for t in OrderType}
TIFS = {t: t for t in TimeInForce}
_LIMIT, _STOP, _STOP_LIMIT = OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT
_INVALID = RejectReason.INVALID_ORDER


class Rejection(NamedTuple):
    order_id: object
    owner: object
    symbol: object
    reason: RejectReason
    message: str


class ValidSubmit(NamedTuple):
    book: object  # the OrderBook of the symbol
    order_id: str
    owner: str
    symbol: str
    side: Side
    is_buy: bool
    order_type: OrderType
    tif: TimeInForce
    price: int | None
    stop_price: int | None
    qty: int


def as_int(x) -> int | None:
    """An integer value, or None for floats, strings, bools and anything else."""
    if type(x) is int:
        return x
    if isinstance(x, Integral) and not isinstance(x, bool):
        return int(x)
    return None


def text(x) -> str:
    """A string for an event field, whatever the caller sent."""
    return x if isinstance(x, str) else ("" if x is None else repr(x))


def lookup(table: dict, key):
    """`table.get(key)` that answers None for unhashable garbage instead of raising."""
    try:
        return table.get(key)
    except TypeError:
        return None


def check_price(inst: Instrument, price, what: str) -> tuple[int | None, tuple[RejectReason, str] | None]:
    p = as_int(price)
    if p is None or p <= 0:
        return None, (RejectReason.INVALID_PRICE, f"the {what} {price!r} must be a positive integer number of ticks")
    if p % inst.tick_size:
        return None, (RejectReason.OFF_TICK, f"the {what} {p} is not a multiple of the tick size {inst.tick_size}")
    return p, None


def _qty_problem(inst: Instrument, qty) -> tuple[int | None, str | None]:
    q = as_int(qty)
    if q is None or q <= 0 or q % inst.lot_size:
        return None, f"quantity {qty!r} must be a positive whole multiple of the lot size {inst.lot_size}"
    return q, None


def validate_submit(cmd, books: dict, seen: set) -> ValidSubmit | Rejection:
    if not (isinstance(cmd, tuple) and len(cmd) == 9):
        return Rejection(getattr(cmd, "order_id", ""), getattr(cmd, "owner", ""), getattr(cmd, "symbol", ""),
                         _INVALID, f"not an order submission: {cmd!r:.80}")
    oid, owner, symbol, side, qty, otype, price, stop, tif = cmd
    if type(oid) is not str or not oid:
        return Rejection(oid, owner, symbol, _INVALID, "the order id must be a non-empty string")
    if type(owner) is not str or not owner:
        return Rejection(oid, owner, symbol, _INVALID, f"order {oid}: the owner must be a non-empty string")
    book = lookup(books, symbol)
    if book is None:
        return Rejection(oid, owner, symbol, RejectReason.UNKNOWN_SYMBOL, f"order {oid}: {symbol!r} is not a listed symbol")
    if oid in seen:
        return Rejection(oid, owner, symbol, RejectReason.DUPLICATE_ORDER_ID,
                         f"order id {oid!r} has already been used on this exchange")
    sides, otype_, tif_ = lookup(SIDES, side), lookup(TYPES, otype), lookup(TIFS, tif)
    if sides is None or otype_ is None or tif_ is None:
        what = "side" if sides is None else "order type" if otype_ is None else "time in force"
        bad = side if sides is None else otype if otype_ is None else tif
        return Rejection(oid, owner, symbol, _INVALID, f"order {oid}: {bad!r} is not a valid {what}")
    inst = book.instrument
    q, problem = _qty_problem(inst, qty)
    if problem:
        return Rejection(oid, owner, symbol, RejectReason.INVALID_QUANTITY, f"order {oid}: {problem}")
    p = s = None
    if otype_ is _LIMIT or otype_ is _STOP_LIMIT:
        p, bad = check_price(inst, price, "limit price")
        if bad:
            return Rejection(oid, owner, symbol, bad[0], f"order {oid}: {bad[1]}")
    elif price is not None:
        return Rejection(oid, owner, symbol, RejectReason.INVALID_PRICE,
                         f"order {oid}: a {otype_.value} order takes no limit price (got {price!r})")
    if otype_ is _STOP or otype_ is _STOP_LIMIT:
        s, bad = check_price(inst, stop, "stop price")
        if bad:
            return Rejection(oid, owner, symbol, bad[0], f"order {oid}: {bad[1]}")
    elif stop is not None:
        return Rejection(oid, owner, symbol, RejectReason.INVALID_PRICE,
                         f"order {oid}: only stop orders take a stop price (got {stop!r})")
    return ValidSubmit(book, oid, owner, symbol, sides[0], sides[1], otype_, tif_, p, s, q)


def validate_modify(oid: str, owner: str, symbol: str, inst: Instrument, cur_qty: int, cur_price: int | None,
                    order_type: OrderType, qty, price) -> tuple[int, int | None] | Rejection:
    """New (remaining qty, limit price) for a live order, or a Rejection."""
    if qty is None and price is None:
        return Rejection(oid, owner, symbol, _INVALID, f"modify {oid}: nothing to change")
    new_qty = cur_qty
    if qty is not None:
        new_qty, problem = _qty_problem(inst, qty)
        if problem:
            return Rejection(oid, owner, symbol, RejectReason.INVALID_QUANTITY,
                             f"modify {oid}: {problem} (cancel the order to remove it)")
    new_price = cur_price
    if price is not None:
        if cur_price is None:
            return Rejection(oid, owner, symbol, RejectReason.INVALID_PRICE,
                             f"modify {oid}: a {order_type.value} order has no limit price to change")
        new_price, bad = check_price(inst, price, "limit price")
        if bad:
            return Rejection(oid, owner, symbol, bad[0], f"modify {oid}: {bad[1]}")
    return new_qty, new_price
