"""The whole floor on PostgreSQL against SQLite: cycles of the same rule floor, same seed, same process.

Prints the PostgreSQL wall as a ratio of the SQLite wall measured in the same run (the tests' fast config,
tests/floor_helpers.py, so a cycle is mostly storage and graph work). No target: the figure is reported.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench import pg_local

CYCLES = 50
REPEATS = 3


def _wall(db: str) -> float:
    from floor.session import FloorSession

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from floor_helpers import fast_config
    finally:
        sys.path.pop(0)
    session = FloorSession(db, fast_config())
    try:
        session.own()
        session.start(seed=7)
        start = time.perf_counter()
        session.run(CYCLES)
        return time.perf_counter() - start
    finally:
        session.close()


def main() -> bool | None:
    with pg_local.server() as url:
        if url is None:
            print("no PostgreSQL server and no binaries to start one: skipped")
            return None
        tmp = Path(tempfile.mkdtemp())
        for rep in range(REPEATS):
            lite = _wall(str(tmp / f"floor{rep}.db"))
            pg = _wall(pg_local.fresh_schema(url))
            print(f"{CYCLES} cycles: SQLite {lite:.2f} s, PostgreSQL {pg:.2f} s -> PostgreSQL/SQLite {pg / lite:.2f}x",
                  flush=True)
    return None
