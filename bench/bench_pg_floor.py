"""The whole floor on PostgreSQL against SQLite: cycles of the same rule floor, same seed, same process.

Issue 17's figure: a 1,000-cycle rule floor of the default config (the one `make run` and `bench cycle` run,
checkpoints on) takes at most 2x as long on PostgreSQL (a local durable server on a unix socket) as on
SQLite; the PostgreSQL wall is printed as a ratio of the SQLite wall measured in the same run, with CPU time
of this process beside it (the server's own CPU is not in it) and the load average.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench import pg_local

CYCLES = 1000
TARGET = 2.0


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
    return ratio <= TARGET
