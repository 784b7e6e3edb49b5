"""Mutable bookkeeping records used inside the matching engine (never handed to callers).

Callers only ever see immutable events and `RestingOrderView`s. Inside the book, orders are small
mutable records so that a partial fill is one integer store instead of a new object.

- `Clock` is shared by every book of one exchange: the exchange-wide event sequence number and the
  simulation time (cycle, tick). Events read it; only the exchange moves time.
- an order record is a list (see `new_order`); its `QTY` slot is the *remaining* open quantity and
  0 marks a dead record (filled or cancelled) that may still sit in a level's deque until popped.
- `Level` is one price level: a FIFO deque of orders plus running totals of live quantity and count.

Records pickle compactly (lists, and `__reduce__` tuples for the classes); pickle's memo keeps the
sharing between a level's deque, the live-order index and the stop heaps intact.
"""
from __future__ import annotations

from collections import deque

# The largest price (in ticks) or quantity the exchange accepts, in both engines: the compiled engine
# (market/_book_core.pyx) keeps them as 64-bit integers, and 10**12 leaves room for level totals and
# positions (sums of many of them) and for notionals (price * qty, kept in 128 bits there).
MAX_UNITS = 10**12

# values of an order record's STATE slot
PENDING_STOP = 0  # an untriggered STOP / STOP_LIMIT order waiting in the stop heaps
RESTING = 1  # a limit order resting in a price level
DONE = 2  # filled, cancelled or expired


class Clock:
    __slots__ = ("seq", "cycle", "tick")

    def __init__(self, seq: int = 1, cycle: int = 0, tick: int = 0) -> None:
        self.seq = seq
        self.cycle = cycle
        self.tick = tick

    def __reduce__(self):
        return (Clock, (self.seq, self.cycle, self.tick))


# An order record is a plain list (the cheapest mutable record to build on the hot path); these are
# its slots. `QTY` is the *remaining* open quantity; 0 marks a dead record. `TOTAL` is the filled plus
# the remaining quantity, so that a fill only has to touch `QTY` (filled = TOTAL - QTY); it changes only
# when a modify changes the quantity.
OID, OWNER, SYMBOL, SIDE, IS_BUY, OTYPE, TIF, PRICE, STOP, QTY, TOTAL, STATE, ARRIVAL = range(13)


def new_order(oid, owner, symbol, side, is_buy, otype, tif, price, stop, qty, total=None, state=RESTING,
              arrival=0) -> list:
    """A fresh order record: [oid, owner, symbol, side, is_buy, otype, tif, price, stop, qty, total, state, arrival].

    `price` is the limit price (None for MARKET / STOP), `stop` the trigger price (STOP / STOP_LIMIT),
    `arrival` the seq of the event that gave the order its current time priority.
    """
    return [oid, owner, symbol, side, is_buy, otype, tif, price, stop, qty, qty if total is None else total, state,
            arrival]


class Level:
    __slots__ = ("price", "q", "qty", "n")

    def __init__(self, price: int, q: deque | None = None, qty: int = 0, n: int = 0) -> None:
        self.price = price
        self.q = deque() if q is None else q
        self.qty = qty  # total live quantity at this price
        self.n = n  # number of live orders at this price

    def __reduce__(self):
        # dead records are dropped from the snapshot: they carry no state
        live = deque(o for o in self.q if o[QTY])
        return (Level, (self.price, live, self.qty, self.n))

    def compact(self) -> None:
        """Drop dead records once they outnumber the live ones (keeps cancel-heavy levels small)."""
        self.q = deque(o for o in self.q if o[QTY])
