"""Follow a run from another process: rebuild each newly settled cycle's events from the ledger.

The in-process event bus (floor/event_bus.py) is the first choice: a server that runs the cycles itself
subscribes to it. A server beside a separate `trading-floor run` process cannot; `LedgerFollower` polls
the run database instead (bounded: at most `max_cycles_per_poll` cycles per look) and builds the same
kinds of events with the same `cycle_events` function from what the settle node recorded: fills (trades
between accounts), marks (price moves), chat messages, decision traces and scenario events. Differences,
by construction: trades inside one background class are not journaled, so they are absent, and parties
are ledger accounts (`bg:mm`) rather than exchange owners; ids are still ordered within the run.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import SimpleNamespace

from tools.cycle_feed import cycle_events
from tools.floor_reader import FloorReader, ReaderError


def ledger_cycle_events(ledger, run_id: int, branch_id: int, cycle: int, marks: dict[str, int],
                        previous_marks: dict[str, int] | None) -> list[dict]:
    fills = sorted(ledger.fills(cycle=cycle, limit=None), key=lambda f: (f["tick"], f["fill_id"]))
    trades = [SimpleNamespace(tick=f["tick"], symbol=f["symbol"], price=f["price"], qty=f["qty"], buyer=f["buyer"],
                              seller=f["seller"], trade_id=f["fill_id"], aggressor="") for f in fills]
    messages = [SimpleNamespace(sender=m["sender"], text=m["text"], sentiment=m["sentiment"],
                                recipients=m["recipients"] or [])
                for m in sorted(ledger.messages(cycle=cycle, limit=None), key=lambda m: m["round"])]
    decisions = sorted((t["payload"] for t in ledger.traces(cycle=cycle, kind="decision", limit=None)),
                       key=lambda d: d.get("trader", ""))
    scenario = [t["payload"] for t in sorted(ledger.traces(cycle=cycle, kind="scenario_event", limit=None),
                                             key=lambda t: t["payload"].get("tick", 0))]
    summary = {"cycle": cycle, "trades": len(trades), "volume": sum(t.qty for t in trades), "marks": marks,
               "source": "ledger"}
    return cycle_events(run_id, branch_id, cycle, trades=trades, marks=marks, previous_marks=previous_marks,
                        decisions=decisions, messages=messages, rejections=[], summary=summary,
                        scenario_events=scenario)


def marks_at(ledger, symbols, cycle: int) -> dict[str, int]:
    out = {}
    for sym in symbols:
        hist = [p for c, p in ledger.marks_history(sym) if c <= cycle]
        if hist:
            out[sym] = hist[-1]
    return out


class LedgerFollower:
    """Poll a run database and call `callback(events)` once per newly settled cycle, in cycle order."""

    def __init__(self, reader: FloorReader, callback: Callable[[list[dict]], None], *, poll: float = 0.5,
                 max_cycles_per_poll: int = 50, from_start: bool = False) -> None:
        self.reader, self.callback, self.poll, self.max_cycles = reader, callback, poll, max_cycles_per_poll
        self.stop_event = threading.Event()
        self.last: tuple[int, int, int] | None = None  # (run, branch, cycle) already published
        self.from_start = from_start
        self.thread: threading.Thread | None = None

    def step(self) -> int:
        """One look at the database; returns how many cycles were published."""
        try:
            run_id, branch_id, cycle = self.reader.refresh()
        except ReaderError:
            return 0
        if self.last is None or self.last[:2] != (run_id, branch_id):
            start = 0 if (self.from_start and self.last is None) else cycle
            if self.last is not None and self.last[0] == run_id:
                start = min(cycle, self.last[2])  # a rollback or fork: continue from where we stood
            self.last = (run_id, branch_id, start)
        done = 0
        with self.reader.lock:
            ledger = self.reader.ledger
            symbols = list(self.reader.exchange.instruments)
            prev = marks_at(ledger, symbols, self.last[2])
            for c in range(self.last[2] + 1, min(cycle, self.last[2] + self.max_cycles) + 1):
                marks = marks_at(ledger, symbols, c)
                self.callback(ledger_cycle_events(ledger, run_id, branch_id, c, marks, prev))
                prev, done = marks, done + 1
                self.last = (run_id, branch_id, c)
        return done

    def run(self) -> None:
        while not self.stop_event.is_set():
            with contextlib.suppress(Exception):  # a read racing a writer is retried on the next poll
                self.step()
            self.stop_event.wait(self.poll)

    def start(self) -> LedgerFollower:
        self.thread = threading.Thread(target=self.run, name="ledger-follower", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
