"""Reconciling a decision with the intents its loop staged (traders/llm/reconcile.py), as properties:
every declared order is sent; a staged order is sent only if the decision neither restates its symbol
and side nor contradicts it; a fallback sends nothing staged; nothing is sent twice."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from traders.decision import Action, Decision, ProposedOrder
from traders.llm.reconcile import reconcile

SYMBOLS = ("AAPL", "AMZN", "NVDA")
orders = st.builds(ProposedOrder, symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]),
                   qty=st.integers(1, 50), order_type=st.just("market"), tif=st.just("ioc"))
actions = st.dictionaries(st.sampled_from(SYMBOLS), st.sampled_from(list(Action)), max_size=3)


def _decision(declared, acts, mode="llm") -> Decision:
    merged = dict(acts)
    for o in declared:  # as parse_llm_output: an order implies its action unless one was stated
        merged.setdefault(o.symbol, Action.BUY if o.side == "buy" else Action.SELL)
    return Decision(trader="t", cycle=1, actions=merged, orders=tuple(declared), rationale="r", mode=mode,
                    fallback_reason="HTTP 500" if mode == "fallback" else None)


@settings(max_examples=300, deadline=None)
@given(declared=st.lists(orders, max_size=4), staged=st.lists(orders, max_size=4), acts=actions,
       cancels=st.lists(st.sampled_from(["o1", "o2", "o3"]), max_size=4))
def test_reconcile_sends_the_decision_and_only_what_it_leaves_open(declared, staged, acts, cancels):
    d = _decision(declared, acts)
    out = reconcile(d, staged, cancels)
    sent = list(out.decision.orders)
    assert sent[:len(declared)] == list(declared)  # every declared order, first, unchanged
    extra = sent[len(declared):]
    named = {(o.symbol, o.side) for o in declared}
    for o in extra:
        assert (o.symbol, o.side) not in named  # never the same symbol and side a second way
        assert d.actions.get(o.symbol) in (None, Action.BUY if o.side == "buy" else Action.SELL)
    assert len(extra) + len(out.dropped) == len(staged)  # each staged order is either sent or dropped, with why
    assert all(r["why"] for r in out.dropped)
    assert list(out.decision.cancel_order_ids) == list(dict.fromkeys(cancels))


@given(declared=st.lists(orders, max_size=3), staged=st.lists(orders, min_size=1, max_size=4))
def test_a_fallback_sends_nothing_staged_and_says_so(declared, staged):
    d = _decision(declared, {}, mode="fallback")
    out = reconcile(d, staged, ["o1"])
    assert out.decision == d and out.added == []
    assert len(out.dropped) == len(staged) + 1 and all("fell back" in r["why"] for r in out.dropped)


def test_the_issue_case_a_staged_order_declared_again_is_sent_once():
    buy = ProposedOrder(symbol="AMZN", side="buy", qty=20, order_type="market", tif="ioc")
    out = reconcile(_decision([buy], {}), [buy])
    assert out.decision.orders == (buy,) and out.added == [] and "sent once" in out.dropped[0]["why"]
