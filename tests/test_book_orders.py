"""Unit tests of each order type, time in force and edge case, through the public Exchange API.

Every test runs on each matching engine available (market/book_engine.py): the compiled one when it is
built, and always the pure-Python one.
"""
from __future__ import annotations

import pytest

from market.book_engine import ENGINE
from market.events import (
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderModified,
    OrderRejected,
    RejectReason,
    StopTriggered,
    TradeExecuted,
)
from market.exchange import Exchange, PurePythonExchange
from market.instruments import Instrument
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

SYM = "X"
BUY, SELL = Side.BUY, Side.SELL


ENGINES = [pytest.param(Exchange, id=ENGINE)] + ([pytest.param(PurePythonExchange, id="python")]
                                                 if ENGINE == "compiled" else [])


@pytest.fixture(params=ENGINES)
def ex(request) -> Exchange:
    return request.param((Instrument(SYM, "test", 10000),))


def lim(oid, side, qty, price, owner="a", tif=TimeInForce.GTC):
    return SubmitOrder(oid, owner, SYM, side, qty, OrderType.LIMIT, price, None, tif)


def mkt(oid, side, qty, owner="z", tif=TimeInForce.IOC):
    return SubmitOrder(oid, owner, SYM, side, qty, OrderType.MARKET, None, None, tif)


def trades(events):
    return [(e.buy_order_id, e.sell_order_id, e.price, e.qty) for e in events if isinstance(e, TradeExecuted)]


def kinds(events):
    return [type(e).__name__ for e in events]


def test_limit_rests_then_matches_at_resting_price(ex):
    ev = ex.submit(lim("s1", SELL, 10, 10010, owner="s"))
    assert kinds(ev) == ["OrderAccepted"]
    assert ex.best_ask(SYM) == 10010 and ex.best_bid(SYM) is None
    ev = ex.submit(lim("b1", BUY, 4, 10020, owner="b"))
    assert trades(ev) == [("b1", "s1", 10010, 4)]  # price improvement goes to the aggressor
    t = ev[1]
    assert (t.buyer, t.seller, t.aggressor) == ("b", "s", BUY)
    assert ex.order("s1").qty == 6 and ex.order("s1").filled_qty == 4
    assert ex.order("b1") is None  # fully filled orders are gone
    assert ex.last_price(SYM) == 10010


def test_price_then_time_priority_across_levels(ex):
    ex.submit(lim("s1", SELL, 5, 10002, owner="p"))
    ex.submit(lim("s2", SELL, 5, 10001, owner="q"))
    ex.submit(lim("s3", SELL, 5, 10001, owner="r"))
    ev = ex.submit(lim("b", BUY, 12, 10002, owner="b"))
    assert trades(ev) == [("b", "s2", 10001, 5), ("b", "s3", 10001, 5), ("b", "s1", 10002, 2)]
    assert ex.depth(SYM).asks == ((10002, 3, 1),)


def test_partial_fill_remainder_rests(ex):
    ex.submit(lim("s1", SELL, 3, 10000, owner="s"))
    ev = ex.submit(lim("b1", BUY, 10, 10000, owner="b"))
    assert trades(ev) == [("b1", "s1", 10000, 3)]
    view = ex.order("b1")
    assert (view.qty, view.filled_qty, view.price) == (7, 3, 10000)
    assert ex.best_bid(SYM) == 10000 and ex.best_ask(SYM) is None


def test_market_order_walks_the_book_and_cancels_remainder(ex):
    ex.submit(lim("b1", BUY, 2, 9999, owner="p"))
    ex.submit(lim("b2", BUY, 2, 9998, owner="q"))
    ev = ex.submit(mkt("m", SELL, 5))
    assert trades(ev) == [("b1", "m", 9999, 2), ("b2", "m", 9998, 2)]
    assert isinstance(ev[-1], OrderCancelled)
    assert ev[-1].reason is CancelReason.IOC_REMAINDER and ev[-1].remaining_qty == 1
    assert ex.best_bid(SYM) is None and ex.order("m") is None


def test_market_order_against_empty_side_is_rejected_no_liquidity(ex):
    ex.submit(lim("b1", BUY, 2, 9999, owner="p"))  # only the same side has orders
    ev = ex.submit(mkt("m", BUY, 5))
    assert len(ev) == 1 and isinstance(ev[0], OrderRejected)
    assert ev[0].reason is RejectReason.NO_LIQUIDITY and "no sell orders" in ev[0].message
    # a rejected submission does not use its id up
    ex.submit(lim("s1", SELL, 1, 10000, owner="s"))
    assert trades(ex.submit(mkt("m", BUY, 1))) == [("m", "s1", 10000, 1)]


def test_ioc_fills_what_it_can_and_cancels_rest(ex):
    ex.submit(lim("s1", SELL, 3, 10000, owner="s"))
    ev = ex.submit(lim("i", BUY, 5, 10000, owner="b", tif=TimeInForce.IOC))
    assert trades(ev) == [("i", "s1", 10000, 3)]
    assert ev[-1].reason is CancelReason.IOC_REMAINDER and ev[-1].remaining_qty == 2
    ev = ex.submit(lim("i2", BUY, 5, 9000, owner="b", tif=TimeInForce.IOC))  # nothing crosses
    assert kinds(ev) == ["OrderAccepted", "OrderCancelled"] and ex.best_bid(SYM) is None


def test_fok_kills_whole_order_without_touching_book(ex):
    ex.submit(lim("s1", SELL, 3, 10000, owner="s"))
    ex.submit(lim("s2", SELL, 3, 10005, owner="s"))
    before = ex.depth(SYM)
    ev = ex.submit(lim("f", BUY, 7, 10005, owner="b", tif=TimeInForce.FOK))
    assert kinds(ev) == ["OrderAccepted", "OrderCancelled"]
    assert ev[1].reason is CancelReason.FOK_UNFILLABLE and ev[1].remaining_qty == 7
    assert ex.depth(SYM) == before
    ev = ex.submit(lim("f2", BUY, 6, 10005, owner="b", tif=TimeInForce.FOK))
    assert trades(ev) == [("f2", "s1", 10000, 3), ("f2", "s2", 10005, 3)]


def test_fok_does_not_count_own_orders(ex):
    ex.submit(lim("own", SELL, 5, 10000, owner="b"))
    ex.submit(lim("s", SELL, 2, 10000, owner="s"))
    ev = ex.submit(lim("f", BUY, 3, 10000, owner="b", tif=TimeInForce.FOK))
    assert ev[-1].reason is CancelReason.FOK_UNFILLABLE
    assert ex.order("own").qty == 5  # untouched


def test_market_fok(ex):
    ex.submit(lim("s1", SELL, 3, 10000, owner="s"))
    ev = ex.submit(mkt("m", BUY, 4, tif=TimeInForce.FOK))
    assert ev[-1].reason is CancelReason.FOK_UNFILLABLE and not trades(ev)
    assert trades(ex.submit(mkt("m2", BUY, 3, tif=TimeInForce.FOK))) == [("m2", "s1", 10000, 3)]


def test_self_trade_prevention_cancels_resting_and_continues(ex):
    ex.submit(lim("mine", SELL, 5, 10000, owner="a"))
    ex.submit(lim("other", SELL, 5, 10001, owner="o"))
    ev = ex.submit(lim("b", BUY, 3, 10001, owner="a"))
    assert isinstance(ev[1], OrderCancelled) and ev[1].order_id == "mine"
    assert ev[1].reason is CancelReason.SELF_TRADE and ev[1].remaining_qty == 5
    assert trades(ev) == [("b", "other", 10001, 3)]
    assert ex.order("mine") is None
    assert ex.position("a", SYM) == 3 and ex.position("o", SYM) == -3


def test_cancel_and_cancelled_order_never_fills(ex):
    ex.submit(lim("s1", SELL, 5, 10000, owner="s"))
    ex.submit(lim("s2", SELL, 5, 10000, owner="t"))
    ev = ex.cancel(CancelOrder("s1", "s"))
    assert isinstance(ev[0], OrderCancelled) and ev[0].reason is CancelReason.REQUESTED and ev[0].remaining_qty == 5
    ev = ex.submit(lim("b", BUY, 8, 10000, owner="b"))
    assert trades(ev) == [("b", "s2", 10000, 5)]
    assert ex.cancel(CancelOrder("s1"))[0].reason is RejectReason.UNKNOWN_ORDER


def test_modify_quantity_down_keeps_priority(ex):
    ex.submit(lim("s1", SELL, 5, 10000, owner="p"))
    ex.submit(lim("s2", SELL, 5, 10000, owner="q"))
    ev = ex.modify(ModifyOrder("s1", qty=2, owner="p"))
    assert isinstance(ev[0], OrderModified) and ev[0].kept_priority and ev[0].qty == 2
    assert ex.depth(SYM).asks == ((10000, 7, 2),)
    assert trades(ex.submit(lim("b", BUY, 3, 10000, owner="b"))) == [("b", "s1", 10000, 2), ("b", "s2", 10000, 1)]


def test_modify_quantity_up_loses_priority(ex):
    ex.submit(lim("s1", SELL, 5, 10000, owner="p"))
    ex.submit(lim("s2", SELL, 5, 10000, owner="q"))
    ev = ex.modify(ModifyOrder("s1", qty=6))
    assert not ev[0].kept_priority
    assert trades(ex.submit(lim("b", BUY, 6, 10000, owner="b"))) == [("b", "s2", 10000, 5), ("b", "s1", 10000, 1)]


def test_modify_price_loses_priority_and_can_cross(ex):
    ex.submit(lim("b1", BUY, 5, 9990, owner="b"))
    ex.submit(lim("s1", SELL, 5, 10010, owner="s"))
    ev = ex.modify(ModifyOrder("s1", price=9990, owner="s"))
    assert isinstance(ev[0], OrderModified) and not ev[0].kept_priority and ev[0].price == 9990
    assert trades(ev) == [("b1", "s1", 9990, 5)]
    assert ex.best_bid(SYM) is None and ex.best_ask(SYM) is None


def test_modify_same_price_explicit_keeps_priority(ex):
    ex.submit(lim("s1", SELL, 5, 10000, owner="p"))
    ex.submit(lim("s2", SELL, 5, 10000, owner="q"))
    assert ex.modify(ModifyOrder("s1", qty=4, price=10000))[0].kept_priority
    assert trades(ex.submit(lim("b", BUY, 1, 10000, owner="b"))) == [("b", "s1", 10000, 1)]


def test_day_orders_expire_at_cycle_end_gtc_stay(ex):
    ex.submit(lim("d", BUY, 5, 9990, tif=TimeInForce.DAY))
    ex.submit(lim("g", BUY, 5, 9980))
    ev = ex.end_cycle()
    assert [(type(e), e.order_id, e.remaining_qty) for e in ev] == [(OrderExpired, "d", 5)]
    assert ex.cycle == 1 and ex.tick == 0
    assert ex.order("d") is None and ex.order("g") is not None
    assert ex.depth(SYM).bids == ((9980, 5, 1),)


def test_stop_sell_triggers_on_last_trade_and_becomes_market(ex):
    ev = ex.submit(SubmitOrder("st", "a", SYM, SELL, 4, OrderType.STOP, None, 9950))
    assert kinds(ev) == ["OrderAccepted"]
    assert ex.order("st").triggered is False and ex.open_orders("a")[0].order_type is OrderType.STOP
    ex.submit(lim("b1", BUY, 1, 9950, owner="p"))
    ex.submit(lim("b2", BUY, 10, 9900, owner="q"))
    ev = ex.submit(lim("s", SELL, 1, 9950, owner="r"))  # trades at 9950: reaches the stop
    assert kinds(ev) == ["OrderAccepted", "TradeExecuted", "StopTriggered", "TradeExecuted"]
    st = ev[2]
    assert isinstance(st, StopTriggered) and (st.order_id, st.stop_price, st.last_price) == ("st", 9950, 9950)
    assert trades(ev)[1] == ("b2", "st", 9900, 4)
    assert ex.order("st") is None


def test_stop_does_not_trigger_before_price_reached(ex):
    ex.submit(SubmitOrder("st", "a", SYM, BUY, 2, OrderType.STOP, None, 10100))
    ex.submit(lim("s1", SELL, 5, 10050, owner="s"))
    ev = ex.submit(lim("b", BUY, 1, 10050, owner="b"))
    assert not any(isinstance(e, StopTriggered) for e in ev)
    assert ex.order("st").triggered is False


def test_stop_limit_becomes_resting_limit(ex):
    ex.submit(SubmitOrder("sl", "a", SYM, BUY, 3, OrderType.STOP_LIMIT, 10060, 10050))
    ex.submit(lim("s1", SELL, 1, 10050, owner="s"))
    ex.submit(lim("s2", SELL, 1, 10070, owner="s"))
    ev = ex.submit(lim("b", BUY, 1, 10050, owner="b"))
    assert any(isinstance(e, StopTriggered) for e in ev)
    view = ex.order("sl")
    assert view.triggered and view.price == 10060 and view.qty == 3  # 10070 is beyond its limit
    assert ex.best_bid(SYM) == 10060


def test_stop_already_through_triggers_on_arrival(ex):
    ex.submit(lim("b1", BUY, 5, 9900, owner="p"))
    ex.submit(lim("s1", SELL, 1, 9900, owner="q"))  # last = 9900
    ev = ex.submit(SubmitOrder("st", "a", SYM, SELL, 2, OrderType.STOP, None, 9950))
    assert kinds(ev) == ["OrderAccepted", "StopTriggered", "TradeExecuted"]


def test_triggered_stop_with_empty_side_is_cancelled_ioc(ex):
    ex.submit(SubmitOrder("st", "a", SYM, SELL, 2, OrderType.STOP, None, 10000))
    ex.submit(lim("b1", BUY, 1, 10000, owner="p"))
    ev = ex.submit(lim("s1", SELL, 1, 10000, owner="q"))
    assert kinds(ev)[-2:] == ["StopTriggered", "OrderCancelled"]
    assert ev[-1].reason is CancelReason.IOC_REMAINDER


def test_stop_cascade(ex):
    ex.submit(SubmitOrder("st1", "a", SYM, SELL, 1, OrderType.STOP, None, 9990))
    ex.submit(SubmitOrder("st2", "c", SYM, SELL, 1, OrderType.STOP, None, 9980))
    ex.submit(lim("b1", BUY, 1, 9990, owner="p"))
    ex.submit(lim("b2", BUY, 1, 9980, owner="p"))
    ex.submit(lim("b3", BUY, 1, 9970, owner="p"))
    ev = ex.submit(lim("s", SELL, 1, 9990, owner="q"))
    assert [e.order_id for e in ev if isinstance(e, StopTriggered)] == ["st1", "st2"]
    assert [t[2] for t in trades(ev)] == [9990, 9980, 9970]


def test_cancel_and_modify_pending_stop(ex):
    ex.submit(SubmitOrder("st", "a", SYM, SELL, 5, OrderType.STOP_LIMIT, 9900, 9950))
    assert ex.modify(ModifyOrder("st", qty=3))[0].kept_priority
    assert ex.modify(ModifyOrder("st", price=9800))[0].kept_priority is False
    assert ex.order("st").price == 9800
    ev = ex.cancel(CancelOrder("st", "a"))
    assert ev[0].remaining_qty == 3 and ex.order("st") is None
    ex.submit(lim("b1", BUY, 1, 9900, owner="p"))
    ev = ex.submit(lim("s", SELL, 1, 9900, owner="q"))
    assert not any(isinstance(e, StopTriggered) for e in ev)


def test_modify_stop_market_price_is_rejected(ex):
    ex.submit(SubmitOrder("st", "a", SYM, SELL, 5, OrderType.STOP, None, 9950))
    ev = ex.modify(ModifyOrder("st", price=9900))
    assert ev[0].reason is RejectReason.INVALID_PRICE


def test_positions_and_accepted_fields(ex):
    ev = ex.submit(lim("s1", SELL, 5, 10000, owner="s"))
    acc = ev[0]
    assert isinstance(acc, OrderAccepted)
    assert (acc.order_id, acc.owner, acc.symbol, acc.side, acc.order_type, acc.tif, acc.qty, acc.price) == (
        "s1", "s", SYM, SELL, OrderType.LIMIT, TimeInForce.GTC, 5, 10000)
    ex.submit(lim("b1", BUY, 3, 10000, owner="b"))
    assert ex.position("b", SYM) == 3 and ex.position("s", SYM) == -3 and ex.position("nobody", SYM) == 0


def test_sweep_stops_at_the_limit_price(ex):
    ex.submit(lim("s1", SELL, 2, 10000, owner="s"))
    ex.submit(lim("s2", SELL, 2, 10001, owner="s"))
    ev = ex.submit(lim("b", BUY, 5, 10000, owner="b"))
    assert trades(ev) == [("b", "s1", 10000, 2)]
    assert ex.depth(SYM).bids == ((10000, 3, 1),) and ex.depth(SYM).asks == ((10001, 2, 1),)


def test_stops_triggered_by_one_trade_run_in_arrival_order(ex):
    # arrival order A, B, C differs from stop-price order (B 9995, A 9990, C 9985)
    ex.submit(SubmitOrder("A", "a", SYM, SELL, 1, OrderType.STOP, None, 9990))
    ex.submit(SubmitOrder("B", "c", SYM, SELL, 1, OrderType.STOP, None, 9995))
    ex.submit(SubmitOrder("C", "d", SYM, SELL, 1, OrderType.STOP, None, 9985))
    ex.submit(lim("b1", BUY, 1, 9980, owner="p"))
    ex.submit(lim("b2", BUY, 5, 9970, owner="p"))
    ev = ex.submit(lim("s", SELL, 1, 9980, owner="q"))  # last 9980 reaches all three at once
    assert [e.order_id for e in ev if isinstance(e, StopTriggered)] == ["A", "B", "C"]
    assert [t[1] for t in trades(ev)] == ["s", "A", "B", "C"]
