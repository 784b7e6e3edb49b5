"""The compiled engine's C copies of `Exchange.open_qty`, `cancel`, `position`, `best_bid` and `best_ask`
(market/_book_core.pyx's `exchange_<name>`, installed by market/exchange.py like `exchange_submit`) against
the pure-Python methods they copy: the same results, the same events and the same errors, for live, done,
unknown and garbage order ids, owners and symbols, and on an exchange restored from a pure-engine snapshot
(whose tables the C copies hand back to the Python methods)."""
from __future__ import annotations

import random
from itertools import islice

import pytest

from market import book_engine
from market.exchange import Exchange, PurePythonExchange
from market.instruments import Instrument
from market.order_state import DONE, STATE, TIF
from market.orders import CancelOrder, OrderType, Side, SubmitOrder, TimeInForce

COMPILED = book_engine.COMPILED
pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled engine is not built here")
NAMES = ("open_qty", "cancel", "position", "best_bid", "best_ask")

if COMPILED is not None:
    class CompiledExchange(Exchange):
        """The exchange on the compiled engine even when TRADING_FLOOR_PURE_BOOK=1 chose the pure one."""

        _engine = COMPILED
        submit = COMPILED.exchange_submit
        open_qty, cancel, position, best_bid, best_ask = map(COMPILED.exchange_methods.__getitem__, NAMES)


class Sub(str):
    """A str subclass: never on the C fast path."""


class Anyone:
    """Equal to everything: the Python owner check accepts it."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class Angry:
    def __eq__(self, other):
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__


def instruments():
    return (Instrument("X", "x", 100), Instrument("LOT", "lots", 1000, tick_size=5, lot_size=10),
            Instrument("EMPTY", "nothing rests here", 50))


def orders() -> list:
    """Resting bids and asks, a fill (done orders), a pending stop, a DAY order that expires."""
    return [
        SubmitOrder("b1", "a", "X", Side.BUY, 5, OrderType.LIMIT, 99),
        SubmitOrder("b2", "b", "X", Side.BUY, 3, OrderType.LIMIT, 98),
        SubmitOrder("s1", "c", "X", Side.SELL, 4, OrderType.LIMIT, 101),
        SubmitOrder("s2", "a", "X", Side.SELL, 2, OrderType.LIMIT, 102),
        SubmitOrder("t1", "d", "X", Side.BUY, 4, OrderType.LIMIT, 101),  # fills s1 whole: t1 and s1 done
        SubmitOrder("st", "b", "X", Side.SELL, 2, OrderType.STOP, None, 90),  # a pending stop
        SubmitOrder("l1", "a", "LOT", Side.BUY, 20, OrderType.LIMIT, 995),
        SubmitOrder("l2", "c", "LOT", Side.SELL, 30, OrderType.LIMIT, 1005),
        SubmitOrder("d1", "d", "LOT", Side.BUY, 10, OrderType.LIMIT, 990, None, TimeInForce.DAY),
        SubmitOrder("i1", "b", "LOT", Side.SELL, 10, OrderType.LIMIT, 1010, None, TimeInForce.IOC),  # IOC: done
    ]


def pair(prepare=True):
    fast, pure = CompiledExchange(instruments()), PurePythonExchange(instruments())
    if prepare:
        for ex in (fast, pure):
            for cmd in orders():
                ex.submit(cmd)
            ex.end_cycle()  # d1 expires
    return fast, pure


def outcome(f, *args):
    """What a call gives: its result (events with their types), or its exception's type and message."""
    try:
        got = f(*args)
    except Exception as e:  # noqa: BLE001 - the errors must match too
        return ("raised", type(e), str(e))
    return ("returned", [(type(e), e) for e in got] if isinstance(got, list) else got)


IDS = ["b1", "b2", "s1", "s2", "t1", "st", "l1", "l2", "d1", "i1", "nope", "", Sub("b1"), None, 5, 5.0, b"b1",
       ("b1",), ["unhashable"], {"b1": 1}, Anyone(), Angry()]
OWNERS = ["a", "b", "c", "d", "zz", "", None, Sub("a"), 5, ["a"], Anyone(), Angry()]
SYMBOLS = ["X", "LOT", "EMPTY", "NOPE", "", Sub("X"), None, 5, ("X",), ["X"], Anyone()]


def test_the_compiled_methods_are_installed():
    assert set(COMPILED.exchange_methods) == set(NAMES)
    for name in NAMES:
        assert getattr(CompiledExchange, name) is COMPILED.exchange_methods[name]
        assert getattr(PurePythonExchange, name) is getattr(Exchange, f"_{name}_python")
        if book_engine.ACTIVE is COMPILED:
            assert getattr(Exchange, name) is COMPILED.exchange_methods[name]


def test_open_qty():
    fast, pure = pair()
    for oid in IDS:
        assert outcome(fast.open_qty, oid) == outcome(pure.open_qty, oid), oid
    assert fast.open_qty("b1") == 5 and fast.open_qty("t1") is None and fast.open_qty("st") == 2
    assert fast.open_qty("d1") is None and fast.open_qty("i1") is None and fast.open_qty(["x"]) is None


def test_reads_of_positions_and_quotes():
    fast, pure = pair()
    for sym in SYMBOLS:
        for read in ("best_bid", "best_ask"):
            assert outcome(getattr(fast, read), sym) == outcome(getattr(pure, read), sym), (read, sym)
        for owner in OWNERS:
            assert outcome(fast.position, owner, sym) == outcome(pure.position, owner, sym), (owner, sym)
    assert (fast.best_bid("X"), fast.best_ask("X"), fast.position("d", "X"), fast.position("c", "X")) == (99, 102, 4, -4)
    assert fast.best_bid("EMPTY") is None and fast.best_ask("NOPE") is None and fast.position("a", "NOPE") == 0


def test_a_position_read_by_keyword():
    fast, pure = pair()
    assert fast.position(owner="d", symbol="X") == pure.position(owner="d", symbol="X") == 4
    with pytest.raises(TypeError):
        fast.position("d")


@pytest.mark.parametrize("oid", IDS)
def test_cancel_of_every_kind_of_id_and_owner(oid):
    """Each (id, owner) on a fresh pair: same events (or error), then the same state."""
    for owner in OWNERS:
        fast, pure = pair()
        cmd = CancelOrder(oid, owner)
        assert outcome(fast.cancel, cmd) == outcome(pure.cancel, cmd), (oid, owner)
        assert seen(fast) == seen(pure), (oid, owner)


def test_cancels_of_malformed_commands():
    fast, pure = pair()
    bad = [("b1", "a"), ("b1",), "b1", None, 5, CancelOrder("b2"), tuple.__new__(CancelOrder, ("b1",)),
           tuple.__new__(CancelOrder, ("b1", "a", "extra")), tuple.__new__(CancelOrder, ()), ["b1", "a"]]
    for cmd in bad:
        assert outcome(fast.cancel, cmd) == outcome(pure.cancel, cmd), cmd
        assert seen(fast) == seen(pure), cmd


def test_cancel_twice_and_after_the_order_is_gone():
    fast, pure = pair()
    for cmd in [CancelOrder("b1", "a"), CancelOrder("b1", "a"), CancelOrder("st", "b"), CancelOrder("st"),
                CancelOrder("l2"), CancelOrder("s2", "b"), CancelOrder("s2", "a"), CancelOrder("l1", Sub("a"))]:
        assert outcome(fast.cancel, cmd) == outcome(pure.cancel, cmd), cmd
        assert seen(fast) == seen(pure), cmd
    assert fast.open_qty("b1") is None and fast.best_ask("X") is None and fast.best_bid("LOT") is None


def test_with_no_background_state_at_all():
    """An exchange with no orders: every read is empty, every cancel a rejection."""
    fast, pure = pair(prepare=False)
    for oid in IDS[:12]:
        assert outcome(fast.cancel, CancelOrder(oid, "a")) == outcome(pure.cancel, CancelOrder(oid, "a"))
        assert outcome(fast.open_qty, oid) == outcome(pure.open_qty, oid)
    for sym in SYMBOLS:
        assert outcome(fast.best_bid, sym) == outcome(pure.best_bid, sym)
        assert outcome(fast.position, "a", sym) == outcome(pure.position, "a", sym)


def test_a_restored_pure_engine_exchange_falls_back_to_the_python_methods():
    """An Exchange pickled by the pure engine restores with a dict of list records and pure books: the C
    copies find neither an IdTable nor compiled books and hand every call to the Python methods."""
    old = PurePythonExchange(instruments())
    for cmd in orders():
        old.submit(cmd)
    old.__class__ = CompiledExchange
    blob = old.snapshot()
    old.__class__ = PurePythonExchange
    restored = CompiledExchange.restore(blob)
    assert type(restored._ids) is dict and type(restored.book("X")) is book_engine.PYTHON.OrderBook
    for oid in IDS:
        assert outcome(restored.open_qty, oid) == outcome(old.open_qty, oid), oid
    for sym in SYMBOLS:
        assert outcome(restored.best_bid, sym) == outcome(old.best_bid, sym)
        assert outcome(restored.best_ask, sym) == outcome(old.best_ask, sym)
        for owner in OWNERS:
            assert outcome(restored.position, owner, sym) == outcome(old.position, owner, sym)
    for cmd in [CancelOrder("b1", "a"), CancelOrder("b2", "a"), CancelOrder("st"), CancelOrder("zz"), CancelOrder("s2", "a")]:
        assert outcome(restored.cancel, cmd) == outcome(old.cancel, cmd), cmd


def test_after_a_snapshot_and_restore():
    fast, pure = pair()
    fast, pure = CompiledExchange.restore(fast.snapshot()), PurePythonExchange.restore(pure.snapshot())
    for oid in IDS:
        assert outcome(fast.open_qty, oid) == outcome(pure.open_qty, oid), oid
        assert outcome(fast.cancel, CancelOrder(oid, "a")) == outcome(pure.cancel, CancelOrder(oid, "a")), oid
    assert seen(fast) == seen(pure)


def seen(ex) -> tuple:
    syms = ("X", "LOT", "EMPTY")
    return (ex.clock.seq, [ex.depth(s, 100) for s in syms], [ex.best_bid(s) for s in syms],
            [ex.best_ask(s) for s in syms], [ex.position(o, s) for o in "abcd" for s in syms],
            [ex.open_qty(i) for i in IDS[:10]], [ex.order(i) for i in IDS[:10]], ex.open_orders("a"))


def test_the_id_table_helpers_of_end_cycle_match_their_python_spelling():
    """`IdTable.live_since` and `IdTable.pop_first` (Exchange.end_cycle and _forget_old_ids on the compiled
    engine) against the Python loops they replace, on a dict holding the same entries: with holes left by
    pops, growth and compaction, None values, list records and compiled records, live and done."""
    from market._book_core import IdTable

    rng = random.Random(7)
    fast = CompiledExchange(instruments(), id_memory_cycles=None)
    for n in range(60):  # compiled records: resting (live), filled (done), DAY and GTC
        tif = TimeInForce.DAY if n % 3 else TimeInForce.GTC
        fast.submit(SubmitOrder(f"c{n}", "ab"[n % 2], "X", Side.BUY if n % 4 < 2 else Side.SELL, 1 + n % 3,
                                OrderType.LIMIT, 100 + (n % 5) - 2, None, tif))
    compiled = list(fast._ids.items())
    for _ in range(30):
        table, ref = IdTable(), {}
        for step in range(rng.randrange(1, 400)):
            r = rng.random()
            key = f"k{rng.randrange(300)}"
            if r < 0.6:
                state = rng.choice((0, 1, DONE))
                value = rng.choice((None, [key, 0, 0, 0, 0, 0, rng.choice(list(TimeInForce)), 0, 0, 0, 0, state, step]))
                table[key] = ref[key] = value
            elif r < 0.75:
                assert table.pop(key, "x") == ref.pop(key, "x")
            else:
                k, v = compiled[rng.randrange(len(compiled))]
                table[k] = ref[k] = v
            if rng.random() < 0.05:
                mark, tif = rng.randrange(len(ref) + 2), rng.choice(list(TimeInForce))
                want = [o for o in islice(ref.values(), mark, None) if o is not None and o[TIF] is tif and o[STATE] != DONE]
                assert table.live_since(mark, tif) == want
            if rng.random() < 0.03:
                count = rng.randrange(len(ref) + 2)
                want = []
                for oid in list(islice(ref, count)):
                    o = ref.pop(oid)
                    if o is not None and o[STATE] != DONE:
                        want.append((oid, o))
                assert table.pop_first(count) == want
            assert len(table) == len(ref)
        assert table.items() == list(ref.items()) and all(k in table for k in ref)
        assert table.live_since(0, TimeInForce.DAY) == [
            o for o in ref.values() if o is not None and o[TIF] is TimeInForce.DAY and o[STATE] != DONE]
        assert table.pop_first(len(ref) + 1) == [(k, o) for k, o in ref.items() if o is not None and o[STATE] != DONE]
        assert len(table) == 0 and list(table) == []
