"""The SSE event stream under load: 200 subscribers during a 100-cycle run, plus one deliberately slow one.

The server is a real process (`trading-floor serve events --run-cycles 100`) running a light floor
(tests/floor_helpers.fast_config) in-process and timing its own cycle loop. We measure that run twice:
without subscribers, then with 200 loopback subscribers (half unfiltered, half filtered by kind) and a
slow client whose socket is never read during the run. Every loop is bounded in count and time, and the
servers are stopped at the end.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from pathlib import Path

import httpx
import pytest
from events_server import events_server_process
from floor_helpers import fast_config, write_config

CYCLES = 100
SUBSCRIBERS = 200
QUEUE_BATCHES = 64
FILTERED = "decision,price,cycle_settled"
ID_RE = re.compile(rb"^id: (\S+)\nevent: (\S+)\n", re.M)
DEADLINE = 120.0



@contextlib.contextmanager
def events_server(tmp_path: Path, name: str, wait_subscribers: int, token: str | None = None, cycles: int = CYCLES,
                  queue_batches: int = QUEUE_BATCHES):
    cfg = tmp_path / "fast.yaml"
    write_config(cfg, fast_config())
    with events_server_process(tmp_path / f"{name}.db", "--run-cycles", str(cycles), "--config", str(cfg),
                               "--seed", "7", "--wait-subscribers", str(wait_subscribers), "--wait-timeout", "60",
                               "--queue-batches", str(queue_batches), token=token) as base:
        yield base


def wait_run(base: str) -> dict:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        run = httpx.get(f"{base}/stats", timeout=10).json()["run"]
        assert run["state"] != "failed", run
        if run["state"] == "finished":
            return run
        time.sleep(0.1)
    pytest.fail("the run did not finish in time")


async def subscriber(base: str, kind: str | None) -> bytes:
    """One SSE subscriber over a plain HTTP/1.1 connection (light on the test's own CPU, which shares the
    machine with the run being timed). Reads until the last cycle has settled; returns the raw bytes."""
    host, port = base.removeprefix("http://").split(":")
    end = f'event: cycle_settled\ndata: {{"id":"1:1:{CYCLES}:'.encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        query = f"?kind={kind}" if kind else ""
        writer.write(f"GET /events{query} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
                     .encode())
        buf = bytearray()
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                break
            tail = len(buf)
            buf += chunk
            if end in buf[max(0, tail - len(end)):]:
                break
        assert buf.startswith(b"HTTP/1.1 200"), bytes(buf[:200])
        # Cut at the last cycle's settlement: whatever follows it (the run_finished notice) arrives in the same
        # read or a later one depending on timing, and would make equal streams look different.
        stop = buf.find(end)
        return bytes(buf if stop < 0 else buf[:stop + len(end)])
    finally:
        writer.close()


def slow_subscriber(base: str) -> socket.socket:
    """A client that connects and then does not read: a tiny receive buffer, so the server must queue."""
    host, port = base.removeprefix("http://").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((host, int(port)))
    s.sendall(f"GET /events?kind=trade,price,decision,message,rejection,cycle_settled,system HTTP/1.1\r\n"
              f"Host: {host}:{port}\r\n\r\n".encode())
    return s


def read_rest(s: socket.socket, seconds: float) -> bytes:
    """What a client that did not read gets once it reads, after the run: the rest of its stream, up to the
    final `end` event or the server closing the connection, within `seconds`."""
    s.settimeout(0.5)
    got, deadline = bytearray(), time.monotonic() + seconds
    while b"event: end" not in got and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    return bytes(got)


def ids_of(raw: bytes) -> list[tuple[str, str]]:
    return [(i.decode(), k.decode()) for i, k in ID_RE.findall(raw)]


def check_complete(ids: list[tuple[str, str]]) -> None:
    """Floor events of cycles 1..CYCLES, each cycle's numbers strictly increasing, in order."""
    keys = [tuple(int(x) for x in i.split(":")[2:]) for i, k in ids if k not in ("system", "dropped")]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {c for c, _ in keys} == set(range(1, CYCLES + 1))


def test_200_subscribers_see_the_same_ordered_events_without_slowing_the_run(tmp_path):
    # The machine may be shared (CI): the run without subscribers is timed before AND after the loaded run,
    # and the loaded run is compared with their mean, so slow drift in outside load cancels out.
    with events_server(tmp_path, "baseline", 0) as base:
        before = wait_run(base)["seconds"]

    with events_server(tmp_path, "loaded", SUBSCRIBERS + 1) as base:
        slow = slow_subscriber(base)

        async def crowd():
            tasks = [subscriber(base, None if i % 2 == 0 else FILTERED) for i in range(SUBSCRIBERS)]
            return await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE)

        try:
            streams = asyncio.run(crowd())
            run = wait_run(base)
            stats = httpx.get(f"{base}/stats", timeout=10).json()
            slow_stats = next(s for s in stats["per_subscriber"] if "message" in s["kinds"])
            got = read_rest(slow, 10)  # the slow client now reads: it is told how much it lost
        finally:
            slow.close()

    with events_server(tmp_path, "baseline2", 0) as base:
        after = wait_run(base)["seconds"]
    baseline = (before + after) / 2
    loaded = run["seconds"]
    print(f"\n100 cycles: {before:.2f}s and {after:.2f}s alone, {loaded:.2f}s with {SUBSCRIBERS} subscribers "
          f"(x{loaded / baseline:.2f}); slow client dropped {slow_stats['dropped_events']} events "
          f"in {slow_stats['dropped_batches']} batches; server RSS {stats['rss_kb']} kB")
    assert run["subscribers_at_start"] == SUBSCRIBERS + 1
    full = [ids_of(s) for i, s in enumerate(streams) if i % 2 == 0]
    part = [ids_of(s) for i, s in enumerate(streams) if i % 2 == 1]
    for group in (full, part):
        for i, x in enumerate(group):
            assert x == group[0], (f"subscriber {i} differs: {len(x)} vs {len(group[0])} ids; "
                                   f"only here {sorted(set(x) - set(group[0]))[:5]}, "
                                   f"missing {sorted(set(group[0]) - set(x))[:5]}")
    check_complete(full[0])
    check_complete(part[0])
    assert {k for _, k in full[0]} >= {"trade", "price", "decision", "message", "cycle_settled", "system"}
    assert {k for _, k in part[0]} == set(FILTERED.split(","))
    assert [x for x in full[0] if x[1] in FILTERED.split(",")] == part[0]  # the filter is a projection
    assert all(s["dropped_events"] == 0 for s in stats["per_subscriber"] if s is not slow_stats)
    # the slow client's queue stayed bounded (that it is dropped from is the next test's job: here the socket
    # buffers may take in all 100 cycles)
    assert slow_stats["max_queued_batches"] <= QUEUE_BATCHES
    assert slow_stats["queued_bytes"] <= QUEUE_BATCHES * 64 * 1024
    if slow_stats["dropped_events"]:
        assert b"event: dropped" in got
    assert loaded <= 1.5 * baseline, f"{loaded:.2f}s with subscribers vs {baseline:.2f}s without"


def test_a_client_that_never_reads_is_dropped_from_counted_and_told(tmp_path):
    # The kernel's socket buffers and the server's transport take in a few hundred kB for a client that never
    # reads (about 30 of a full stream's ~12 kB cycles here, autotuned, so more on some machines). A 400-cycle
    # run with an 8-batch queue (~5 MB for this client) overflows it whatever the buffers hold.
    cycles, queue = 400, 8
    with events_server(tmp_path, "slow", 1, cycles=cycles, queue_batches=queue) as base:
        slow = slow_subscriber(base)
        try:
            run = wait_run(base)
            slow_stats = httpx.get(f"{base}/stats", timeout=10).json()["per_subscriber"][0]
            got = read_rest(slow, 30)
        finally:
            slow.close()
    print(f"\n{cycles} cycles, a client that never read: {slow_stats}")
    assert run["subscribers_at_start"] == 1
    assert slow_stats["dropped_events"] > 0 and slow_stats["dropped_batches"] > 0
    assert slow_stats["max_queued_batches"] == queue and slow_stats["queued_batches"] <= queue
    # once it reads, it is told how much it lost, and its last cycle still arrives after the gap
    notes = [json.loads(d) for d in re.findall(rb"event: dropped\ndata: (.*)\n", got)]
    assert notes and notes[-1]["dropped_events"] == slow_stats["dropped_events"]
    assert notes[-1]["dropped_batches"] == slow_stats["dropped_batches"]
    assert f'"id":"1:1:{cycles}:'.encode() in got


def test_hub_bounds_each_queue_drops_the_oldest_cycles_and_counts_them():
    from tools.event_hub import EventHub

    async def main():
        hub = EventHub(max_batches=3)
        hub.loop = asyncio.get_running_loop()
        everyone, aapl = hub.subscribe(), hub.subscribe(kinds="trade,cycle_settled", symbols="AAPL")
        for c in range(1, 11):
            hub.publish([{"id": f"1:1:{c}:0", "kind": "trade", "symbol": "AAPL", "buyer": "a", "seller": "b"},
                         {"id": f"1:1:{c}:1", "kind": "trade", "symbol": "MSFT", "buyer": "a", "seller": "b"},
                         {"id": f"1:1:{c}:2", "kind": "cycle_settled"}])
        await asyncio.sleep(0)  # the loop runs the scheduled fan-outs
        assert len(everyone.queue) == 3 and everyone.dropped_events == 7 * 3 and everyone.dropped_batches == 7
        assert aapl.dropped_events == 7 * 2 and aapl.max_queued == 3
        body = b""
        gen = hub.stream(aapl, flush_interval=0)
        while b"1:1:10:2" not in body:
            body += await asyncio.wait_for(gen.__anext__(), 5)
        assert b"event: dropped" in body and b'"dropped_events":14' in body
        assert [i for i, _ in ids_of(body) if not i.startswith("dropped")] == [
            f"1:1:{c}:{n}" for c in (8, 9, 10) for n in (0, 2)]
        await gen.aclose()
        assert aapl.sid not in hub.subscribers  # a closed stream unsubscribes
    asyncio.run(main())


def test_follower_rebuilds_the_events_of_cycles_settled_by_another_process(tmp_path):
    from floor.session import FloorSession
    from tools.floor_reader import FloorReader
    from tools.ledger_events import LedgerFollower

    db = str(tmp_path / "f.db")
    s = FloorSession(db, fast_config())
    s.start()
    s.run(1)
    got: list[list[dict]] = []
    follower = LedgerFollower(FloorReader(db), got.append)
    assert follower.step() == 0  # it starts at the current cycle
    s.run(2)
    assert follower.step() == 2 and follower.step() == 0
    s.close()
    assert [batch[-1]["kind"] for batch in got] == ["cycle_settled", "cycle_settled"]
    assert [batch[-1]["cycle"] for batch in got] == [2, 3]
    kinds = {e["kind"] for e in got[0]}
    assert {"trade", "price", "decision", "message"} <= kinds
    assert all(e["id"].startswith("1:1:2:") for e in got[0])


def test_with_a_token_every_request_needs_it(tmp_path):
    token = "ev3nts-test-token"
    auth = {"Authorization": f"Bearer {token}"}
    with events_server(tmp_path, "token", 0, token=token) as base:
        for path in ("/health", "/stats", "/snapshot", "/events"):
            r = httpx.get(f"{base}{path}", timeout=10)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert httpx.get(f"{base}/stats", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        assert httpx.get(f"{base}/stats", headers=auth, timeout=10).status_code == 200
        with httpx.stream("GET", f"{base}/events", headers=auth, timeout=30) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
        assert first.startswith(("id:", ":", "event:", "retry:")), first


def test_streams_end_with_a_final_event_after_run_finished_and_stats_count_shared_chunks_once(tmp_path):
    # The kernel's and the server's socket buffers take in about 30 cycles of every kind of event for a client
    # that never reads (measured: 1,000-1,700 events), more when faster cycles coalesce into bigger writes;
    # with 30 cycles a CI run once found the hub's queues empty at the end. 200 cycles fill each slow client's
    # 64-batch queue.
    cycles = 200
    with events_server(tmp_path, "ending", 3, cycles=cycles) as base:
        # two clients with the same filter that never read: the hub queues the same chunks for both
        slow = [slow_subscriber(base) for _ in range(2)]
        try:
            # the response ends (its last chunk) once the run has finished: read() returns, no timeout needed
            with httpx.stream("GET", f"{base}/events?kind=cycle_settled", timeout=DEADLINE) as r:
                raw = r.read()
            stats = httpx.get(f"{base}/stats", timeout=10).json()
        finally:
            for s in slow:
                s.close()
        late = httpx.get(f"{base}/events", timeout=10)  # after the end: the final event at once, then closed
    ids = ids_of(raw)
    assert [k for _, k in ids[:-1]] == ["cycle_settled"] * cycles
    assert ids[-1][1] == "end" and raw.rstrip().endswith(b"}")
    final = raw[raw.rindex(b"data: ") + 6:].strip()
    assert b'"reason":"run_finished"' in final and f'"delivered_events":{cycles}'.encode() in final
    assert late.status_code == 200 and late.text.endswith('"dropped_events":0}\n\n') and "event: end" in late.text
    assert stats["ended"] == "run_finished"
    queued = [s for s in stats["per_subscriber"] if "message" in s["kinds"]]
    assert len(queued) == 2 and all(s["queued_bytes"] > 0 for s in queued), stats["per_subscriber"]
    # the two queues share their chunks: memory counts each chunk once, not once per subscriber
    assert max(s["queued_bytes"] for s in queued) <= stats["queued_bytes_total"]
    assert stats["queued_bytes_total"] < stats["queued_bytes_per_subscriber_sum"]
