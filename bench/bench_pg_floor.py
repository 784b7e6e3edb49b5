"""The whole floor on PostgreSQL against SQLite: cycles of the same rule floor, same seed, same process.

Issue 17's figure: a 1,000-cycle rule floor of the default config (the one `make run` and `bench cycle` run,
checkpoints on) takes at most 2x as long on PostgreSQL (a local durable server on a unix socket) as on
SQLite; the PostgreSQL wall is printed as a ratio of the SQLite wall measured in the same run, with CPU time
of this process beside it (the server's own CPU is not in it) and the load average.

Then the issue's concurrency figure: 4 floors advancing at once from 4 processes on one PostgreSQL database (each
its own schema) reach at least 1.6x the cycles per second of one floor alone, measured in the same run. Each
process opens its floor and its first cycle before a barrier, so start-up falls outside the timed span.
"""
from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from bench import pg_local

CYCLES = 1000
TARGET = 2.0
AT_ONCE = 4
AT_ONCE_CYCLES = 150
AT_ONCE_TARGET = 1.6


def _timed(db: str) -> tuple[float, float]:
    """(wall, CPU) seconds for CYCLES cycles of the default floor on `db`."""
    from floor.config import load_config
    from floor.session import FloorSession

    session = FloorSession(db, load_config())
    try:
        session.own()
        session.start(seed=7)
        start, cpu = time.perf_counter(), time.process_time()
        session.run(CYCLES)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        session.close()


def _floor_worker(url: str, cycles: int, start, out) -> None:
    """One process's floor: opened and its first cycle run, then all start together (`start`, a barrier);
    puts its (start, end) wall-clock times on `out`."""
    from floor.config import load_config
    from floor.session import FloorSession

    session = FloorSession(url, load_config())
    try:
        session.own()
        session.start(seed=7)
        session.run(1)
        start.wait()
        t0 = time.time()
        session.run(cycles)
        out.put((t0, time.time()))
    finally:
        session.close()


def floors_at_once(url: str, n: int, cycles: int = AT_ONCE_CYCLES) -> float:
    """Cycles per second of `n` floors advancing at once from `n` processes, each in its own schema of the
    database at `url`: all their cycles over the span from the first one's start to the last one's end."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_floor_worker, args=(pg_local.fresh_schema(url), cycles, start, out))
             for _ in range(n)]
    for p in procs:
        p.start()
    spans = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a floor process failed (exit code {p.exitcode})")
    return n * cycles / (max(e for _, e in spans) - min(s for s, _ in spans))


def main() -> bool | None:
    with pg_local.server() as url:
        if url is None:
            print("no PostgreSQL server and no binaries to start one: skipped")
            return None
        tmp = Path(tempfile.mkdtemp())
        lite, lite_cpu = _timed(str(tmp / "floor.db"))
        pg, pg_cpu = _timed(pg_local.fresh_schema(url))
        ratio = pg / lite
        print(f"{CYCLES} cycles of the default floor: SQLite {lite:.2f} s (CPU {lite_cpu:.2f} s), PostgreSQL "
              f"{pg:.2f} s (CPU {pg_cpu:.2f} s) -> PostgreSQL/SQLite {ratio:.2f}x (target <= {TARGET:.0f}x); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        one = floors_at_once(url, 1)
        many = floors_at_once(url, AT_ONCE)
        print(f"floors advancing at once on one PostgreSQL database ({AT_ONCE_CYCLES} cycles each, one process "
              f"and one schema per floor): 1: {one:.1f} cycles/s; {AT_ONCE}: {many:.1f} cycles/s in all = "
              f"{many / one:.2f}x one (target >= {AT_ONCE_TARGET}x, on {os.cpu_count()} CPUs shared by the server "
              f"and the floors); load average {os.getloadavg()[0]:.1f}", flush=True)
    return ratio <= TARGET and many / one >= AT_ONCE_TARGET
