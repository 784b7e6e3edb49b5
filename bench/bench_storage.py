"""Storage of a default rule floor with checkpoints on (issue 21): how much the run database takes, and whether
its growth stays flat.

Figures, all read from one 5,000-cycle run of the default config (ledger and checkpoints share the file):
- bytes per 1,000 cycles: the file at cycle 1,000, and per table (indexes counted with their table) from
  SQLite's dbstat pages; target <= 10 MB;
- growth: bytes per cycle over cycles 100-200 against cycles 4,900-5,000, both as file growth and as dbstat
  page totals; target <= 1.1x.
Every reading is taken between cycles, after a WAL checkpoint (TRUNCATE) that folds the WAL into the file, so
the file is the database. The run's speed is bench_cycle's business; this one only reads sizes.
"""
from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from floor.config import load_config
from floor.session import FloorSession

PER = 1000
EARLY = (100, 200)
LATE = (4900, 5000)
TARGET_MB = 10.0
TARGET_GROWTH = 1.1


@dataclass(frozen=True)
class Reading:
    cycle: int
    file_bytes: int  # the database file (and its WAL, empty after the checkpoint)
    page_bytes: int  # dbstat: the pages the tables and indexes use
    tables: dict[str, int]  # dbstat bytes per table, its indexes included
    wal_busy: bool  # the checkpoint could not fold the whole WAL (a reader held it)


def read(db: Path, cycle: int) -> Reading:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] != 0
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        tables: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            tables[table] = tables.get(table, 0) + size
    finally:
        conn.close()
    files = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    return Reading(cycle, files, sum(tables.values()), tables, busy)


def growth(a: Reading, b: Reading) -> tuple[float, float]:
    """(file bytes per cycle, dbstat page bytes per cycle) between two readings."""
    n = b.cycle - a.cycle
    return (b.file_bytes - a.file_bytes) / n, (b.page_bytes - a.page_bytes) / n


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def report(readings: dict[int, Reading], start: Reading) -> bool:
    at = readings[PER]
    print(f"database after {PER} cycles (ledger + checkpoints, one file): {_mb(at.file_bytes)} "
          f"(target <= {TARGET_MB:.0f} MB); dbstat pages {_mb(at.page_bytes)}; at the start (cycle 0) {_mb(start.file_bytes)}")
    for table, size in sorted(at.tables.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {table:<28} {_mb(size):>10}  {100 * size / at.page_bytes:5.1f} %")
    early = growth(readings[EARLY[0]], readings[EARLY[1]])
    late = growth(readings[LATE[0]], readings[LATE[1]])
    ratios = [b / a if a else float("inf") for a, b in zip(early, late, strict=True)]
    print(f"bytes per cycle, cycles {LATE[0]}-{LATE[1]} against {EARLY[0]}-{EARLY[1]}: file {late[0]:,.0f} vs "
          f"{early[0]:,.0f} -> {ratios[0]:.2f}x; dbstat pages {late[1]:,.0f} vs {early[1]:,.0f} -> {ratios[1]:.2f}x "
          f"(target <= {TARGET_GROWTH}x)")
    final = readings[LATE[1]]
    print(f"  database after {LATE[1]} cycles: {_mb(final.file_bytes)} ({final.file_bytes / LATE[1] * PER / 1e6:.2f} MB "
          f"per {PER} cycles on average)")
    if any(r.wal_busy for r in readings.values()):
        print("  (a WAL checkpoint was busy: some reading includes WAL frames)")
    return at.file_bytes <= TARGET_MB * 1e6 and max(ratios) <= TARGET_GROWTH


def run(tmp: Path) -> bool:
    db = tmp / "storage.db"
    session = FloorSession(db, load_config())
    session.start()
    start = read(db, 0)
    wanted = {EARLY[0], EARLY[1], PER, LATE[0], LATE[1]}
    readings: dict[int, Reading] = {}
    t0 = time.perf_counter()
    try:
        for i, _ in enumerate(session.iter_cycles(LATE[1]), start=1):
            if i in wanted:
                readings[i] = read(db, i)
            if i % 1000 == 0:
                size = (readings.get(i) or read(db, i)).file_bytes
                print(f"  ... {i} cycles, {time.perf_counter() - t0:.0f}s, {_mb(size)}", flush=True)
    finally:
        session.close()
    return report(readings, start)


def main() -> bool:
    with tempfile.TemporaryDirectory() as d:
        return run(Path(d))


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
