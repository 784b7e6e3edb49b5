"""Push server: notifications of trades, price moves, decisions and system events to a configurable sink.

Sinks (`make_sink(spec)`), none of which needs an outside service to run or test:
- `file:PATH`: one JSON event per line (JSONL), appended and flushed per batch;
- `http://...` / `https://...`: a webhook, POSTed `{"events": [...]}` (bearer token from the env if set);
- `stream:http://127.0.0.1:8804`: the event stream server's `/ingest` (a webhook with that path).
Webhook sinks deliver from their own thread through a bounded queue: the cycle (or the follower) only
enqueues; a slow or dead endpoint drops whole batches, counted, and never blocks a cycle.

Sources: in the floor's process, `Notifier` subscribes to `Floor.bus` (`attach(floor)`); as a standalone
server it follows the run database (`tools.ledger_events.LedgerFollower`).

The MCP face (stdio or streamable HTTP, like the other servers): tools `push_status`,
`recent_notifications` and `notify` (a manual system event), resource `push://config`.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from tools.mcp_results import Notice, Notifications, PushStatus

DEFAULT_PORT = 8803
DEFAULT_KINDS = ("trade", "price", "decision", "message", "rejection", "cycle_settled", "system")


class FileSink:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.delivered = self.dropped = self.failures = 0

    def send(self, events: list[dict]) -> None:
        lines = "".join(json.dumps(e, separators=(",", ":"), default=str) + "\n" for e in events)
        with self.lock, self.path.open("a", encoding="utf-8") as f:
            f.write(lines)
        self.delivered += len(events)

    def describe(self) -> str:
        return f"file:{self.path}"

    def close(self) -> None:
        pass


class WebhookSink:
    """POST batches from a worker thread; the queue holds at most `max_batches` (then drops, counted)."""

    def __init__(self, url: str, *, timeout: float = 5.0, max_batches: int = 256) -> None:
        from tools.server_config import bearer_token

        self.url, self.timeout = url, timeout
        self.headers = {"Authorization": f"Bearer {t}"} if (t := bearer_token()) else {}
        self.q: queue.Queue = queue.Queue(maxsize=max_batches)
        self.delivered = self.dropped = self.failures = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._work, name="webhook-sink", daemon=True)
        self.thread.start()

    def send(self, events: list[dict]) -> None:
        try:
            self.q.put_nowait(list(events))
        except queue.Full:
            self.dropped += len(events)

    def _work(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout) as client:
            while not self.stop_event.is_set():
                try:
                    batch = self.q.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    r = client.post(self.url, json={"events": batch}, headers=self.headers)
                    r.raise_for_status()
                    self.delivered += len(batch)
                except Exception:  # noqa: BLE001 - a failing endpoint is counted, never raised into a cycle
                    self.failures += 1
                    self.dropped += len(batch)

    def flush(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.q.empty() and time.monotonic() < deadline:
            time.sleep(0.02)

    def describe(self) -> str:
        return self.url

    def close(self) -> None:
        self.flush(2.0)
        self.stop_event.set()
        self.thread.join(timeout=5)


def make_sink(spec: str):
    if spec.startswith("file:"):
        return FileSink(spec[5:])
    if spec.startswith("stream:"):
        return WebhookSink(spec[7:].rstrip("/") + "/ingest")
    if spec.startswith(("http://", "https://")):
        return WebhookSink(spec)
    raise ValueError(f"unknown sink {spec!r}: use file:PATH, a webhook URL, or stream:URL")


class Notifier:
    """Filters the floor's events (kinds, a minimum price move) and sends them to the sink."""

    def __init__(self, sink: Any, *, kinds: tuple[str, ...] | None = None, min_move_bps: float = 0.0,
                 recent: int = 200) -> None:
        self.sink, self.kinds = sink, frozenset(kinds or DEFAULT_KINDS)
        self.min_move_bps = min_move_bps
        self.recent: deque = deque(maxlen=recent)
        self.seen = self.sent = 0
        self.last_id: str | None = None
        self._sys = 0

    def wanted(self, e: dict) -> bool:
        if e.get("kind") not in self.kinds:
            return False
        if e["kind"] == "price" and self.min_move_bps > 0 and e.get("previous"):
            return abs(e["price"] - e["previous"]) * 1e4 / e["previous"] >= self.min_move_bps
        return True

    def __call__(self, events: list[dict]) -> None:
        self.seen += len(events)
        picked = [e for e in events if self.wanted(e)]
        if picked:
            self.sink.send(picked)
            self.sent += len(picked)
            self.recent.extend(picked)
            self.last_id = picked[-1]["id"]

    def notify(self, text: str, **fields: Any) -> dict:
        self._sys += 1
        event = {"id": f"system:push:{self._sys}", "kind": "system", "event": "notice", "text": text, **fields}
        self([event])
        return event

    def attach(self, floor: Any):
        """Subscribe to a Floor's event bus (in the cycle's process); returns the unsubscribe function."""
        return floor.bus.subscribe(self)

    def status(self) -> dict:
        s = self.sink
        return {"sink": s.describe(), "kinds": sorted(self.kinds), "min_move_bps": self.min_move_bps,
                "events_seen": self.seen, "events_sent": self.sent, "delivered": s.delivered, "dropped": s.dropped,
                "failures": s.failures, "last_event_id": self.last_id}


def build_push_server(notifier: Notifier, *, host: str, port: int):
    from tools.mcp_conventions import FloorMCP, read_tool, write_tool

    mcp = FloorMCP("trading-floor-push", host=host, port=port, log_level="WARNING",
                  instructions="Push notifications of a Trading Floor run: status and the latest notifications.")

    @read_tool(mcp, "Push status")
    def push_status() -> PushStatus:
        """The sink, the kinds pushed, and how many events were seen, sent, delivered, dropped or failed."""
        return notifier.status()

    @read_tool(mcp, "Recent notifications")
    def recent_notifications(kind: Annotated[str | None, Field(max_length=32)] = None,
                             limit: Annotated[int, Field(ge=1, le=200)] = 20) -> Notifications:
        """The latest notifications sent (newest last), optionally of one kind."""
        rows = [e for e in notifier.recent if kind is None or e.get("kind") == kind][-limit:]
        return {"count": len(rows), "notifications": rows}

    @write_tool(mcp, "Send a notice", destructive=False, idempotent=False)
    def notify(text: Annotated[str, Field(min_length=1, max_length=500)]) -> Notice:
        """Send a manual system notice through the sink."""
        return notifier.notify(text)

    @mcp.resource("push://config", mime_type="application/json")
    def config() -> str:
        """The push configuration and counters."""
        return json.dumps(notifier.status())

    return mcp


def main(argv: list[str] | None = None) -> None:
    from tools.floor_reader import FloorReader
    from tools.ledger_events import LedgerFollower
    from tools.server_args import parse_server_args
    from tools.server_config import run_mcp

    args = parse_server_args("push", DEFAULT_PORT, argv, push=True)
    sink = make_sink(args.sink or f"file:{Path('runs/floor.db' if '://' in args.db else args.db).with_suffix('.push.jsonl')}")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip()) if args.kinds else None
    notifier = Notifier(sink, kinds=kinds)
    from tools.floor_reader import ReaderError

    try:
        reader = FloorReader(args.db)
    except ReaderError as exc:
        raise SystemExit(f"error: {exc}") from None
    follower = LedgerFollower(reader, notifier, poll=args.poll).start()
    try:
        run_mcp(build_push_server(notifier, host=args.host, port=args.port), args.transport, args.host, args.port)
    finally:
        follower.stop()
        sink.close()


if __name__ == "__main__":
    main()
