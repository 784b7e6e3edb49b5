"""The per-owner order index is built on first use and then kept exact as the books change."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from market.exchange import Exchange
from market.instruments import Instrument
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

INST = (Instrument("X", "x", 10000),)
OWNERS = ("a", "b", "c")

step = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(OWNERS), st.sampled_from(list(Side)),
              st.integers(9990, 10010), st.integers(1, 20), st.sampled_from([TimeInForce.GTC, TimeInForce.DAY])),
    st.tuples(st.just("stop"), st.sampled_from(OWNERS), st.sampled_from(list(Side)), st.integers(9990, 10010),
              st.integers(1, 20), st.just(TimeInForce.GTC)),
    st.tuples(st.just("cancel"), st.integers(0, 60)),
    st.tuples(st.just("modify"), st.integers(0, 60), st.integers(1, 25), st.integers(9990, 10010)),
    st.tuples(st.just("look"), st.sampled_from(OWNERS)),
    st.tuples(st.just("end_cycle"),),
)


def _views(ex: Exchange, owner: str) -> list[tuple]:
    return sorted((o.order_id, o.side, o.price, o.qty, o.order_type) for o in ex.open_orders(owner))


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=60))
def test_open_orders_stay_exact_when_asked_mid_stream(steps):
    ex = Exchange(INST)
    ids: list[tuple[str, str]] = []
    for s in steps:
        kind = s[0]
        if kind in ("limit", "stop"):
            _, owner, side, price, qty, tif = s
            oid = f"o{len(ids)}"
            ids.append((oid, owner))
            if kind == "limit":
                ex.submit(SubmitOrder(oid, owner, "X", side, qty, OrderType.LIMIT, price=price, tif=tif))
            else:
                ex.submit(SubmitOrder(oid, owner, "X", side, qty, OrderType.STOP, stop_price=price, tif=tif))
        elif kind == "cancel" and ids:
            oid, owner = ids[s[1] % len(ids)]
            ex.cancel(CancelOrder(oid, owner=owner))
        elif kind == "modify" and ids:
            oid, owner = ids[s[1] % len(ids)]
            ex.modify(ModifyOrder(oid, qty=s[2], price=s[3], owner=owner))
        elif kind == "look":
            ex.open_orders(s[1])  # builds (and from now on maintains) this owner's index
        elif kind == "end_cycle":
            ex.end_cycle()
        fresh = Exchange.restore(ex.snapshot())
        fresh._owners.clear()  # forget the indexes: the copy rebuilds each from the books on first use
        for owner in OWNERS:
            assert _views(ex, owner) == _views(fresh, owner)
