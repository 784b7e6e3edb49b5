"""Settlement, the settle node's second stage (graphs/cycle_graph.py): close the cycle, fills to the ledger,
marks, snapshots, traces, messages.

Everything the cycle produced is written in ONE ledger transaction together with the end-of-cycle
snapshot of the books, so a cycle is either wholly recorded or wholly absent.
"""
from __future__ import annotations

from itertools import compress
from operator import attrgetter

from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.state import CycleState
from market.events import OrderCancelled, OrderExpired, OrderRejected
from tools.cycle_feed import cycle_events

_CLOSED = (OrderCancelled, OrderExpired, OrderRejected)
_IS_CLOSED = frozenset(_CLOSED).__contains__
_QTY = attrgetter("qty")


def settle(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    work = floor.work
    cycle = work.cycle
    ledger, ex = floor.ledger, floor.exchange
    work.events.extend(work.journal.end_cycle(ex))
    traders = set(floor.trader_names)
    trades = work.trades()
    fills = floor.fill_rows(trades, cycle)  # the ledger's plain rows (`Ledger.settle_rows`), not Fills
    floor_trades = [t for t in trades if t.buyer in traders or t.seller in traders]
    # the cycle's ~600 events filtered by type in C (map/compress), then the few closed ones by owner
    closed = {e.order_id: e for e in compress(work.events, map(_IS_CLOSED, map(type, work.events)))
              if e.owner in traders}
    submitted = {o["order_id"] for o in work.orders if o["status"] == "submitted"}
    marks = floor.marks()
    run_id, branch_id = state["run_id"], state["branch_id"]
    # Any failure below ends the cycle's recording, so the nested writes need no SAVEPOINTs (see
    # `Ledger.transaction`); each table gets its rows in one executemany, in the order they had as calls.
    # (The settle node opens this transaction before execution, whose reservations join it: one commit.)
    with ledger.transaction(savepoints=False):
        if floor.lease is not None:  # fencing: commit this cycle only while still the run's owner
            floor.lease.assert_held(ledger.conn)
        result = ledger.settle_rows(cycle, fills)
        if not result.ok:
            raise RuntimeError(f"cycle {cycle}: the ledger refused the exchange's fills: {result.rejection}")
        for order_id in sorted(closed.keys() | submitted):
            if ex.order(order_id) is None and ledger.reserved_for(order_id) is not None:
                ledger.release(order_id, cycle=cycle)
        orders = [dict(order_id=o["order_id"], account=o["trader"], side=o["side"], symbol=o["symbol"], qty=o["qty"],
                       limit_price=o.get("limit_price"), order_type=o["order_type"], status=o["status"],
                       reason=o.get("reason"), detail=o.get("detail"),
                       payload={"source": o.get("source"), "tif": o["tif"]}) for o in work.orders]
        orders += [dict(order_id=oid, account=e.owner, side="", symbol=e.symbol, qty=0,
                        status=type(e).__name__.removeprefix("Order").lower(), tick=e.tick,
                        reason=str(getattr(e, "reason", "")) or None) for oid, e in closed.items()]
        ledger.record_orders(cycle, orders)
        traces = []
        for t in floor_trades:
            for who in (t.buyer,) if t.buyer == t.seller else (t.buyer, t.seller):  # buyer first, always
                if who not in traders:
                    continue
                side = "buy" if who == t.buyer else "sell"
                traces.append((who, "settle", "fill", {
                    "trade_id": t.trade_id, "symbol": t.symbol, "side": side, "price": t.price, "qty": t.qty,
                    "tick": t.tick, "counterparty": t.seller if side == "buy" else t.buyer,
                }))
        if work.transcript is not None:
            ledger.record_messages(cycle, [dict(sender=m.sender, text=m.text, recipients=m.recipients,
                                                sentiment=m.sentiment, topic=m.topic, round=m.round)
                                           for m in work.transcript.messages])
        traces += work.traces
        ledger.record_traces(cycle, traces)
        if any(t.learning is not None for t in floor.config.traders):  # traders' memory (traders/memory/)
            from traders.memory.cycle_hook import record_cycle
            record_cycle(ledger, floor.config, cycle, work.traces, marks)
        ledger.record_snapshot(cycle, marks)
        floor.record_market(run_id, branch_id, cycle, work.journal)
    floor.at = (run_id, branch_id, cycle)
    summary = {
        "cycle": cycle,
        "trades": len(trades),
        "floor_trades": len(floor_trades),
        "volume": sum(map(_QTY, trades)),
        "orders": len(work.orders),
        "rejections": len(state.get("rejections", [])),
        "marks": marks,
    }
    return {"cycle": cycle, "summary": summary}


def announce(state: CycleState, runtime: Runtime) -> None:
    """After the cycle's commit: its events to the floor's bus (a subscriber told of a cycle may read the
    ledger at once, so never before the commit). `state` holds `settle`'s update."""
    floor = floor_of(runtime)
    work = floor.work
    summary = state["summary"]
    marks, cycle = summary["marks"], summary["cycle"]
    if floor.bus.has_subscribers:
        floor.bus.publish(cycle_events(
            state["run_id"], state["branch_id"], cycle, trades=work.trades(), marks=marks,
            previous_marks=floor.last_marks, decisions=[d for d in state.get("decisions", []) if d["cycle"] == cycle],
            messages=work.transcript.messages if work.transcript is not None else (),
            rejections=state.get("rejections", []), summary=summary,
            scenario_events=[p for _, _, kind, p in work.traces if kind == "scenario_event"],
        ))
    floor.last_marks = marks



