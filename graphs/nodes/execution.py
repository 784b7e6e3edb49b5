"""Execution, the settle node's first stage (graphs/cycle_graph.py): cancels first, then orders reach the
exchange in a seeded-shuffle arrival order.

Each order first reserves its cash (buys) or shares (sells) in the ledger, so two orders can never
spend the same cash; a reservation the ledger refuses is recorded as a rejection and the order never
reaches the book. The arrival order is a shuffle seeded by (run seed, cycle): never "trader A first",
and the same on every re-run of the cycle.
"""
from __future__ import annotations

import random

from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.state import CycleState
from market.events import OrderRejected
from market.orders import CancelOrder, OrderType, Side, SubmitOrder, TimeInForce


def execution(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    work = floor.work
    cycle = work.cycle
    ledger, ex = floor.ledger, floor.exchange
    for c in state.get("cancels", []):
        events = work.journal.cancel(ex, CancelOrder(c["order_id"], owner=c["trader"]))
        work.events.extend(events)
        work.trace(c["trader"], "execution", "cancel", {"order_id": c["order_id"], "result": _kinds(events)})

    orders = [dict(o, order_id=f"{o['trader']}-c{cycle}-{i}") for i, o in enumerate(state.get("orders", []))]
    random.Random(f"{floor.seed()}:{cycle}:arrival").shuffle(orders)
    rejected = []
    for o in orders:
        cmd = _command(o, floor)
        cap = cmd.price if cmd.price is not None else _buy_cap(o, floor)
        rej = ledger.reserve(order_id=cmd.order_id, account=o["trader"], side=o["side"], symbol=o["symbol"],
                             qty=o["qty"], limit_price=cap, cycle=cycle)
        if rej is not None:
            rejected.append({"trader": o["trader"], "order": o, "reason": str(rej.code), "message": rej.message})
            work.orders.append({**o, "status": "rejected", "reason": str(rej.code), "detail": rej.message})
            work.trace(o["trader"], "execution", "rejected", {"order_id": cmd.order_id, "reason": str(rej.code),
                                                                "message": rej.message})
            continue
        events = work.journal.submit(ex, cmd)
        work.events.extend(events)
        refused = next((e for e in events if type(e) is OrderRejected), None)
        status = "rejected" if refused else "submitted"
        work.orders.append({**o, "status": status, "reason": refused and str(refused.reason),
                            "detail": refused and refused.message})
        work.trace(o["trader"], "execution", "order", {"order_id": cmd.order_id, "arrival": len(work.orders),
                                                      "result": _kinds(events)})
    return {"rejections": state.get("rejections", []) + rejected}


def _command(o: dict, floor) -> SubmitOrder:
    order_type = OrderType(o["order_type"])
    price = o.get("limit_price")
    if order_type is OrderType.STOP and o["side"] == "buy":
        # A plain stop buy could fill anywhere: cap it at the trader's collar so the cash reservation holds.
        order_type, price = OrderType.STOP_LIMIT, _buy_cap(o, floor)
    return SubmitOrder(
        order_id=o["order_id"], owner=o["trader"], symbol=o["symbol"], side=Side(o["side"]), qty=o["qty"],
        order_type=order_type, price=price, stop_price=o.get("stop_price"), tif=TimeInForce(o["tif"]),
    )


def _buy_cap(o: dict, floor) -> int:
    """The highest price an unpriced order may pay: the reference price plus the trader's collar."""
    inst = floor.by_symbol[o["symbol"]]
    ref = o.get("stop_price") or floor.exchange.best_ask(o["symbol"]) or floor.marks()[o["symbol"]]
    collar = floor.config.trader(o["trader"]).risk.max_relative_spread
    return inst.round_to_tick(ref * (1 + collar)) + inst.tick_size


def _kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]
