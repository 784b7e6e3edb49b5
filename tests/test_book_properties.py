"""Property tests over random order streams, checked after every step against a reference model.

The reference model is deliberately naive: a flat list of resting orders, sorted on every match by
(price priority, time of entry). The exchange must produce exactly the model's trades (same maker,
price and quantity, in order) and self-trade cancels, and the same resting book. Invariants checked
after every step: the book is never crossed; buys and sells filled are equal (positions sum to zero);
per order, filled + remaining + cancelled/expired == original (modifications accounted for); a
cancelled or expired order never fills again. Stops are exercised in a second property (invariants
only), and snapshot/restore equivalence in a third. Each property runs on every matching engine
available (market/book_engine.py); tests/test_book_engines.py compares the engines with each other.
"""
from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.book_engine import ENGINE
from market.events import (
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderModified,
    OrderRejected,
    TradeExecuted,
)
from market.exchange import Exchange, PurePythonExchange
from market.instruments import Instrument
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

SYM = "X"
OWNERS = ("a", "b", "c")
TIFS = (TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK)


class RefBook:
    """Naive price-time reference: resting = list of dicts; time of entry is a counter."""

    def __init__(self) -> None:
        self.resting: list[dict] = []
        self.t = 0

    def _take(self, oid, owner, side, price, qty):
        """Match; returns (trades [(maker_id, price, qty)], stp cancels [maker_id], remaining)."""
        def crosses(o):
            return price is None or (o["price"] <= price if side is Side.BUY else o["price"] >= price)

        opp = [o for o in self.resting if o["side"] is not side and crosses(o)]
        opp.sort(key=lambda o: (o["price"] if side is Side.BUY else -o["price"], o["t"]))
        trades, stp = [], []
        for o in opp:
            if not qty:
                break
            if o["owner"] == owner:
                stp.append(o["id"])
                self.resting.remove(o)
                continue
            f = min(qty, o["qty"])
            trades.append((o["id"], o["price"], f))
            qty -= f
            o["qty"] -= f
            if not o["qty"]:
                self.resting.remove(o)
        return trades, stp, qty

    def available(self, owner, side, price):
        return sum(o["qty"] for o in self.resting if o["side"] is not side and o["owner"] != owner
                   and (price is None or (o["price"] <= price if side is Side.BUY else o["price"] >= price)))

    def enter(self, oid, owner, side, price, qty, tif):
        trades, stp, rem = self._take(oid, owner, side, price, qty)
        if rem and price is not None and tif in (TimeInForce.GTC, TimeInForce.DAY):
            self.t += 1
            self.resting.append({"id": oid, "owner": owner, "side": side, "price": price, "qty": rem,
                                 "tif": tif, "t": self.t})
        return trades, stp

    def find(self, oid):
        return next((o for o in self.resting if o["id"] == oid), None)

    def levels(self, side):
        agg: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.resting:
            if o["side"] is side:
                agg[o["price"]][0] += o["qty"]
                agg[o["price"]][1] += 1
        prices = sorted(agg, reverse=side is Side.BUY)
        return tuple((p, agg[p][0], agg[p][1]) for p in prices)


submit_st = st.tuples(
    st.just("submit"), st.sampled_from(OWNERS), st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.LIMIT] * 4 + [OrderType.MARKET]), st.sampled_from(TIFS),
    st.integers(97, 103), st.integers(1, 12),
)
cancel_st = st.tuples(st.just("cancel"), st.integers(0, 80))
modify_st = st.tuples(st.just("modify"), st.integers(0, 80), st.one_of(st.none(), st.integers(1, 12)),
                      st.one_of(st.none(), st.integers(97, 103)))
end_st = st.tuples(st.just("end_cycle"))
actions_st = st.lists(st.one_of(submit_st, submit_st, submit_st, submit_st, cancel_st, modify_st, end_st),
                      min_size=15, max_size=80)


class Tracker:
    """Per-order accounting from the event stream, plus the invariants that need history."""

    def __init__(self) -> None:
        self.original: dict[str, int] = {}
        self.filled: dict[str, int] = defaultdict(int)
        self.closed: dict[str, int] = defaultdict(int)  # cancelled or expired quantity
        self.adjust: dict[str, int] = defaultdict(int)  # quantity removed (+) / added (-) by modifies
        self.dead: set[str] = set()

    def feed(self, ex: Exchange, events) -> None:
        for e in events:
            if isinstance(e, OrderAccepted):
                self.original[e.order_id] = e.qty
            elif isinstance(e, TradeExecuted):
                assert e.buy_order_id not in self.dead and e.sell_order_id not in self.dead, "dead order filled"
                assert e.qty > 0
                self.filled[e.buy_order_id] += e.qty
                self.filled[e.sell_order_id] += e.qty
            elif isinstance(e, OrderCancelled | OrderExpired):
                self.closed[e.order_id] += e.remaining_qty
                self.dead.add(e.order_id)
            elif isinstance(e, OrderModified):
                oid = e.order_id
                before = self.original[oid] - self.filled[oid] - self.closed[oid] - self.adjust[oid]
                self.adjust[oid] += before - e.qty

    def check(self, ex: Exchange) -> None:
        for oid, orig in self.original.items():
            view = ex.order(oid)
            remaining = view.qty if view else 0
            assert self.filled[oid] + remaining + self.closed[oid] + self.adjust[oid] == orig, oid
            if view is None:
                assert self.filled[oid] + self.closed[oid] + self.adjust[oid] == orig


def check_book(ex: Exchange) -> None:
    bid, ask = ex.best_bid(SYM), ex.best_ask(SYM)
    assert bid is None or ask is None or bid < ask, "crossed book"
    assert sum(ex.position(o, SYM) for o in OWNERS) == 0, "buys and sells filled differ"


ENGINES = [pytest.param(Exchange, id=ENGINE)] + ([pytest.param(PurePythonExchange, id="python")]
                                                 if ENGINE == "compiled" else [])
engines = pytest.mark.parametrize("cls", ENGINES)


def new_exchange(cls=Exchange) -> Exchange:
    return cls((Instrument(SYM, "x", 100),))


@engines
@settings(max_examples=300, deadline=None)
@given(actions_st)
def test_matches_reference_model_and_invariants(cls, actions):
    ex, ref, tr = new_exchange(cls), RefBook(), Tracker()
    ids: list[str] = []
    for n, act in enumerate(actions):
        kind = act[0]
        if kind == "submit":
            _, owner, side, otype, tif, price, qty = act
            oid = f"o{n}"
            ids.append(oid)
            px = price if otype is OrderType.LIMIT else None
            ev = ex.submit(SubmitOrder(oid, owner, SYM, side, qty, otype, px, None, tif))
            opp_empty = not any(o["side"] is not side for o in ref.resting)
            if otype is OrderType.MARKET and opp_empty:
                assert isinstance(ev[0], OrderRejected) and len(ev) == 1
                continue
            if tif is TimeInForce.FOK and ref.available(owner, side, px) < qty:
                want_trades, want_stp = [], []
            else:
                eff_tif = TimeInForce.IOC if otype is OrderType.MARKET else tif
                want_trades, want_stp = ref.enter(oid, owner, side, px, qty, eff_tif)
        elif kind == "cancel":
            if not ids:
                continue
            oid = ids[act[1] % len(ids)]
            ev = ex.cancel(CancelOrder(oid))
            o = ref.find(oid)
            if o is None:
                assert isinstance(ev[0], OrderRejected)
            else:
                assert ev[0].remaining_qty == o["qty"]
                ref.resting.remove(o)
            want_trades, want_stp = [], []
        elif kind == "modify":
            if not ids:
                continue
            _, i, qty, price = act
            oid = ids[i % len(ids)]
            ev = ex.modify(ModifyOrder(oid, qty, price))
            o = ref.find(oid)
            want_trades, want_stp = [], []
            if o is None or (qty is None and price is None):
                assert isinstance(ev[0], OrderRejected)
            else:
                new_qty = o["qty"] if qty is None else qty
                new_price = o["price"] if price is None else price
                keep = new_price == o["price"] and new_qty <= o["qty"]
                assert isinstance(ev[0], OrderModified) and ev[0].kept_priority is keep
                if keep:
                    o["qty"] = new_qty
                else:
                    ref.resting.remove(o)
                    want_trades, want_stp = ref.enter(oid, o["owner"], o["side"], new_price, new_qty, o["tif"])
        else:
            ev = ex.end_cycle()
            expired = [o["id"] for o in ref.resting if o["tif"] is TimeInForce.DAY]
            assert sorted(e.order_id for e in ev) == sorted(expired)
            ref.resting = [o for o in ref.resting if o["tif"] is not TimeInForce.DAY]
            want_trades, want_stp = [], []
        got_trades = [(e.sell_order_id if e.aggressor is Side.BUY else e.buy_order_id, e.price, e.qty)
                      for e in ev if isinstance(e, TradeExecuted)]
        got_stp = [e.order_id for e in ev if isinstance(e, OrderCancelled) and e.reason is CancelReason.SELF_TRADE]
        assert got_trades == want_trades
        assert got_stp == want_stp
        assert ex.depth(SYM, 100).bids == ref.levels(Side.BUY)
        assert ex.depth(SYM, 100).asks == ref.levels(Side.SELL)
        tr.feed(ex, ev)
        tr.check(ex)
        check_book(ex)


stop_submit_st = st.tuples(
    st.just("submit"), st.sampled_from(OWNERS), st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([OrderType.LIMIT] * 4 + [OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT]),
    st.sampled_from(TIFS), st.integers(97, 103), st.integers(97, 103), st.integers(1, 12),
)


@engines
@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(stop_submit_st, stop_submit_st, stop_submit_st, cancel_st, modify_st, end_st),
                min_size=15, max_size=80))
def test_invariants_with_stops(cls, actions):
    ex, tr = new_exchange(cls), Tracker()
    ids: list[str] = []
    seq = 0
    for n, act in enumerate(actions):
        if act[0] == "submit":
            _, owner, side, otype, tif, price, stop, qty = act
            oid = f"o{n}"
            ids.append(oid)
            px = price if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
            sp = stop if otype in (OrderType.STOP, OrderType.STOP_LIMIT) else None
            ev = ex.submit(SubmitOrder(oid, owner, SYM, side, qty, otype, px, sp, tif))
        elif act[0] == "cancel":
            if not ids:
                continue
            ev = ex.cancel(CancelOrder(ids[act[1] % len(ids)]))
        elif act[0] == "modify":
            if not ids:
                continue
            ev = ex.modify(ModifyOrder(ids[act[1] % len(ids)], act[2], act[3]))
        else:
            ev = ex.end_cycle()
        for e in ev:
            assert e.seq > seq
            seq = e.seq
        tr.feed(ex, ev)
        tr.check(ex)
        check_book(ex)
        for view in ex.open_orders("a") + ex.open_orders("b") + ex.open_orders("c"):
            assert view.qty > 0 and (view.triggered or view.stop_price is not None)


@engines
@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(stop_submit_st, stop_submit_st, cancel_st, modify_st, end_st), max_size=40),
       st.integers(0, 40))
def test_snapshot_restore_then_same_commands_give_same_events(cls, actions, cut):
    ex = new_exchange(cls)
    restored = None
    ids: list[str] = []
    for n, act in enumerate(actions):
        if n == cut:
            restored = cls.restore(ex.snapshot())
            assert type(restored) is cls and type(restored.book(SYM)) is type(ex.book(SYM))
        targets = [ex] if restored is None else [ex, restored]
        outputs = []
        for target in targets:
            if act[0] == "submit":
                _, owner, side, otype, tif, price, stop, qty = act
                px = price if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
                sp = stop if otype in (OrderType.STOP, OrderType.STOP_LIMIT) else None
                outputs.append(target.submit(SubmitOrder(f"o{n}", owner, SYM, side, qty, otype, px, sp, tif)))
            elif act[0] == "cancel":
                outputs.append(target.cancel(CancelOrder(ids[act[1] % len(ids)])) if ids else [])
            elif act[0] == "modify":
                outputs.append(target.modify(ModifyOrder(ids[act[1] % len(ids)], act[2], act[3])) if ids else [])
            else:
                outputs.append(target.end_cycle())
        if act[0] == "submit":
            ids.append(f"o{n}")
        if restored is not None:
            assert outputs[0] == outputs[1]
    if restored is not None:  # (snapshot bytes may differ: set order and pickle memo are not canonical)
        for a, b in ((ex, restored), (ex, cls.restore(restored.snapshot()))):
            assert a.depth(SYM, 100) == b.depth(SYM, 100)
            assert [a.open_orders(o) for o in OWNERS] == [b.open_orders(o) for o in OWNERS]
            assert [a.position(o, SYM) for o in OWNERS] == [b.position(o, SYM) for o in OWNERS]
            assert (a.cycle, a.tick, a.trades(limit=1000), a.bars(SYM)) == (b.cycle, b.tick, b.trades(limit=1000), b.bars(SYM))
            assert a.current_bar(SYM) == b.current_bar(SYM)
