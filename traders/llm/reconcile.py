"""One decision, one set of orders: the final decision and the intents staged by the tools, reconciled.

An LLM trader can express an order twice: staged with `place_order` during the loop, then declared
again in `submit_decision`. Sending both doubled the trader's orders (issue 15, defect 1). The rule here:

- the submitted decision is the final word. For every (symbol, side) its `orders` name, those orders are
  what is sent; a staged order on the same symbol and side is taken as restated by the decision and
  dropped, whatever its quantity or price (the declaration may have resized it);
- a staged order on a (symbol, side) the decision's orders do not name is added, unless the decision's
  action for that symbol contradicts it (HOLD, or the other side): the model changed its mind;
- staged cancellations join the decision's, each order id once;
- a fallback (the LLM failed, the rule decision stands in) discards everything the failed loop staged.

`reconcile` returns the orders to send and a record of what was merged or dropped, for the trace.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from traders.decision import Action, Decision, ProposedOrder


@dataclass
class Reconciled:
    decision: Decision
    added: list[dict[str, Any]] = field(default_factory=list)  # staged orders sent with the decision
    dropped: list[dict[str, Any]] = field(default_factory=list)  # staged orders not sent, each with `why`

    def trace(self) -> dict[str, Any]:
        return {"staged_added": self.added, "staged_dropped": self.dropped}


def _row(order: ProposedOrder, why: str | None = None) -> dict[str, Any]:
    out = order.model_dump(mode="json")
    if why:
        out["why"] = why
    return out


def reconcile(decision: Decision, staged_orders: Sequence[ProposedOrder],
              staged_cancels: Sequence[str] = ()) -> Reconciled:
    """The decision with the staged intents merged in (see the module docstring)."""
    if decision.mode == "fallback":
        dropped = [_row(o, "the LLM decision fell back: intents staged by the failed loop are discarded")
                   for o in staged_orders]
        dropped += [{"cancel_order_id": oid, "why": "the LLM decision fell back"} for oid in staged_cancels]
        return Reconciled(decision=decision, dropped=dropped)
    declared = {(o.symbol, o.side) for o in decision.orders}
    orders = list(decision.orders)
    actions = dict(decision.actions)
    out = Reconciled(decision=decision)
    for o in staged_orders:
        action = actions.get(o.symbol)
        wanted = Action.BUY if o.side == "buy" else Action.SELL
        if (o.symbol, o.side) in declared:
            out.dropped.append(_row(o, f"restated by the decision's own {o.side} order for {o.symbol}: sent once"))
        elif action is not None and action != wanted:
            out.dropped.append(_row(o, f"the decision says {action.value} {o.symbol}"))
        else:
            orders.append(o)
            actions.setdefault(o.symbol, wanted)
            out.added.append(_row(o))
    cancels = list(dict.fromkeys((*decision.cancel_order_ids, *staged_cancels)))
    if out.added or cancels != list(decision.cancel_order_ids):
        out.decision = decision.model_copy(update={"orders": tuple(orders), "actions": actions,
                                                   "cancel_order_ids": tuple(cancels)})
    return out
