"""The Exchange: one `OrderBook` per symbol, a shared clock and sequence, snapshots, market data.

Every public command returns a list of immutable events and never raises on bad order input: a
malformed command becomes an `OrderRejected` with a machine-readable `RejectReason` and a sentence
(rules in `market/validation.py`).
(`advance` with a negative or non-integer tick count and `restore` of a corrupt blob do raise
`ValueError`: those are programming errors of the runtime, not trader input.)

The books run on the matching engine `market/book_engine.py` picks: the compiled one when it is built,
else the pure-Python `market/book.py`; both give the same events. `PurePythonExchange` is this exchange
on the pure engine whatever is active (tests, bench). A snapshot restores in the engine that wrote it.

Conventions:
- prices and quantities above `MAX_UNITS` (10**12, market/order_state.py) are rejected (`invalid_price`,
  `invalid_quantity`) in both engines: the compiled engine holds them in 64-bit integers;
- event `seq` numbers strictly increase across the whole exchange and start at 1; trade ids are
  `"T{seq}"` of the trade event, so they are deterministic;
- client order ids must be unique: a submission reusing the id of an order that is still live, or that
  was accepted in the current cycle or the last `id_memory_cycles` completed cycles (default 5), is
  rejected `duplicate_order_id`. The window keeps snapshots from growing with the run's length (like a
  FIX session's ClOrdID uniqueness per trading day); `id_memory_cycles=None` remembers every id forever.
  A rejected submission does not use its id up;
- `position(owner, symbol)` is a cheap clearing counter: shares bought minus shares sold here;
- `snapshot()` pickles the whole exchange (books with priority order, stops, ids seen, sequence
  counters, tapes, bars, positions, clock, and the `background` object) and compresses it with zlib.
  `restore()` unpickles it: only restore blobs this program wrote (pickle runs code on load).
"""
from __future__ import annotations

import pickle
from collections import deque
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING

from market import book_engine
from market.compression import FAST_LEVEL, zlib
from market.events import OrderExpired, OrderRejected, RejectReason
from market.instruments import DEFAULT_UNIVERSE, Instrument
from market.market_data import Bar, Depth, RestingOrderView
from market.order_state import (
    ARRIVAL,
    DONE,
    MAX_UNITS,
    OID,
    OTYPE,
    OWNER,
    PENDING_STOP,
    PRICE,
    QTY,
    SIDE,
    STATE,
    STOP,
    SYMBOL,
    TIF,
    TOTAL,
)
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce
from market.validation import Rejection, as_int, lookup, text, validate_modify, validate_submit

if TYPE_CHECKING:  # the pure engine's class; the compiled one (market/_book_core.pyx) has the same interface
    from market.book import OrderBook

_MAGIC = b"TFX2"  # v2: record slot 10 holds the total (filled + open) quantity
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_DAY = TimeInForce.DAY
_BUY = Side.BUY
_INVALID_ORDER = RejectReason.INVALID_ORDER
_as_int, _text, _lookup = as_int, text, lookup
_arrival = itemgetter(ARRIVAL)  # the sort key of time priority, in C
# A NamedTuple's __new__ is Python code that ends in tuple.__new__(cls, fields): calling that directly
# builds the same event for a third of the cost (end_cycle makes one per expired DAY order).
_new_tuple = tuple.__new__


class Exchange:
    _engine = book_engine.ACTIVE  # the matching engine its books use (market/book_engine.py)

    def __init__(self, instruments=DEFAULT_UNIVERSE, *, background=None, tape_size: int = 500,
                 bar_history: int = 1000, id_memory_cycles: int | None = 5) -> None:
        if isinstance(instruments, dict):
            instruments = tuple(instruments.values())
        self.clock = self._engine.Clock()
        self.background = background
        self.instruments: dict[str, Instrument] = {}
        # order id -> record (or None): every id accepted in the memory window and every live order, in
        # order of acceptance (see OrderBook); an order is live while its record's STATE is not DONE
        self._ids = self._engine.IdTable()  # dict[str, record | None] (a dict-like table in the compiled engine)
        self._owners: dict[str, dict[str, list]] = {}
        self._id_memory = id_memory_cycles
        self._cycle_counts: deque[int] = deque()  # how many ids each of the last completed cycles added
        self._cycle_mark = 0  # len(self._ids) when the current cycle started
        self._tape_size = tape_size
        self._bar_history = bar_history
        self._books: dict = {}  # symbol -> OrderBook of the engine
        self._bars: dict[str, deque] = {}
        for inst in instruments:
            self.add_instrument(inst)

    # ----------------------------------------------------------------- clock
    @property
    def cycle(self) -> int:
        return self.clock.cycle

    @cycle.setter
    def cycle(self, value: int) -> None:
        self.clock.cycle = value

    @property
    def tick(self) -> int:
        return self.clock.tick

    @tick.setter
    def tick(self, value: int) -> None:
        self.clock.tick = value

    def add_instrument(self, instrument: Instrument) -> None:
        """List a new symbol (no-op if it is already listed)."""
        if instrument.symbol in self._books:
            return
        self.instruments[instrument.symbol] = instrument
        self._books[instrument.symbol] = book_engine.for_clock(self.clock).OrderBook(
            instrument, self.clock, self._ids, self._owners, tape_size=self._tape_size)
        self._bars[instrument.symbol] = deque(maxlen=self._bar_history)

    def advance(self, ticks: int) -> list:
        """Move time on `ticks` ticks; each tick lets the background market act once."""
        n = _as_int(ticks)
        if n is None or n < 0:
            raise ValueError(f"advance() needs a non-negative integer number of ticks, got {ticks!r}")
        events: list = []
        clk, bg = self.clock, self.background
        for _ in range(n):
            clk.tick += 1
            if bg is not None:
                events += bg.on_tick(self)
        return events

    def end_cycle(self) -> list:
        """Expire DAY orders (in order of time priority), close each symbol's bar, start the next cycle."""
        clk = self.clock
        events: list = []
        # Every live DAY order was accepted in this cycle (the last end_cycle expired the others), so it is
        # among the ids added since `_cycle_mark`: `_ids` is in order of acceptance and loses entries only
        # in `_forget_old_ids` (which counts on the same). Looking at those alone spares a pass over the
        # whole memory window of ids. (Without a window the mark stays 0: every id is looked at.)
        ids = self._ids
        if type(ids) is dict:
            recent = islice(ids.values(), self._cycle_mark, None)
            day = [o for o in recent if o is not None and o[TIF] is _DAY and o[STATE] != DONE]
        else:  # the compiled engine's IdTable makes the same list in C
            day = ids.live_since(self._cycle_mark, _DAY)
        day.sort(key=_arrival)  # in order of time priority
        books, add = self._books, events.append
        seq, cycle, tick = clk.seq, clk.cycle, clk.tick
        try:
            for o in day:
                sym = o[SYMBOL]
                rem = books[sym].remove_for_expiry(o)
                add(_new_tuple(OrderExpired, (seq, cycle, tick, o[OID], o[OWNER], sym, rem)))  # OrderExpired(...)
                seq += 1
        finally:
            clk.seq = seq
        for sym, book in self._books.items():
            bar = book.bar.bar(clk.cycle)
            if bar is not None:
                self._bars[sym].append(bar)
            book.bar.reset(book.last)
        self._forget_old_ids()
        clk.cycle += 1
        clk.tick = 0
        return events

    def _forget_old_ids(self) -> None:
        """Forget ids accepted more than `id_memory_cycles` cycles ago, unless their order is still live.

        `_ids` is in order of acceptance, so the ids of the oldest cycle are its first `count` keys; a
        live one is moved to the back and counts as accepted in the cycle that starts now.
        """
        if self._id_memory is None:
            return
        ids, counts = self._ids, self._cycle_counts
        counts.append(len(ids) - self._cycle_mark)
        keep = []
        while len(counts) > self._id_memory:
            if type(ids) is not dict:  # the compiled engine's IdTable does the loop below in C
                keep += ids.pop_first(counts.popleft())
                continue
            for oid in list(islice(ids, counts.popleft())):
                o = ids.pop(oid)
                if o is not None and o[STATE] != DONE:
                    keep.append((oid, o))
        self._cycle_mark = len(ids)
        ids.update(keep)

    # ----------------------------------------------------------------- commands
    def reject(self, order_id, owner, symbol, reason: RejectReason, message: str) -> OrderRejected:
        """Make (and number) a rejection event; also used by the replay for unreadable input lines."""
        clk = self.clock
        seq = clk.seq
        clk.seq = seq + 1
        return OrderRejected(seq, clk.cycle, clk.tick, _text(order_id), _text(owner), _text(symbol), reason, message)

    def submit(self, cmd: SubmitOrder) -> list:
        """Submit a new order; returns its events (an OrderRejected for any problem, never an exception)."""
        # Fast path: a well-formed LIMIT SubmitOrder with enum members and plain ints (the common case).
        if type(cmd) is SubmitOrder:
            oid, owner, symbol, side, qty, otype, price, stop, tif = cmd
            if (otype is _LIMIT and type(qty) is int and type(price) is int and type(oid) is str
                    and type(owner) is str and type(side) is Side and type(tif) is TimeInForce
                    and stop is None and oid and owner and 0 < qty <= MAX_UNITS and 0 < price <= MAX_UNITS):
                book = self._books.get(symbol) if type(symbol) is str else None
                if (book is not None and not qty % book.lot and not price % book.tick_size
                        and oid not in self._ids):
                    return book.submit_limit(oid, owner, side, side is _BUY, tif, price, qty)
        return self._submit_checked(cmd)

    _submit_python = submit
    if _engine.exchange_submit is not None:
        # The compiled engine carries a C copy of the fast path above: same checks, same result.
        submit = _engine.exchange_submit

    def _submit_checked(self, cmd) -> list:
        """Full validation of any submission; every problem becomes an OrderRejected."""
        # Fast path: a well-formed MARKET order (the noise traders send one in seven of their orders). The
        # same checks as `validate_submit` and `_too_big` make, for exact types, and the same call they lead to.
        if type(cmd) is SubmitOrder:
            oid, owner, symbol, side, qty, otype, price, stop, tif = cmd
            if (otype is _MARKET and type(qty) is int and type(oid) is str and type(owner) is str
                    and type(side) is Side and type(tif) is TimeInForce and price is None and stop is None
                    and oid and owner and 0 < qty <= MAX_UNITS):
                book = self._books.get(symbol) if type(symbol) is str else None
                if book is not None and not qty % book.lot and oid not in self._ids:
                    return book.submit_order(oid, owner, side, side is _BUY, otype, tif, None, None, qty)
        v = validate_submit(cmd, self._books, self._ids)
        if isinstance(v, Rejection):
            return [self.reject(*v)]
        too_big = _too_big(v.order_id, v.qty, v.price, v.stop_price)
        if too_big is not None:
            return [self.reject(v.order_id, v.owner, v.symbol, *too_big)]
        if v.order_type is _LIMIT:
            return v.book.submit_limit(v.order_id, v.owner, v.side, v.is_buy, v.tif, v.price, v.qty)
        return v.book.submit_order(v.order_id, v.owner, v.side, v.is_buy, v.order_type, v.tif, v.price,
                                   v.stop_price, v.qty)

    def _find(self, cmd, fields: int):
        """Unpack a cancel/modify command and find its live order: (order, values, rejection)."""
        if not isinstance(cmd, tuple) or len(cmd) != fields:
            return None, None, self.reject(getattr(cmd, "order_id", ""), getattr(cmd, "owner", ""), "",
                                           _INVALID_ORDER, f"not a cancel/modify command: {cmd!r:.80}")
        values = tuple(cmd)
        oid, owner = values[0], values[-1]
        o = _lookup(self._ids, oid)
        if o is None or o[STATE] == DONE:
            return None, None, self.reject(oid, owner, "", RejectReason.UNKNOWN_ORDER,
                                           f"there is no open order with id {oid!r}")
        if owner is not None and owner != o[OWNER]:
            return None, None, self.reject(oid, owner, o[SYMBOL], RejectReason.NOT_OWNER,
                                           f"order {oid} belongs to someone else, not to {owner!r}")
        return o, values, None

    def cancel(self, cmd: CancelOrder) -> list:
        if type(cmd) is CancelOrder:  # fast path: a live order cancelled by its owner (the makers' requotes)
            oid, owner = cmd
            try:
                o = self._ids.get(oid)
            except TypeError:  # unhashable garbage: `_find` rejects it
                o = None
            if o is not None and o[STATE] != DONE and (owner is None or owner == o[OWNER]):
                return [self._books[o[SYMBOL]].cancel(o)]
        o, _, rej = self._find(cmd, 2)
        if rej is not None:
            return [rej]
        return [self._books[o[SYMBOL]].cancel(o)]

    _cancel_python = cancel
    # The compiled engine carries a C copy of the fast path above; anything else it hands to `_cancel_python`.
    cancel = _engine.exchange_methods.get("cancel", cancel)

    def modify(self, cmd: ModifyOrder) -> list:
        o, values, rej = self._find(cmd, 4)
        if rej is not None:
            return [rej]
        _, qty, price, _owner = values
        sym = o[SYMBOL]
        v = validate_modify(o[OID], o[OWNER], sym, self.instruments[sym], o[QTY], o[PRICE], o[OTYPE], qty, price)
        if isinstance(v, Rejection):
            return [self.reject(*v)]
        too_big = _too_big(o[OID], v[0], v[1], None)
        if too_big is not None:
            return [self.reject(o[OID], o[OWNER], sym, *too_big)]
        return self._books[sym].modify(o, *v)

    # ----------------------------------------------------------------- halts (market/scenarios)
    halts: dict[str, str] = {}  # symbol -> reason; the class's empty dict until a first halt (never mutated)

    def halt(self, symbol: str, reason: str) -> None:
        """Halt trading in `symbol`: submits and modifies are refused (`trading_halted`) until `resume`;
        cancels are accepted and resting orders stay. While nothing is halted, `submit` is the plain fast
        path: the halt-aware one is installed on the instance only while some symbol is halted."""
        if symbol not in self._books:
            raise ValueError(f"cannot halt unknown symbol {symbol!r}")
        self.halts = {**self.halts, symbol: reason}
        self.__dict__["submit"] = self._submit_halted
        self.__dict__["modify"] = self._modify_halted

    def resume(self, symbol: str) -> None:
        """Resume trading in `symbol`: continuous trading goes on with the orders that rested through the halt."""
        halts = {s: r for s, r in self.halts.items() if s != symbol}
        self.halts = halts
        if not halts:
            self.__dict__.pop("submit", None)
            self.__dict__.pop("modify", None)

    def _halted(self, oid, owner, symbol) -> list | None:
        reason = self.halts.get(symbol) if type(symbol) is str else None
        if reason is None:
            return None
        return [self.reject(oid, owner, symbol, RejectReason.HALTED,
                            f"trading in {symbol} is halted ({reason}): orders are refused until it resumes")]

    def _submit_halted(self, cmd) -> list:
        if type(cmd) is SubmitOrder:
            refused = self._halted(cmd.order_id, cmd.owner, cmd.symbol)
            if refused is not None:
                return refused
        return type(self).submit(self, cmd)

    def _modify_halted(self, cmd) -> list:
        o = _lookup(self._ids, cmd[0]) if isinstance(cmd, tuple) and len(cmd) == 4 else None
        if o is not None and o[STATE] != DONE:
            refused = self._halted(o[OID], cmd[-1], o[SYMBOL])
            if refused is not None:
                return refused
        return type(self).modify(self, cmd)

    # ----------------------------------------------------------------- market data
    # The reads below are the background agents' hot path (hundreds of thousands of calls per thousand
    # cycles): each looks its book up inline, `_lookup` spelled out (None for an unknown or unhashable
    # symbol), which saves a Python call per read. On the compiled engine, `best_bid`, `best_ask`,
    # `open_qty` and `position` (and `cancel`, `submit`) are C copies of these methods
    # (market/_book_core.pyx's `exchange_<name>`): the Python ones, kept as `_<name>_python`, are the
    # specification, and the C ones hand them every case they do not handle themselves.
    def book(self, symbol: str) -> OrderBook | None:
        return _lookup(self._books, symbol)

    def best_bid(self, symbol: str) -> int | None:
        try:
            b = self._books[symbol]
        except (KeyError, TypeError):
            return None
        return b.best_bid()

    _best_bid_python = best_bid
    best_bid = _engine.exchange_methods.get("best_bid", best_bid)  # a C copy on the compiled engine

    def best_ask(self, symbol: str) -> int | None:
        try:
            b = self._books[symbol]
        except (KeyError, TypeError):
            return None
        return b.best_ask()

    _best_ask_python = best_ask
    best_ask = _engine.exchange_methods.get("best_ask", best_ask)  # likewise

    def mid(self, symbol: str) -> float | None:
        bid, ask = self.best_bid(symbol), self.best_ask(symbol)
        return None if bid is None or ask is None else (bid + ask) / 2

    def last_price(self, symbol: str) -> int | None:
        try:
            b = self._books[symbol]
        except (KeyError, TypeError):
            return None
        return b.last

    def depth(self, symbol: str, levels: int = 5) -> Depth:
        b = _lookup(self._books, symbol)
        n = _as_int(levels) or 0
        if b is None:
            return Depth(_text(symbol), (), ())
        return Depth(symbol, b.levels(True, n), b.levels(False, n))

    def trades(self, symbol: str | None = None, limit: int = 50) -> list:
        """The most recent trades, most recent last, of one symbol or of all (merged by seq).

        Each symbol keeps a bounded tape of its last `tape_size` trades (default 500); the all-symbol
        view merges those tapes, so it is exact for `limit <= tape_size`.
        """
        n = max(0, _as_int(limit) or 0)
        if symbol is None:
            tapes = [b.recent_trades(n) for b in self._books.values()]
            return sorted((t for tape in tapes for t in tape), key=_seq)[-n:] if n else []
        b = _lookup(self._books, symbol)
        return [] if b is None else b.recent_trades(n)

    def bars(self, symbol: str) -> list[Bar]:
        """Bars of completed cycles only (see `current_bar` for the cycle in progress)."""
        bars = _lookup(self._bars, symbol)
        return [] if bars is None else list(bars)

    def recent_bars(self, symbol: str, n: int) -> list[Bar]:
        """The last `n` bars of completed cycles, oldest first: `bars(symbol)[-n:]` for n >= 1, without
        copying the whole history (up to `bar_history` bars) to keep a few."""
        bars = _lookup(self._bars, symbol)
        if bars is None:
            return []
        if n >= len(bars):
            return list(bars)
        if n < 1:
            return self.bars(symbol)[-n:]  # what the slice gives for these (the whole history for 0)
        out = list(islice(reversed(bars), n))
        out.reverse()
        return out

    def current_bar(self, symbol: str) -> Bar | None:
        b = _lookup(self._books, symbol)
        return None if b is None else b.bar.bar(self.clock.cycle)

    def open_orders(self, owner: str) -> list[RestingOrderView]:
        """The owner's live orders (resting limits and untriggered stops), in order of time priority.

        The first call for an owner builds its index from `_ids` and registers it; the books keep a
        registered owner's index up to date (see `OrderBook`), so later calls are cheap.
        """
        by = _lookup(self._owners, owner)
        if by is None:
            if not isinstance(owner, str):
                return []
            mine = [o for o in self._ids.values() if o is not None and o[OWNER] == owner and o[STATE] != DONE]
            by = self._owners[owner] = {o[OID]: o for o in mine}
        out = sorted(by.values(), key=_arrival)
        return [_view(o) for o in out]

    def order(self, order_id: str) -> RestingOrderView | None:
        o = _lookup(self._ids, order_id)
        return None if o is None or o[STATE] == DONE else _view(o)

    def open_qty(self, order_id: str) -> int | None:
        """`order(order_id).qty` without building the view: the open quantity of a live order, None when
        no order with that id is live (a cheap read for the background agents' hot loops)."""
        try:
            o = self._ids.get(order_id)
        except TypeError:
            return None
        return None if o is None or o[STATE] == DONE else o[QTY]

    _open_qty_python = open_qty
    open_qty = _engine.exchange_methods.get("open_qty", open_qty)  # likewise

    def position(self, owner: str, symbol: str) -> int:
        try:
            b = self._books[symbol]
        except (KeyError, TypeError):
            return 0
        return b.position(owner) if isinstance(owner, str) else 0

    _position_python = position
    position = _engine.exchange_methods.get("position", position)  # likewise

    # ----------------------------------------------------------------- snapshots
    def __getstate__(self):
        """Records of done orders (left in `_ids` by market/IOC orders) are pickled as None: no state in them.

        The books leave the two shared tables (`_ids`, `_owners`) out of their own state; `__setstate__`
        hands them back."""
        state = self.__dict__.copy()
        state.pop("submit", None)  # the halt-aware methods (see `halt`): reinstalled from `halts` on load
        state.pop("modify", None)
        state["_ids"] = {oid: (o if o is not None and o[STATE] != DONE else None) for oid, o in self._ids.items()}
        state["_bars"] = {sym: (bars.maxlen, [tuple(b) for b in bars]) for sym, bars in self._bars.items()}
        return state

    def __setstate__(self, state) -> None:
        state["_bars"] = {sym: deque((Bar._make(b) for b in bars), maxlen=maxlen)
                          for sym, (maxlen, bars) in state["_bars"].items()}
        table = book_engine.for_clock(state["clock"]).IdTable
        if table is not dict:  # `_ids` is pickled as a plain dict (see __getstate__)
            state["_ids"] = table(state["_ids"])
        self.__dict__.update(state)
        for book in self._books.values():
            book.ids = self._ids
            book.owners = self._owners
        if self.halts:
            self.__dict__["submit"] = self._submit_halted
            self.__dict__["modify"] = self._modify_halted

    def snapshot(self) -> bytes:
        # the fast level (zlib's 1, zlib-ng's 2): level 6 costs twice the time for ~12% less size
        return _MAGIC + zlib.compress(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL), FAST_LEVEL)

    @classmethod
    def restore(cls, blob: bytes) -> Exchange:
        if not isinstance(blob, bytes | bytearray) or not blob.startswith(_MAGIC):
            raise ValueError("not an exchange snapshot")
        ex = pickle.loads(zlib.decompress(blob[len(_MAGIC):]))
        if not isinstance(ex, cls):
            raise ValueError("snapshot does not hold an Exchange")
        return ex


class PurePythonExchange(Exchange):
    """The same Exchange on the pure-Python engine, whichever engine is active (for tests and the bench)."""

    _engine = book_engine.PYTHON
    submit = Exchange._submit_python
    open_qty = Exchange._open_qty_python
    cancel = Exchange._cancel_python
    position = Exchange._position_python
    best_bid = Exchange._best_bid_python
    best_ask = Exchange._best_ask_python


def _too_big(oid, qty: int, price: int | None, stop: int | None) -> tuple[RejectReason, str] | None:
    """Quantities and prices above MAX_UNITS are refused (the compiled engine keeps them in 64 bits)."""
    if qty > MAX_UNITS:
        return RejectReason.INVALID_QUANTITY, f"order {oid}: quantity {qty} is above the largest allowed, {MAX_UNITS}"
    for p in (price, stop):
        if p is not None and p > MAX_UNITS:
            return RejectReason.INVALID_PRICE, f"order {oid}: price {p} is above the largest allowed, {MAX_UNITS} ticks"
    return None


def _seq(event) -> int:
    return event[0]


def _view(o: list) -> RestingOrderView:
    return RestingOrderView(o[OID], o[OWNER], o[SYMBOL], o[SIDE], o[PRICE], o[QTY], o[TIF], o[OTYPE], o[STOP],
                            o[TOTAL] - o[QTY], o[STATE] != PENDING_STOP)
