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


PYTHON = Engine("python", book.OrderBook, order_state.Clock, dict, None)


def _load_compiled() -> Engine | None:
    try:
        from market import _book_core
    except ImportError:
        return None
    return Engine("compiled", _book_core.OrderBook, _book_core.Clock, _book_core.IdTable, _book_core.exchange_submit)


COMPILED = _load_compiled()
PURE_REQUESTED = os.environ.get("TRADING_FLOOR_PURE_BOOK", "").strip().lower() in ("1", "true", "yes")
ACTIVE = PYTHON if PURE_REQUESTED or COMPILED is None else COMPILED
ENGINE = ACTIVE.name


def for_clock(clock) -> Engine:
    """The engine whose books can share this exchange clock (the one that made it)."""
    if COMPILED is not None and type(clock) is COMPILED.Clock:
        return COMPILED
    return PYTHON
