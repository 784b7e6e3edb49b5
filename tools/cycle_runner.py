"""Run N floor cycles in a child process and pump their events into an `EventHub`.

Why a process and not a thread: the HTTP side (hundreds of SSE writes per cycle) and the cycle graph
would otherwise share one interpreter lock, so busy subscribers would slow the trading cycle. In a child
process the cycle has its own interpreter; the parent's pump thread only receives each settled cycle's
events from a pipe and hands them to the hub (which never waits on a client). The child sends
`ready`, waits for `go` (the parent first waits, bounded, for the wanted number of subscribers), then
runs and times its cycle loop itself, so the measured time is the cycles' and nothing else. In the child
the bus callback only puts the events on a bounded queue; a sender thread feeds the pipe, so a busy
parent cannot stall a cycle on a full pipe (unless OUTBOX_BATCHES cycles pile up, the memory bound).
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
import time
from typing import Any

OUTBOX_BATCHES = 10_000  # cycles of events the child may hold while the parent catches up (memory bound)


def _send_all(outbox: queue.Queue, conn: Any) -> None:
    """The child's sender thread: the cycle hands its events over and goes on; this thread feeds the pipe."""
    while (item := outbox.get()) is not None:
        conn.send(item if isinstance(item, tuple) else ("events", item))


def run_floor(conn: Any, db_path: str, config_path: str | None, cycles: int, seed: int | None) -> None:
    """The child: open a FloorSession, publish its bus into the pipe, run `cycles` cycles on `go`."""
    session = None
    try:
        from floor.config import load_config
        from floor.session import FloorSession

        cfg = load_config(config_path) if config_path else load_config()
        session = FloorSession(db_path, cfg)
        if session.thread is None:
            session.start(seed=seed)
        outbox: queue.Queue = queue.Queue(maxsize=OUTBOX_BATCHES)
        sender = threading.Thread(target=_send_all, args=(outbox, conn), name="floor-sender", daemon=True)
        sender.start()
        session.floor.bus.subscribe(outbox.put)  # never waits on the pipe unless OUTBOX_BATCHES cycles are queued
        conn.send(("ready", None))
        if conn.recv() != "go":
            return
        start, done = time.perf_counter(), 0
        for report in session.iter_cycles(cycles):
            done += 1
            outbox.put(("cycle", report.cycle))
            if report.interrupted or (conn.poll() and conn.recv() == "stop"):
                break
        seconds = time.perf_counter() - start
        outbox.put(None)
        sender.join(timeout=60)
        conn.send(("finished", {"seconds": seconds, "cycles_done": done}))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, shown in /stats
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        if session is not None:
            session.close()
        conn.close()


class CycleRunner:
    def __init__(self, hub: Any, db_path: str, cycles: int, *, config_path: str | None = None,
                 wait_subscribers: int = 0, wait_timeout: float = 60.0, seed: int | None = None) -> None:
        self.hub, self.db_path, self.cycles = hub, db_path, cycles
        self.config_path, self.wait_subscribers, self.wait_timeout, self.seed = (
            config_path, wait_subscribers, wait_timeout, seed)
        self.stop_event = threading.Event()
        self.progress: dict[str, Any] = {"state": "starting", "cycles_done": 0, "seconds": None}
        self.proc = self.conn = self.thread = None

    def start(self) -> CycleRunner:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=run_floor, args=(child, self.db_path, self.config_path, self.cycles, self.seed),
                                name="floor-cycles", daemon=True)
        self.proc.start()
        child.close()
        self.thread = threading.Thread(target=self._pump, name="floor-pump", daemon=True)
        self.thread.start()
        return self

    def _pump(self) -> None:
        while not self.stop_event.is_set():
            if not self.conn.poll(0.2):
                if not self.proc.is_alive():
                    if self.progress["state"] not in ("finished", "failed"):
                        self.progress.update(state="failed", error=f"the floor process exited ({self.proc.exitcode})")
                    return
                continue
            try:
                kind, payload = self.conn.recv()
            except (EOFError, OSError):
                return
            if kind == "events":
                self.hub.publish(payload)
            elif kind == "cycle":
                self.progress.update(cycles_done=self.progress["cycles_done"] + 1, cycle=payload)
            elif kind == "ready":
                self._wait_for_subscribers()
                self.progress.update(state="running", subscribers_at_start=len(self.hub.subscribers))
                self.hub.system("run_started", cycles=self.cycles)
                self.conn.send("go")
            elif kind == "finished":
                self.progress.update(state="finished", **payload)
                self.hub.system("run_finished", **payload)
            elif kind == "failed":
                self.progress.update(state="failed", error=payload)

    def _wait_for_subscribers(self) -> None:
        self.progress["state"] = "waiting"
        deadline = time.monotonic() + self.wait_timeout
        while (len(self.hub.subscribers) < self.wait_subscribers and time.monotonic() < deadline
               and not self.stop_event.is_set()):
            time.sleep(0.05)

    def stop(self) -> None:
        self.stop_event.set()
        if self.proc is not None and self.proc.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send("stop")
            self.proc.join(timeout=20)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(timeout=5)
        if self.thread is not None:
            self.thread.join(timeout=5)
