"""A scenario's fee change, applied by the Floor at the start of its cycle (before the first tick).

The scenario driver (market/) knows when the fee changes; the ledger (ledger/fee_schedule.py) knows what
each account can afford. At the start of cycle N, before the exchange advances, the market tick node asks
the driver for a fee change due at N and, when there is one, in one ledger transaction:

1. cancels the open buy orders some account could not afford at the new fee (the ledger's
   `orders_over_budget`: per account, newest first, until the rest fits): each is cancelled on the book
   through the cycle's journal (so replays cancel it too) and its reservation released at cycle N, with a
   trace `fee_change_cancel` (order, account, fee) on the trader's line;
2. records the change (`Ledger.change_fee(N, fee)`): from cycle N on, on this branch, every fill is
   charged the new fee, and the cash held for the remaining open buys is re-held at it.

The driver then fires the event at the cycle's first tick like any other (a headline, a `scenario_event`
trace, the event stream, MCP, the report and the UI). Cancelling rather than refusing the change keeps a
scenario run going whatever the traders hold; the cancellations are visible in the orders and traces.
"""
from __future__ import annotations

from market.orders import CancelOrder
from market.scenarios import driver_of


def apply_fee_change(floor, work, cycle: int) -> int | None:
    """Apply the fee change the scenario times for `cycle` (see the module's docstring); the new fee, or
    None when there is none."""
    driver = driver_of(floor.exchange) if floor.exchange is not None else None
    fee = driver.fee_change_due(cycle) if driver is not None else None
    if fee is None:
        return None
    ledger, ex = floor.ledger, floor.exchange
    with ledger.transaction():
        for order_id, account in ledger.orders_over_budget(fee):
            order = ex.order(order_id)
            if order is not None:
                work.events.extend(work.journal.cancel(ex, CancelOrder(order_id, owner=order.owner)))
            ledger.release(order_id, cycle=cycle)
            work.trace(account, "market_tick", "fee_change_cancel", {
                "order_id": order_id, "fee_bps": fee,
                "reason": f"its cash reservation cannot cover the fee of {fee} bps from cycle {cycle}",
            })
        ledger.change_fee(cycle, fee)
    return fee
