"""A settled cycle as the live feed's events: plain JSON-ready dicts, one per thing that happened.

Each event has a `kind` (trade, price, message, decision, rejection, cycle_settled), its (cycle, tick) and
an `id` ordered within the run: "<run>:<branch>:<cycle>:<n>". The settle node builds them from the cycle
in memory (`floor.event_bus.EventBus` publishes them); a server following the run database from another
process builds the same events from what the ledger recorded (`tools.ledger_events`).
"""
from __future__ import annotations


def cycle_events(run_id: int, branch_id: int, cycle: int, *, trades, marks: dict[str, int],
                 previous_marks: dict[str, int] | None, decisions: list[dict], messages, rejections: list[dict],
                 summary: dict, scenario_events=()) -> list[dict]:
    """The cycle's feed, in a fixed order: scenario events (kind `scenario_event`, the event's own kind as
    `event`; none without a scenario), trades, price moves, messages, decisions, rejections, settled."""
    out: list[dict] = []

    def add(kind: str, tick: int, **fields) -> None:
        out.append({"id": f"{run_id}:{branch_id}:{cycle}:{len(out)}", "kind": kind, "run_id": run_id,
                    "branch_id": branch_id, "cycle": cycle, "tick": tick, **fields})

    for e in scenario_events:
        add("scenario_event", e.get("tick", 0), event=e["kind"], symbol=e.get("symbol"), headline=e["headline"],
            source=e.get("source"))

    for t in trades:
        add("trade", t.tick, symbol=t.symbol, price=t.price, qty=t.qty, buyer=t.buyer, seller=t.seller,
            trade_id=t.trade_id, aggressor=str(t.aggressor))
    for sym, px in marks.items():
        before = (previous_marks or {}).get(sym)
        if before != px:
            add("price", 0, symbol=sym, price=px, previous=before)
    for m in messages:
        add("message", 0, agent=m.sender, text=m.text, sentiment=m.sentiment, recipients=list(m.recipients))
    for d in decisions:
        add("decision", 0, agent=d["trader"], actions=d.get("actions", {}), mode=d.get("mode"),
            rationale=d.get("rationale", ""), orders=d.get("orders", []))
    for r in rejections:
        add("rejection", 0, agent=r["trader"], reason=r["reason"], message=r["message"])
    add("cycle_settled", 0, summary=summary)
    return out
