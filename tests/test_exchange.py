"""Exchange-level behaviour: validation and rejections, clock, market data, bars, snapshots."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.events import OrderAccepted, OrderRejected, RejectReason, TradeExecuted, event_to_dict
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE, Instrument
from market.market_data import Bar
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def ex() -> Exchange:
    return Exchange((Instrument("X", "x", 10000), Instrument("LOT", "lots", 5000, tick_size=5, lot_size=10)))


def lim(oid, side, qty, price, owner="a", symbol="X", tif=TimeInForce.GTC):
    return SubmitOrder(oid, owner, symbol, side, qty, OrderType.LIMIT, price, None, tif)


def rejection(events) -> OrderRejected:
    assert len(events) == 1 and isinstance(events[0], OrderRejected), events
    assert events[0].message and events[0].message[0].isalpha()  # a human sentence
    return events[0]


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        (lim("q0", BUY, 0, 10000), RejectReason.INVALID_QUANTITY),
        (lim("q1", BUY, -5, 10000), RejectReason.INVALID_QUANTITY),
        (lim("q2", BUY, 2.5, 10000), RejectReason.INVALID_QUANTITY),
        (lim("q3", BUY, "5", 10000), RejectReason.INVALID_QUANTITY),
        (lim("q4", BUY, True, 10000), RejectReason.INVALID_QUANTITY),
        (lim("lot", BUY, 15, 5000, symbol="LOT"), RejectReason.INVALID_QUANTITY),
        (lim("p1", BUY, 5, 100.5), RejectReason.INVALID_PRICE),
        (lim("p2", BUY, 5, "100"), RejectReason.INVALID_PRICE),
        (lim("p3", BUY, 5, 100.0), RejectReason.INVALID_PRICE),
        (lim("p4", BUY, 5, 0), RejectReason.INVALID_PRICE),
        (lim("p5", BUY, 5, -10), RejectReason.INVALID_PRICE),
        (lim("p6", BUY, 5, None), RejectReason.INVALID_PRICE),
        (lim("tick", BUY, 10, 5003, symbol="LOT"), RejectReason.OFF_TICK),
        (lim("sym", BUY, 5, 10000, symbol="NOPE"), RejectReason.UNKNOWN_SYMBOL),
        (lim("sym2", BUY, 5, 10000, symbol=["X"]), RejectReason.UNKNOWN_SYMBOL),
        (lim("side", "up", 5, 10000), RejectReason.INVALID_ORDER),
        (lim("", BUY, 5, 10000), RejectReason.INVALID_ORDER),
        (lim(None, BUY, 5, 10000), RejectReason.INVALID_ORDER),
        (lim("own", BUY, 5, 10000, owner=""), RejectReason.INVALID_ORDER),
        (lim("tif", BUY, 5, 10000, tif="forever"), RejectReason.INVALID_ORDER),
        (lim("tif2", BUY, 5, 10000, tif=[1]), RejectReason.INVALID_ORDER),
        (SubmitOrder("t", "a", "X", BUY, 5, "iceberg", 10000), RejectReason.INVALID_ORDER),
        (SubmitOrder("m", "a", "X", BUY, 5, OrderType.MARKET, 10000), RejectReason.INVALID_PRICE),
        (SubmitOrder("s", "a", "X", BUY, 5, OrderType.STOP, None, None), RejectReason.INVALID_PRICE),
        (SubmitOrder("s2", "a", "X", BUY, 5, OrderType.STOP, None, 99.5), RejectReason.INVALID_PRICE),
        (SubmitOrder("s3", "a", "LOT", BUY, 10, OrderType.STOP, None, 5001), RejectReason.OFF_TICK),
        (SubmitOrder("s4", "a", "X", BUY, 5, OrderType.LIMIT, 10000, 9000), RejectReason.INVALID_PRICE),
        ("not a command", RejectReason.INVALID_ORDER),
        (None, RejectReason.INVALID_ORDER),
        ((1, 2), RejectReason.INVALID_ORDER),
    ],
)
def test_bad_submissions_are_rejected_with_reason_never_raise(ex, cmd, reason):
    rej = rejection(ex.submit(cmd))
    assert rej.reason is reason
    assert isinstance(rej.order_id, str) and isinstance(rej.symbol, str)
    event_to_dict(rej)  # serialisable
    assert ex.depth("X").bids == () and ex.depth("LOT").bids == ()


def test_string_enums_and_lot_multiples_are_accepted(ex):
    ev = ex.submit(SubmitOrder("ok", "a", "LOT", "buy", 20, "limit", 5005, None, "day"))
    assert isinstance(ev[0], OrderAccepted)
    assert ev[0].side is BUY and ev[0].tif is TimeInForce.DAY and ev[0].order_type is OrderType.LIMIT


def test_duplicate_client_order_id_rejected_even_after_fill(ex):
    ex.submit(lim("o1", SELL, 5, 10000, owner="s"))
    assert rejection(ex.submit(lim("o1", BUY, 5, 9000))).reason is RejectReason.DUPLICATE_ORDER_ID
    ex.submit(lim("o2", BUY, 5, 10000, owner="b"))  # fills o1 completely
    assert rejection(ex.submit(lim("o1", SELL, 1, 10100))).reason is RejectReason.DUPLICATE_ORDER_ID
    # a rejected id is not used up
    rejection(ex.submit(lim("o3", SELL, 0, 10100)))
    assert isinstance(ex.submit(lim("o3", SELL, 1, 10100))[0], OrderAccepted)


def test_cancel_and_modify_rejections(ex):
    ex.submit(lim("o1", SELL, 5, 10000, owner="s"))
    assert rejection(ex.cancel(CancelOrder("nope"))).reason is RejectReason.UNKNOWN_ORDER
    assert rejection(ex.cancel(CancelOrder("o1", "mallory"))).reason is RejectReason.NOT_OWNER
    assert rejection(ex.cancel(CancelOrder(["unhashable"]))).reason is RejectReason.UNKNOWN_ORDER
    assert rejection(ex.cancel("o1")).reason is RejectReason.INVALID_ORDER
    assert rejection(ex.modify(ModifyOrder("nope", qty=1))).reason is RejectReason.UNKNOWN_ORDER
    assert rejection(ex.modify(ModifyOrder("o1", qty=1, owner="mallory"))).reason is RejectReason.NOT_OWNER
    assert rejection(ex.modify(ModifyOrder("o1", qty=0))).reason is RejectReason.INVALID_QUANTITY
    assert rejection(ex.modify(ModifyOrder("o1", qty=2.0))).reason is RejectReason.INVALID_QUANTITY
    assert rejection(ex.modify(ModifyOrder("o1", price=100.5))).reason is RejectReason.INVALID_PRICE
    assert rejection(ex.modify(ModifyOrder("o1"))).reason is RejectReason.INVALID_ORDER
    ex.submit(lim("l1", SELL, 10, 5000, owner="s", symbol="LOT"))
    assert rejection(ex.modify(ModifyOrder("l1", price=5001))).reason is RejectReason.OFF_TICK
    assert rejection(ex.modify(ModifyOrder("l1", qty=7))).reason is RejectReason.INVALID_QUANTITY
    assert ex.order("o1").qty == 5 and ex.order("l1").price == 5000  # nothing changed


def test_seq_strictly_increasing_and_trade_ids_deterministic(ex):
    events = []
    events += ex.submit(lim("s1", SELL, 5, 10000, owner="s"))
    events += ex.submit(lim("bad", SELL, 0, 10000, owner="s"))
    events += ex.submit(lim("b1", BUY, 2, 10000, owner="b"))
    events += ex.submit(lim("b2", BUY, 2, 10000, owner="b"))
    events += ex.end_cycle()
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 1
    assert [t.trade_id for t in events if isinstance(t, TradeExecuted)] == [
        f"T{t.seq}" for t in events if isinstance(t, TradeExecuted)]


class _StubBackground:
    """Places one resting order per tick and records the clock it saw."""

    def __init__(self):
        self.seen: list[tuple[int, int]] = []

    def on_tick(self, exchange):
        self.seen.append((exchange.cycle, exchange.tick))
        n = len(self.seen)
        return exchange.submit(lim(f"bg{n}", BUY, 1, 9000 + n, owner="bg"))


def test_advance_ticks_and_calls_background():
    bg = _StubBackground()
    ex = Exchange(background=bg)
    assert (ex.cycle, ex.tick) == (0, 0)
    events = ex.advance(3)
    assert bg.seen == [(0, 1), (0, 2), (0, 3)]
    assert [e.tick for e in events] == [1, 2, 3]
    ex.end_cycle()
    assert (ex.cycle, ex.tick) == (1, 0)
    assert Exchange().advance(5) == [] and Exchange().tick == 0
    with pytest.raises(ValueError):
        ex.advance(-1)


def test_market_data_quotes_depth_tape(ex):
    assert ex.mid("X") is None and ex.best_bid("NOPE") is None and ex.depth("NOPE").bids == ()
    ex.submit(lim("b1", BUY, 5, 9990, owner="p"))
    ex.submit(lim("b2", BUY, 3, 9990, owner="q"))
    ex.submit(lim("b3", BUY, 1, 9980, owner="q"))
    ex.submit(lim("s1", SELL, 4, 10010, owner="r"))
    assert ex.mid("X") == 10000.0
    d = ex.depth("X", levels=1)
    assert d.bids == ((9990, 8, 2),) and d.asks == ((10010, 4, 1),)
    assert ex.depth("X").bids == ((9990, 8, 2), (9980, 1, 1))
    for i in range(3):
        ex.submit(lim(f"t{i}", SELL, 1, 9990, owner="t"))
    tape = ex.trades("X", limit=2)
    assert [t.sell_order_id for t in tape] == ["t1", "t2"]  # most recent last
    assert len(ex.trades()) == 3 and ex.trades("NOPE") == []
    assert {v.order_id for v in ex.open_orders("q")} == {"b2", "b3"}
    assert ex.open_orders("nobody") == []


def test_tape_is_bounded_and_merged_across_symbols():
    ex = Exchange((Instrument("X", "x", 100), Instrument("Y", "y", 100)), tape_size=10)
    ex.submit(lim("s", SELL, 100, 100, owner="s"))
    ex.submit(lim("sy", SELL, 100, 100, owner="s", symbol="Y"))
    for i in range(30):
        ex.submit(lim(f"b{i}", BUY, 1, 100, owner="b", symbol="X" if i % 3 else "Y"))
    assert len(ex.trades("X", limit=1000)) == 10 and len(ex.trades("Y", limit=1000)) == 10
    assert ex.trades("X", limit=1)[0].buy_order_id == "b29"
    merged = ex.trades(limit=6)
    assert [t.buy_order_id for t in merged] == [f"b{i}" for i in range(24, 30)]  # most recent last, by seq
    assert ex.trades(limit=0) == [] and len(ex.trades(limit=1000)) == 20


def test_bars_per_cycle_with_vwap(ex):
    ex.submit(lim("s1", SELL, 10, 10000, owner="s"))
    ex.submit(lim("s2", SELL, 10, 10010, owner="s"))
    ex.submit(lim("b1", BUY, 15, 10010, owner="b"))  # 10 @ 10000, 5 @ 10010
    ex.submit(lim("s3", SELL, 1, 9000, owner="x"))  # no bid left: rests as the best ask
    ex.submit(lim("b2", BUY, 2, 10010, owner="c"))  # 1 @ 9000, 1 @ 10010
    cur = ex.current_bar("X")
    assert cur is not None and cur.volume == 17 and cur.cycle == 0
    assert ex.bars("X") == []  # only completed cycles
    ex.end_cycle()
    vwap = (10 * 10000 + 5 * 10010 + 1 * 9000 + 1 * 10010) / 17
    assert ex.bars("X") == [Bar(0, 10000, 10010, 9000, 10010, 17, vwap, 4)]
    ex.end_cycle()  # a cycle without trades: flat bar at the previous close
    assert ex.bars("X")[1] == Bar(1, 10010, 10010, 10010, 10010, 0, 10010.0, 0)
    assert ex.bars("LOT") == [] and ex.bars("NOPE") == []  # never traded: no bars


def test_snapshot_restore_is_exact(ex):
    ex.submit(lim("s1", SELL, 5, 10000, owner="s"))
    ex.submit(lim("s2", SELL, 5, 10000, owner="t"))
    ex.submit(SubmitOrder("st", "u", "X", SELL, 2, OrderType.STOP, None, 9990))
    ex.submit(lim("b1", BUY, 2, 10000, owner="b"))
    ex.submit(lim("d1", BUY, 1, 9990, owner="b", tif=TimeInForce.DAY))
    blob = ex.snapshot()
    assert isinstance(blob, bytes) and len(blob) < 5000
    copy = Exchange.restore(blob)
    script = [
        lambda e: e.submit(lim("b2", BUY, 6, 10000, owner="c")),
        lambda e: e.modify(ModifyOrder("s2", qty=1)),
        lambda e: e.submit(lim("x", SELL, 3, 9990, owner="v")),
        lambda e: e.end_cycle(),
        lambda e: e.submit(lim("s1", SELL, 1, 10000)),  # duplicate id must still be known
        lambda e: e.cancel(CancelOrder("st")),
    ]
    for step in script:
        assert step(ex) == step(copy)
    for e in (ex, copy):
        assert e.position("c", "X") == ex.position("c", "X")
    assert ex.depth("X") == copy.depth("X") and ex.bars("X") == copy.bars("X")
    assert ex.trades(limit=100) == copy.trades(limit=100)
    with pytest.raises(ValueError):
        Exchange.restore(b"garbage")


def test_default_universe_and_add_instrument():
    ex = Exchange()
    assert set(ex.instruments) == {i.symbol for i in DEFAULT_UNIVERSE}
    ex.add_instrument(Instrument("NEW", "new", 100))
    assert isinstance(ex.submit(lim("n", BUY, 1, 99, symbol="NEW"))[0], OrderAccepted)


def test_duplicate_ids_remembered_for_a_window_of_cycles_and_while_live():
    ex = Exchange((Instrument("X", "x", 100),), id_memory_cycles=2)
    ex.submit(lim("gone", SELL, 1, 100, owner="s"))
    ex.submit(lim("taker", BUY, 1, 100, owner="b"))  # "gone" and "taker" are done at once
    ex.submit(lim("live", SELL, 1, 200, owner="s"))  # GTC, stays live
    for _ in range(2):
        ex.end_cycle()
        assert rejection(ex.submit(lim("gone", SELL, 1, 300))).reason is RejectReason.DUPLICATE_ORDER_ID
    ex.end_cycle()  # accepted 3 completed cycles ago: forgotten
    assert isinstance(ex.submit(lim("gone", SELL, 1, 300))[0], OrderAccepted)
    for _ in range(5):
        ex.end_cycle()
    assert rejection(ex.submit(lim("live", SELL, 1, 300))).reason is RejectReason.DUPLICATE_ORDER_ID
    forever = Exchange((Instrument("X", "x", 100),), id_memory_cycles=None)
    forever.submit(lim("o", SELL, 1, 100))
    forever.cancel(CancelOrder("o"))
    for _ in range(20):
        forever.end_cycle()
    assert rejection(forever.submit(lim("o", SELL, 1, 100))).reason is RejectReason.DUPLICATE_ORDER_ID


junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 20000), st.floats(allow_nan=True), st.text(max_size=5),
                 st.lists(st.integers(), max_size=2), st.sampled_from(["buy", "sell", "X", "limit", "market", "stop",
                                                                        "gtc", "fok", Side.BUY, OrderType.STOP]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "cancel", "modify", "query"]), st.lists(junk, min_size=9,
                                                                                            max_size=9)), max_size=12))
def test_garbage_never_raises(calls):
    ex = Exchange((Instrument("X", "x", 100),))
    ex.submit(lim("o", SELL, 5, 100, owner="s"))
    for op, f in calls:
        if op == "submit":
            out = ex.submit(SubmitOrder(*f))
        elif op == "cancel":
            out = ex.cancel(CancelOrder(f[0], f[1]))
        elif op == "modify":
            out = ex.modify(ModifyOrder(f[0], f[1], f[2], f[3]))
        else:
            ex.depth(f[0], f[1]), ex.trades(f[0], f[1]), ex.position(f[0], f[1]), ex.order(f[0])
            ex.open_orders(f[0]), ex.best_bid(f[0]), ex.mid(f[0]), ex.last_price(f[0]), ex.bars(f[0])
            continue
        assert isinstance(out, list) and out
        for e in out:
            event_to_dict(e)
        bid, ask = ex.best_bid("X"), ex.best_ask("X")
        assert bid is None or ask is None or bid < ask


class _RandomBackground:
    """A seeded random order flow: its RNG state must ride along in the snapshot."""

    def __init__(self, seed: int):
        import random

        self.rng = random.Random(seed)
        self.n = 0

    def on_tick(self, exchange):
        events = []
        for _ in range(self.rng.randint(0, 4)):
            self.n += 1
            side = BUY if self.rng.random() < 0.5 else SELL
            events += exchange.submit(lim(f"r{self.n}", side, self.rng.randint(1, 5), self.rng.randint(95, 105),
                                          owner=f"bg{self.rng.randint(0, 3)}", tif=TimeInForce.DAY))
        return events


def test_snapshot_includes_background_state():
    ex = Exchange((Instrument("X", "x", 100),), background=_RandomBackground(42))
    for _ in range(3):
        ex.advance(20)
        ex.end_cycle()
    copy = Exchange.restore(ex.snapshot())
    a = ex.advance(30) + ex.end_cycle() + ex.advance(5)
    b = copy.advance(30) + copy.end_cycle() + copy.advance(5)
    assert a == b and any(isinstance(e, TradeExecuted) for e in a)
    assert copy.background is not ex.background
