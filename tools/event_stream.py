"""The live event stream: FastAPI + uvicorn, Server-Sent Events of the floor's settled cycles.

Endpoints
- `GET /events?kind=trade,price&agent=momentum&symbol=AAPL`: an SSE stream (`id` = the floor's ordered
  event id, `event` = the kind, `data` = the JSON event). See `tools.event_hub` for the bounded queues
  and the `dropped` notice a slow client gets.
- `GET /snapshot`: the current state as REST (run, branch, cycle, marks, last summary, recent events,
  counts by kind, the run's progress).
- `GET /stats`: subscribers with their queued/delivered/dropped counters, and the run's timing.
- `POST /ingest`: `{"events": [...]}` published as if from the floor (the push server's `stream:` sink).
- `GET /health`.

Where the events come from: with `run_cycles`, this process runs the floor itself (a `FloorSession` in
a worker thread; its event bus publishes into the hub). Otherwise it follows a run database written by
another process (`tools.ledger_events.LedgerFollower`), or only relays what is POSTed to /ingest.
The worker thread never waits on a client: `EventHub.publish` only schedules the fan-out on the loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from floor.database import run_database_exists
from tools.cycle_runner import CycleRunner
from tools.event_hub import EventHub, HubFull

DEFAULT_PORT = 8804


def create_app(hub: EventHub | None = None, *, runner: CycleRunner | None = None, follow_db: str | None = None,
               flush_interval: float = 0.1, poll: float = 0.5, delivery_nice: int = 5) -> FastAPI:
    hub = hub or EventHub()
    follower = None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        nonlocal follower
        hub.loop = asyncio.get_running_loop()
        pinger = asyncio.create_task(hub.ping_loop())
        if runner is not None:
            runner.start()
            if delivery_nice:
                # The trading cycle (the child just started) gets the CPU first; event delivery yields to it.
                with contextlib.suppress(OSError):
                    os.nice(delivery_nice)
        elif follow_db is not None and run_database_exists(follow_db):
            from tools.floor_reader import FloorReader
            from tools.ledger_events import LedgerFollower

            follower = LedgerFollower(FloorReader(follow_db), hub.publish, poll=poll).start()
        yield
        pinger.cancel()
        hub.close()
        if runner is not None:
            await asyncio.to_thread(runner.stop)
        if follower is not None:
            await asyncio.to_thread(follower.stop)

    app = FastAPI(title="Trading Floor event stream", lifespan=lifespan)
    app.state.hub = hub

    @app.get("/events")
    async def events(kind: str | None = Query(None, max_length=200), agent: str | None = Query(None, max_length=500),
                     symbol: str | None = Query(None, max_length=200)) -> StreamingResponse:
        try:
            sub = hub.subscribe(kind, agent, symbol)
        except HubFull as exc:
            raise HTTPException(503, str(exc)) from exc
        return StreamingResponse(hub.stream(sub, flush_interval=flush_interval), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                          "X-Subscriber-Id": str(sub.sid)})

    @app.get("/snapshot")
    async def snapshot() -> dict:
        return {**hub.state, "counts": dict(hub.counts), "recent": list(hub.recent)[-50:],
                "subscribers": len(hub.subscribers), "run": runner.progress if runner else None}

    @app.get("/stats")
    async def stats() -> dict:
        return {**hub.stats(), "run": runner.progress if runner else None, "rss_kb": _rss_kb()}

    @app.post("/ingest")
    async def ingest(request: Request) -> dict:
        body = await request.json()
        evs = body.get("events") if isinstance(body, dict) else None
        if not isinstance(evs, list) or not all(isinstance(e, dict) and "id" in e and "kind" in e for e in evs):
            raise HTTPException(422, "expected {\"events\": [{\"id\": ..., \"kind\": ..., ...}, ...]}")
        hub.publish(evs[:10_000])
        return {"accepted": min(len(evs), 10_000)}

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    return app


def _rss_kb() -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def serve_events(db: str, *, host: str, port: int, run_cycles: int = 0, config_path: str | None = None,
                 wait_subscribers: int = 0, wait_timeout: float = 60.0, max_batches: int = 64,
                 max_subscribers: int = 1000, flush_interval: float = 0.1, seed: int | None = None,
                 sndbuf: int = 64 * 1024) -> None:
    """Build the app and serve it with uvicorn (used by `trading-floor serve events`)."""
    import uvicorn

    from tools.server_config import bearer_token, check_exposure, protect

    hub = EventHub(max_batches=max_batches, max_subscribers=max_subscribers)
    runner = (CycleRunner(hub, db, run_cycles, config_path=config_path, wait_subscribers=wait_subscribers,
                          wait_timeout=wait_timeout, seed=seed) if run_cycles else None)
    app = create_app(hub, runner=runner, follow_db=None if runner else db, flush_interval=flush_interval)
    token = bearer_token()
    check_exposure(host, token)
    config = uvicorn.Config(protect(app, token), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=2, backlog=2048)
    uvicorn.Server(config).run(sockets=[listen_socket(host, port, sndbuf)])


def listen_socket(host: str, port: int, sndbuf: int) -> socket.socket:
    """The listening socket, with a fixed kernel send buffer that every accepted stream inherits.

    Why: with autotuning, the kernel may buffer megabytes for a client that does not read, hiding it from
    the hub; a fixed buffer makes back-pressure reach the subscriber's bounded queue after `sndbuf` bytes
    (plus uvicorn's 64 KiB transport buffer), and bounds kernel memory per client as well.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sndbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
