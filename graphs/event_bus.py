"""The floor's live event feed: what happened in a cycle, published once the cycle has settled.

Subscribers (the push server, the SSE stream, the UI) get plain JSON-ready dicts, each with a `kind`
(trade, price, decision, message, rejection, cycle_settled), its (cycle, tick) and an `id` that is
ordered within the run: "<run>:<branch>:<cycle>:<n>". Publishing happens after the ledger commit, so
a subscriber never sees a cycle that is not recorded. A subscriber that raises is dropped from the
cycle's delivery and counted, never allowed to stop the cycle.
"""
from __future__ import annotations

from collections.abc import Callable

Subscriber = Callable[[list[dict]], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.failures = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    @property
    def has_subscribers(self) -> bool:
        """Whether anybody listens: the cycle's feed (a dict per trade) is built only then."""
        return bool(self._subscribers)

    def publish(self, events: list[dict]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(events)
            except Exception:  # noqa: BLE001 - a broken subscriber must never stop a trading cycle
                self.failures += 1


def cycle_events(run_id: int, branch_id: int, cycle: int, *, trades, marks: dict[str, int],
                 previous_marks: dict[str, int] | None, decisions: list[dict], messages, rejections: list[dict],
                 summary: dict) -> list[dict]:
    """The cycle's feed, in a fixed order: trades, price moves, messages, decisions, rejections, settled."""
    out: list[dict] = []

    def add(kind: str, tick: int, **fields) -> None:
        out.append({"id": f"{run_id}:{branch_id}:{cycle}:{len(out)}", "kind": kind, "run_id": run_id,
                    "branch_id": branch_id, "cycle": cycle, "tick": tick, **fields})

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
