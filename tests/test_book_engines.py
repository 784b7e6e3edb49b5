"""The compiled matching engine against the pure-Python one: same events, event by event.

market/_book_core.pyx must behave exactly like market/book.py (see market/book_engine.py). Random command
streams, with every order type and time in force, cancels, modifies, cycle ends, look-ups that register
owners, odd but valid spellings (strings for enums, numpy integers), rejections, snapshots and restores,
go through both engines side by side; every event and the visible state after every step must be equal.
Also: the compiled engine's id table behaves like a dict, and in CI (`CI` set) the compiled engine must
have been built, so that a broken build cannot silently fall back to the slow engine.
"""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market import book_engine
from market.exchange import Exchange, PurePythonExchange
from market.instruments import Instrument
from market.order_state import MAX_UNITS
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

COMPILED = book_engine.COMPILED
needs_compiled = pytest.mark.skipif(COMPILED is None, reason="the compiled engine is not built here")
if COMPILED is not None:
    from market._book_core import IdTable

    from market.exchange import Exchange as _Exchange

    class CompiledExchange(_Exchange):
        """The exchange on the compiled engine even when TRADING_FLOOR_PURE_BOOK=1 chose the pure one."""

        _engine = COMPILED
        submit = COMPILED.exchange_submit
        # the hot reads and cancel in C too (market/_book_core.pyx's exchange_<name>)
        open_qty, cancel, position, best_bid, best_ask = map(
            COMPILED.exchange_methods.__getitem__, ("open_qty", "cancel", "position", "best_bid", "best_ask"))

SYMS = ("X", "LOT")
OWNERS = ("a", "b", "c", "d")


def instruments():
    return (Instrument("X", "x", 100), Instrument("LOT", "lots", 1000, tick_size=5, lot_size=10))


def pair(**kw):
    return CompiledExchange(instruments(), **kw), PurePythonExchange(instruments(), **kw)


def state(ex: Exchange) -> tuple:
    """Everything a caller can see of the exchange."""
    return (ex.clock.seq, ex.cycle, ex.tick,
            [ex.depth(s, 1000) for s in SYMS], [ex.best_bid(s) for s in SYMS], [ex.best_ask(s) for s in SYMS],
            [ex.last_price(s) for s in SYMS], [ex.trades(s, 1000) for s in SYMS], ex.trades(None, 1000),
            [ex.bars(s) for s in SYMS], [ex.current_bar(s) for s in SYMS],
            [ex.position(o, s) for o in OWNERS for s in SYMS])


def typed(events: list) -> list:
    return [(type(e), e) for e in events]


def run_step(ex: Exchange, n: int, step: tuple, ids: list) -> list:
    kind = step[0]
    if kind == "submit":
        _, dup, owner, sym, side, otype, tif, price, stop, qty, spelling = step
        oid = ids[dup % len(ids)] if dup >= 0 and ids else f"o{n}"  # reusing an id: a duplicate
        lot, tick = (10, 5) if sym == "LOT" else (1, 1)
        px = price * tick if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        sp = stop * tick if otype in (OrderType.STOP, OrderType.STOP_LIMIT) else None
        q = qty * lot
        if spelling == 1:  # string enums and numpy integers: the validated (slow) path
            side, otype, tif, q = side.value, otype.value, tif.value, np.int64(q)
        elif spelling == 2:  # above the largest accepted quantity: rejected
            q = MAX_UNITS + lot
        ids.append(oid)
        return ex.submit(SubmitOrder(oid, owner, sym, side, q, otype, px, sp, tif))
    if kind == "cancel":
        return ex.cancel(CancelOrder(ids[step[1] % len(ids)] if ids else "none", step[2]))
    if kind == "modify":
        _, i, qty, price, owner = step
        return ex.modify(ModifyOrder(ids[i % len(ids)] if ids else "none", qty, price, owner))
    if kind == "look":
        return [tuple(ex.open_orders(step[1])), ex.order(ids[step[2] % len(ids)] if ids else "none")]
    if kind == "advance":
        return ex.advance(step[1])
    return ex.end_cycle()


submit_st = st.tuples(
    st.just("submit"), st.sampled_from([-1] * 20 + [0, 1, 5]), st.sampled_from(OWNERS), st.sampled_from(SYMS),
    st.sampled_from(list(Side)),
    st.sampled_from([OrderType.LIMIT] * 5 + [OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT]),
    st.sampled_from(list(TimeInForce)), st.integers(96, 104), st.integers(96, 104), st.integers(1, 12),
    st.sampled_from([0] * 8 + [1, 2]),
)
step_st = st.one_of(
    submit_st, submit_st, submit_st, submit_st,
    st.tuples(st.just("cancel"), st.integers(0, 100), st.sampled_from([None, *OWNERS])),
    st.tuples(st.just("modify"), st.integers(0, 100), st.one_of(st.none(), st.integers(1, 15)),
              st.one_of(st.none(), st.integers(96, 104)), st.sampled_from([None, *OWNERS])),
    st.tuples(st.just("look"), st.sampled_from(OWNERS), st.integers(0, 100)),
    st.tuples(st.just("advance"), st.integers(0, 2)),
    st.tuples(st.just("end_cycle")),
)


@needs_compiled
@settings(max_examples=250, deadline=None)
@given(st.lists(step_st, min_size=30, max_size=120), st.one_of(st.none(), st.integers(0, 120)))
def test_same_events_and_state_as_the_pure_engine(steps, cut):
    fast, pure = pair(tape_size=7, id_memory_cycles=2)
    ids_f: list = []
    ids_p: list = []
    for n, step in enumerate(steps):
        if n == cut:  # continue on restored copies: a restore must be exact in either engine
            fast, pure = CompiledExchange.restore(fast.snapshot()), PurePythonExchange.restore(pure.snapshot())
        got, want = run_step(fast, n, step, ids_f), run_step(pure, n, step, ids_p)
        assert typed(got) == typed(want), step
        assert state(fast) == state(pure), step


@needs_compiled
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_random_stream_is_identical(seed):
    """Thousands of orders: deep books, level clean-ups, tape wrap-around, id-table growth and forgetting."""
    rng = random.Random(seed)
    fast, pure = pair(tape_size=50, id_memory_cycles=3)
    live: list[str] = []
    mid = 10_000
    for n in range(12_000):
        r = rng.random()
        owner = f"t{rng.randrange(30)}"
        if r < 0.62:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK))
            offset = rng.randint(-8, 25)
            price = mid - offset if side is Side.BUY else mid + offset
            cmd = SubmitOrder(f"o{n}", owner, "X", side, rng.randint(1, 40), OrderType.LIMIT, price, None, tif)
            live.append(cmd.order_id)
        elif r < 0.66:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            otype = rng.choice((OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT))
            stop = mid + rng.randint(-10, 10)
            px = stop + (3 if side is Side.BUY else -3) if otype is OrderType.STOP_LIMIT else None
            cmd = SubmitOrder(f"o{n}", owner, "X", side, rng.randint(1, 60), otype, px,
                              None if otype is OrderType.MARKET else stop, TimeInForce.GTC)
            live.append(cmd.order_id)
        elif r < 0.93 and live:
            cmd = CancelOrder(live.pop(rng.randrange(len(live))))
        elif r < 0.985 and live:
            cmd = ModifyOrder(rng.choice(live), rng.choice((None, rng.randint(1, 40))), mid + rng.randint(-10, 10))
        else:
            cmd = None
        if cmd is None:
            got, want = fast.end_cycle(), pure.end_cycle()
            mid += rng.randint(-5, 5)
            if rng.random() < 0.3:
                fast.open_orders(owner), pure.open_orders(owner)  # register an owner's index mid-stream
        elif isinstance(cmd, SubmitOrder):
            got, want = fast.submit(cmd), pure.submit(cmd)
        elif isinstance(cmd, CancelOrder):
            got, want = fast.cancel(cmd), pure.cancel(cmd)
        else:
            got, want = fast.modify(cmd), pure.modify(cmd)
        assert typed(got) == typed(want), (n, cmd)
        if n % 997 == 0:
            assert state(fast) == state(pure)
            assert [fast.open_orders(f"t{i}") for i in range(30)] == [pure.open_orders(f"t{i}") for i in range(30)]
    assert state(fast) == state(pure)


@needs_compiled
def test_huge_prices_and_quantities():
    """Up to MAX_UNITS each: notionals beyond 64 bits stay exact; anything above is rejected in both engines."""
    fast, pure = pair()
    big = MAX_UNITS
    cmds = [SubmitOrder("s1", "s", "X", Side.SELL, big, price=big), SubmitOrder("s2", "s", "X", Side.SELL, big, price=big),
            SubmitOrder("b1", "b", "X", Side.BUY, big, price=big), SubmitOrder("b2", "b", "X", Side.BUY, big, price=big),
            SubmitOrder("b3", "b", "X", Side.BUY, big + 1, price=big), SubmitOrder("b4", "b", "X", Side.BUY, 1, price=big + 1),
            SubmitOrder("b5", "b", "X", Side.BUY, 10**30, price=5), SubmitOrder("b6", "b", "X", Side.BUY, 1,
                                                                               OrderType.STOP, None, 2**70)]
    for cmd in cmds:
        assert typed(fast.submit(cmd)) == typed(pure.submit(cmd))
    fast.submit(SubmitOrder("r", "r", "X", Side.BUY, 5, price=90)), pure.submit(SubmitOrder("r", "r", "X", Side.BUY, 5, price=90))
    for m in (ModifyOrder("r", big + 1), ModifyOrder("r", None, 10**40), ModifyOrder("r", 3)):
        assert typed(fast.modify(m)) == typed(pure.modify(m))
    assert state(fast) == state(pure)
    assert fast.current_bar("X").vwap == big and fast.current_bar("X").volume == 2 * big


@needs_compiled
def test_a_pure_engine_snapshot_restores_and_runs_under_the_compiled_engine():
    """An Exchange pickled by the pure engine (say, a run from before the extension was built) still works."""
    old = PurePythonExchange(instruments())
    old.__class__ = Exchange  # as if written by `Exchange` while the pure engine was active
    blob = old.snapshot()
    old.__class__ = PurePythonExchange
    restored = Exchange.restore(blob)
    assert type(restored.book("X")) is book_engine.PYTHON.OrderBook and type(restored._ids) is dict
    restored.add_instrument(Instrument("NEW", "new", 50))
    assert type(restored.book("NEW")) is book_engine.PYTHON.OrderBook
    for n in range(40):
        cmd = SubmitOrder(f"o{n}", OWNERS[n % 4], "X", Side.BUY if n % 3 else Side.SELL, 1 + n % 5, price=98 + n % 5)
        assert typed(restored.submit(cmd)) == typed(old.submit(cmd))


ops = st.lists(st.tuples(st.sampled_from(["set", "pop", "get", "in", "update"]), st.text(max_size=3),
                         st.integers()), max_size=300)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(ops)
def test_id_table_behaves_like_a_dict(steps):
    table, ref = IdTable(), {}
    for op, key, value in steps:
        if op == "set":
            table[key] = value
            ref[key] = value
        elif op == "pop":
            assert table.pop(key, "missing") == ref.pop(key, "missing")
        elif op == "get":
            assert table.get(key) == ref.get(key)
        elif op == "in":
            assert (key in table) == (key in ref)
        else:
            more = [(f"{key}{i}", value + i) for i in range(value % 7)]
            table.update(more)
            ref.update(more)
        assert len(table) == len(ref)
    assert list(table) == list(ref) and table.values() == list(ref.values()) and table.items() == list(ref.items())
    assert IdTable(table).items() == table.items()
    with pytest.raises(TypeError):
        table.get(["unhashable"])
    assert table.get(5) is None and 5 not in table


def test_the_compiled_engine_is_built_in_ci():
    """CI installs from a clean clone: the extension must have compiled, else the slow engine hides a broken build."""
    if not os.environ.get("CI") or book_engine.PURE_REQUESTED:
        pytest.skip("only checked in CI (CI is set), unless TRADING_FLOOR_PURE_BOOK=1 asks for the pure engine")
    assert book_engine.ENGINE == "compiled", "market/_book_core.pyx was not compiled: see setup.py and the install log"
