"""Which matching engine runs the order books: the compiled core, or the pure-Python book.

Two implementations of the same `OrderBook` exist, identical event for event:
- `market/_book_core.pyx`, compiled by setup.py with Cython when the package is installed (`make install`)
  and a C compiler is present: typed C-level records and levels, several times faster;
- `market/book.py` (with `market/stops.py` and `market/order_state.py`): pure Python, always available,
  and the readable specification of the behaviour.

`ENGINE` says which one the `Exchange` uses: "compiled", or "python" when the extension is not built or
the environment sets `TRADING_FLOOR_PURE_BOOK=1`. `ACTIVE` is that engine, `PYTHON` the pure one and
`COMPILED` the compiled one (None when it is not built). A snapshot restores only into the engine that
wrote it (a pure-Python snapshot also restores, and keeps running, while the compiled engine is active).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from market import book, order_state


class Engine(NamedTuple):
    name: str  # "compiled" or "python"
    OrderBook: type
    Clock: type
    IdTable: type  # the exchange-wide order id table: a dict, or the compiled engine's ordered table
    exchange_submit: Callable | None  # a compiled Exchange.submit (same behaviour), or None
    # compiled `Exchange` methods (same behaviour), name -> function: open_qty, cancel, position, best_bid,
    # best_ask; empty for the pure engine
    exchange_methods: dict[str, Callable] = {}


PYTHON = Engine("python", book.OrderBook, order_state.Clock, dict, None)


def _load_compiled() -> Engine | None:
    try:
        from market import _book_core
    except ImportError:
        return None
    methods = {name: getattr(_book_core, "exchange_" + name, None) for name in EXCHANGE_METHODS}
    if None in methods.values() or not hasattr(_book_core.IdTable, "pop_first"):
        return None  # built from an older market/_book_core.pyx: the pure engine runs until it is rebuilt
    return Engine("compiled", _book_core.OrderBook, _book_core.Clock, _book_core.IdTable, _book_core.exchange_submit,
                  methods)


# the Exchange methods the compiled engine carries in C besides `submit` (market/_book_core.pyx's
# `exchange_<name>`): the background market calls them about a thousand times a cycle
EXCHANGE_METHODS = ("open_qty", "cancel", "position", "best_bid", "best_ask")


COMPILED = _load_compiled()
PURE_REQUESTED = os.environ.get("TRADING_FLOOR_PURE_BOOK", "").strip().lower() in ("1", "true", "yes")
ACTIVE = PYTHON if PURE_REQUESTED or COMPILED is None else COMPILED
ENGINE = ACTIVE.name


def for_clock(clock) -> Engine:
    """The engine whose books can share this exchange clock (the one that made it)."""
    if COMPILED is not None and type(clock) is COMPILED.Clock:
        return COMPILED
    return PYTHON
