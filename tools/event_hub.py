"""`EventHub`: fan-out of the floor's settled-cycle events to many SSE subscribers, with bounded memory.

Design (why a slow client never blocks a cycle, and memory stays bounded):
- `publish(events)` is what the floor's event bus calls, in the cycle's own thread. It only hands the
  list to the hub's event loop (`call_soon_threadsafe`) and returns: no I/O, no waiting on any client.
- In the loop, each event is encoded to SSE bytes ONCE. Subscribers with the same filter share one
  encoded chunk per cycle (a bytes object, not a copy), and each subscriber's queue holds at most
  `max_batches` chunks (one per cycle). When a queue is full the OLDEST chunk is dropped and its events
  are counted in that subscriber's `dropped_events`; the client is told with an SSE `dropped` event.
  So memory is at most subscribers x max_batches x (one cycle's events), whatever a client does.
- `max_subscribers` bounds the number of streams (beyond it the server answers 503).

End of a run: when the run this server drives finishes (a `system` event `run_finished`), every stream
delivers what it has queued, then one last SSE event `end` (`{"kind": "end", "reason": "run_finished"}`)
and closes, as SSE clients expect; a subscriber that connects after that gets `end` at once. A server
shutdown ends the streams the same way, with the reason `server_shutdown`. A filtered stream gets `end`
too, even when its filter excludes `system` events.

`stats()` counts memory truthfully: a chunk shared by several subscribers is counted once in
`queued_bytes_total` (each subscriber's own `queued_bytes` still shows what it holds).

Filters: `kinds`, `agents`, `symbols` (None = all). An event with an `agent` (decision, message,
rejection) or parties (a trade's buyer/seller) matches `agents` by them; an event with a `symbol` matches
`symbols` by it. Cycle boundaries (`cycle_settled`) and `system` events carry neither and pass the agent
and symbol filters (only `kinds` can exclude them), so a filtered client still sees where cycles end.
A scenario's events (`scenario_event`: news, halts, rumours, ...) are news to everyone: they pass the
`agents` filter, and `symbols` keeps those about a listed symbol and the market-wide ones (no symbol).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import count

_BOUNDARY = ("cycle_settled", "system")


def encode(event: dict) -> bytes:
    """One SSE message: `id`, `event` (the kind) and the JSON body on one `data` line."""
    return (f"id: {event['id']}\nevent: {event['kind']}\ndata: "
            f"{json.dumps(event, separators=(',', ':'), default=str)}\n\n").encode()


def _csv(value: str | None) -> frozenset[str] | None:
    items = frozenset(x.strip() for x in (value or "").split(",") if x.strip())
    return items or None


@dataclass(eq=False)
class Subscriber:
    sid: int
    kinds: frozenset[str] | None
    agents: frozenset[str] | None
    symbols: frozenset[str] | None
    queue: deque = field(default_factory=deque)  # (chunk bytes, number of events)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    delivered_events: int = 0
    dropped_events: int = 0
    dropped_batches: int = 0
    reported_dropped: int = 0
    max_queued: int = 0
    ping: bool = False

    @property
    def key(self) -> tuple:
        return (self.kinds, self.agents, self.symbols)

    def matches(self, e: dict) -> bool:
        kind = e.get("kind")
        if self.kinds is not None and kind not in self.kinds:
            return False
        if kind in _BOUNDARY:
            return True
        if kind == "scenario_event":  # news for everyone: only a symbol filter narrows it (market-wide passes)
            return self.symbols is None or e.get("symbol") in self.symbols or e.get("symbol") is None
        if self.agents is not None and not ({e.get("agent"), e.get("buyer"), e.get("seller")} & self.agents):
            return False
        return self.symbols is None or e.get("symbol") in self.symbols

    def stats(self) -> dict:
        return {"id": self.sid, "kinds": sorted(self.kinds or ()), "agents": sorted(self.agents or ()),
                "symbols": sorted(self.symbols or ()), "queued_batches": len(self.queue),
                "queued_bytes": sum(len(c) for c, _ in self.queue), "max_queued_batches": self.max_queued,
                "delivered_events": self.delivered_events, "dropped_events": self.dropped_events,
                "dropped_batches": self.dropped_batches}


class HubFull(RuntimeError):
    pass


class EventHub:
    def __init__(self, *, max_batches: int = 64, max_subscribers: int = 1000, recent: int = 200) -> None:
        self.max_batches, self.max_subscribers = max_batches, max_subscribers
        self.loop: asyncio.AbstractEventLoop | None = None
        self.subscribers: dict[int, Subscriber] = {}
        self._ids = count(1)
        self._sys = count(1)
        self.recent: deque = deque(maxlen=recent)  # for the REST snapshot
        self.counts: Counter = Counter()
        self.state: dict = {}
        self.closed = False
        self.dropped_total = 0
        self.ended: str | None = None  # why the streams end: "run_finished", "server_shutdown"
        self._lock = threading.Lock()

    # ----- producer side (any thread) ---------------------------------------------------------------
    def publish(self, events: list[dict]) -> None:
        """Hand a cycle's events to the loop and return at once (safe from the cycle's thread)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(self._fanout, list(events))

    def system(self, what: str, **fields) -> None:
        self.publish([{"id": f"system:{next(self._sys)}", "kind": "system", "event": what, **fields}])

    # ----- loop side ----------------------------------------------------------------------------------
    def _fanout(self, events: list[dict]) -> None:
        if not events or self.ended:
            return
        encoded = [encode(e) for e in events]
        self._remember(events)
        chunks: dict[tuple, tuple[bytes, int]] = {}
        for sub in list(self.subscribers.values()):
            got = chunks.get(sub.key)
            if got is None:
                picked = [b for e, b in zip(events, encoded, strict=True) if sub.matches(e)]
                got = chunks[sub.key] = (b"".join(picked), len(picked))
            if not got[1]:
                continue
            if len(sub.queue) >= self.max_batches:
                _, lost = sub.queue.popleft()
                sub.dropped_events += lost
                sub.dropped_batches += 1
                self.dropped_total += lost
            sub.queue.append(got)
            sub.max_queued = max(sub.max_queued, len(sub.queue))
            sub.wake.set()
        if any(e["kind"] == "system" and e.get("event") == "run_finished" for e in events):
            self.end("run_finished")

    def end(self, reason: str) -> None:
        """End every stream after what it has queued: each sends the final `end` event and closes."""
        if self.ended is None:
            self.ended = reason
        for sub in self.subscribers.values():
            sub.wake.set()

    def _remember(self, events: list[dict]) -> None:
        for e in events:
            self.counts[e["kind"]] += 1
            self.recent.append(e)
            if e["kind"] == "cycle_settled":
                s = e.get("summary", {})
                self.state = {"run_id": e.get("run_id"), "branch_id": e.get("branch_id"), "cycle": e.get("cycle"),
                              "marks": s.get("marks", {}), "summary": s, "last_event_id": e["id"]}

    def subscribe(self, kinds: str | None = None, agents: str | None = None, symbols: str | None = None) -> Subscriber:
        if len(self.subscribers) >= self.max_subscribers:
            raise HubFull(f"{len(self.subscribers)} subscribers already (limit {self.max_subscribers})")
        sub = Subscriber(next(self._ids), _csv(kinds), _csv(agents), _csv(symbols))
        self.subscribers[sub.sid] = sub
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.pop(sub.sid, None)

    def close(self) -> None:
        self.closed = True
        self.end("server_shutdown")

    async def ping_loop(self, every: float = 15.0) -> None:
        """Wake idle subscribers now and then so they send an SSE comment (keeps proxies from closing)."""
        while not self.closed:
            await asyncio.sleep(every)
            for sub in list(self.subscribers.values()):
                sub.ping = True
                sub.wake.set()

    async def stream(self, sub: Subscriber, *, flush_interval: float = 0.05):
        """The SSE body of one subscriber: batches as they come, a `dropped` notice, pings when idle."""
        try:
            yield b"retry: 2000\n: connected\n\n"
            while True:
                if not sub.queue and self.ended:
                    yield encode({"id": f"end:{sub.sid}", "kind": "end", "reason": self.ended,
                                  "delivered_events": sub.delivered_events, "dropped_events": sub.dropped_events})
                    return
                if not sub.queue:
                    if sub.ping:
                        sub.ping = False
                        yield b": ping\n\n"
                    sub.wake.clear()
                    await sub.wake.wait()
                    continue
                parts, n = [], 0
                while sub.queue:
                    chunk, k = sub.queue.popleft()
                    parts.append(chunk)
                    n += k
                if sub.dropped_events > sub.reported_dropped:
                    sub.reported_dropped = sub.dropped_events
                    note = {"id": f"dropped:{sub.sid}:{sub.dropped_batches}", "kind": "dropped",
                            "dropped_events": sub.dropped_events, "dropped_batches": sub.dropped_batches}
                    parts.insert(0, encode(note))
                sub.delivered_events += n
                yield b"".join(parts)
                await asyncio.sleep(flush_interval)  # coalesce: later cycles join the next write
        finally:
            self.unsubscribe(sub)

    def stats(self) -> dict:
        live = list(self.subscribers.values())
        subs = [s.stats() for s in live]
        shared = {id(c): len(c) for s in live for c, _ in s.queue}  # a chunk shared by many subscribers, once
        return {"subscribers": len(subs), "max_subscribers": self.max_subscribers, "max_batches": self.max_batches,
                "published": dict(self.counts), "dropped_events_total": self.dropped_total,
                "queued_bytes_total": sum(shared.values()), "queued_chunks": len(shared),
                "queued_bytes_per_subscriber_sum": sum(s["queued_bytes"] for s in subs), "per_subscriber": subs,
                "ended": self.ended, "wall": time.time()}
