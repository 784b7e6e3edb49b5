"""The risk stage: every decision passes the pre-trade checks; optional human approval before execution.

It is a node of its own when a cycle may pause for approval (`approval_step`); otherwise the settle node
runs it as its first stage (graphs/cycle_graph.py), which spares LangGraph a super-step.

Decisions are merged in a fixed order (by trader name), whatever order the parallel branches finished in.
With approval on, the graph pauses here with `interrupt()`: the person sees the proposed orders and
answers True (approve all), False (reject all), or a list of the order indices to keep.
"""
from __future__ import annotations

from langgraph.runtime import Runtime, get_runtime
from langgraph.types import interrupt

from floor.risk import check_decision
from graphs.context import floor_of, passed_floor
from graphs.state import CycleState
from tools import external_orders
from traders.decision import Decision


def risk(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    cycle = state["cycle"] + 1
    decisions = sorted((d for d in state.get("decisions", []) if d["cycle"] == cycle), key=lambda d: d["trader"])
    orders, cancels, rejections = [], [], []
    conn = floor.ledger.db.conn
    waiting = external_orders.any_to_take(conn, state["run_id"], state["branch_id"], cycle)
    for raw in decisions:
        decision = _decision(floor.work, raw)
        cfg = floor.config.trader(decision.trader)
        # [issue 7] Order intents queued from outside the cycle (the MCP accounts server) join this trader's
        # decision after its own orders, so they pass the very same check_decision below.
        intents = (external_orders.take(conn, state["run_id"], state["branch_id"], decision.trader, cycle)
                   if waiting else [])
        decision = _with_intents(decision, intents)
        result = check_decision(decision, floor.work.views[decision.trader], cfg.risk, floor.by_symbol)
        n_external = len(external_orders.record_outcome(conn, intents, result)) if intents else 0
        for kind, batch in (("stop_loss", result.stop_losses), ("decision", result.accepted)):
            orders.extend({"trader": decision.trader, "source": kind, **o.model_dump(mode="json")} for o in batch)
        for o in orders[len(orders) - n_external:] if n_external else ():  # [issue 7] accepted intents are the tail
            o["source"] = "external"
        cancels.extend({"trader": decision.trader, "order_id": oid} for oid in result.cancels)
        for r in result.rejected:
            rejections.append({"trader": decision.trader, "order": r.order.model_dump(mode="json"),
                               "reason": str(r.reason), "message": r.message})
        floor.work.trace(decision.trader, "risk", "risk_check", {
            "accepted": len(result.accepted), "stop_losses": len(result.stop_losses),
            "rejected": [{"reason": str(r.reason), "message": r.message} for r in result.rejected],
            "notes": list(result.notes),
        })
    if state.get("approval", floor.config.approval) and orders:
        answer = interrupt({"cycle": cycle, "orders": orders, "cancels": cancels,
                            "question": "Approve these orders? true / false / a list of order indices to keep"})
        kept = _approved(answer, len(orders))
        for i, o in enumerate(orders):
            if i not in kept:
                rejections.append({"trader": o["trader"], "order": o, "reason": "not_approved",
                                   "message": "A person rejected this order at the approval step."})
        floor.work.trace("human", "risk", "approval", {"answer": answer, "kept": sorted(kept)})
        orders = [o for i, o in enumerate(orders) if i in kept]
    floor.work.checked = True
    return {"orders": orders, "cancels": cancels, "rejections": rejections}


def approval_step(state: CycleState) -> str:
    """Where the decide step goes: the risk node when the cycle may pause for a person's approval (the
    state asks for it, or the floor is not known: `update_state`, or `langgraph dev` before its floor is
    built), else straight to settle, whose first stage then makes the same checks (graphs/cycle_graph.py)."""
    floor = passed_floor(get_runtime())  # get_runtime(): None under update_state
    if floor is None or state.get("approval", floor.config.approval):
        return "risk"
    return "settle"


def _decision(work, raw: dict) -> Decision:
    """The Decision of a state entry: the one decide dumped into this very dict (this cycle, this process),
    else validated from the dict (a resumed or replayed cycle)."""
    made = work.decided.get(raw["trader"])
    if made is not None and made[0] is raw:
        return made[1]
    return Decision.model_validate(raw)


def _approved(answer, n: int) -> set[int]:
    if isinstance(answer, dict):
        answer = answer.get("approve", answer.get("keep", False))
    if answer is True:
        return set(range(n))
    if isinstance(answer, list | tuple):
        return {int(i) for i in answer if isinstance(i, int) and 0 <= i < n}
    return set()


def _with_intents(decision: Decision, intents: list[external_orders.Intent]) -> Decision:
    """The decision with the intents' orders and cancels appended (after the trader's own)."""
    if not intents:
        return decision
    return decision.model_copy(update={
        "orders": (*decision.orders, *(i.order for i in intents if i.order is not None)),
        "cancel_order_ids": (*decision.cancel_order_ids, *(i.cancel_order_id for i in intents if i.cancel_order_id)),
    })
