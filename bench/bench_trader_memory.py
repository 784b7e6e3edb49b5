"""Traders' episodic memory (issue 19).

Figures:
- retrieval: K=10 nearest (cosine) among 100,000 six-number situation vectors, exact numpy search
  (traders/memory/retrieval.py), median ms per query (p90 beside it); target <= 1 ms. sqlite-vec is measured beside it when it
  can be loaded (it needs `sqlite3.Connection.enable_load_extension`, which some Python builds lack:
  then the reason is printed);
- a rule floor with learning on for all six traders against the same floor without, same seed and
  cycles (default 1,000; `TF_BENCH_MEMORY_CYCLES` to change), the two run in alternating blocks of 50
  cycles so that the other load of a shared machine falls on both: wall-time ratio (target <= 1.15x),
  and the CPU-time ratio beside it.
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from floor.config import load_config
from floor.session import FloorSession
from traders.memory.grids import with_learning
from traders.memory.retrieval import normalized, top_k

N, DIM, K, QUERIES = 100_000, 6, 10, 200


def _retrieval() -> float:
    rng = np.random.default_rng(1)
    unit = normalized(rng.normal(size=(N, DIM)).astype(np.float32))
    queries = rng.normal(size=(QUERIES, DIM)).astype(np.float32)
    top_k(unit, queries[0], K)
    took = []
    for q in queries:
        start = time.perf_counter()
        top_k(unit, q, K)
        took.append(time.perf_counter() - start)
    took.sort()
    ms, p90 = took[len(took) // 2] * 1e3, took[int(len(took) * 0.9)] * 1e3
    print(f"numpy exact top-{K} among {N:,} vectors of {DIM}: {ms:.3f} ms/query median, {p90:.3f} ms p90 "
          "(target <= 1 ms)")
    conn = sqlite3.connect(":memory:")
    if not hasattr(conn, "enable_load_extension"):
        print("sqlite-vec: not measured, this Python's sqlite3 cannot load extensions (no enable_load_extension)")
        return ms
    try:
        import sqlite_vec
    except ImportError:
        print("sqlite-vec: not measured, the package is not installed")
        return ms
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{DIM}] distance_metric=cosine)")
    conn.executemany("INSERT INTO v(rowid, e) VALUES (?, ?)", [(i + 1, unit[i].tobytes()) for i in range(N)])
    start = time.perf_counter()
    for q in queries:
        conn.execute(f"SELECT rowid FROM v WHERE e MATCH ? AND k = {K}", (q.tobytes(),)).fetchall()
    vms = (time.perf_counter() - start) / QUERIES * 1e3
    print(f"sqlite-vec top-{K}: {vms:.3f} ms/query ({vms / ms:.1f}x numpy)")
    return ms


def _floors(cycles: int, block: int = 50) -> tuple[list[float], list[float], int]:
    """([wall s, cpu s] of the fixed floor, the same of the learning floor, memories stored). The two
    floors run side by side in alternating blocks of `block` cycles (which goes first alternates too),
    so a load change on this shared machine falls on both alike."""
    cfg = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        sessions = [FloorSession(Path(tmp) / f"floor{i}.db", c) for i, c in enumerate((cfg, with_learning(cfg)))]
        for s in sessions:
            s.start(seed=7)
        spent = [[0.0, 0.0], [0.0, 0.0]]
        try:
            for b in range(0, cycles, block):
                for i in ((0, 1) if (b // block) % 2 == 0 else (1, 0)):
                    wall, cpu = time.perf_counter(), time.process_time()
                    sessions[i].run(min(block, cycles - b))
                    spent[i][0] += time.perf_counter() - wall
                    spent[i][1] += time.process_time() - cpu
            (n,) = sessions[1].floor.ledger.conn.execute("SELECT count(*) FROM memories").fetchone()
        finally:
            for s in sessions:
                s.close()
    return spent[0], spent[1], n


def main() -> bool:
    ms = _retrieval()
    cycles = int(os.environ.get("TF_BENCH_MEMORY_CYCLES", "1000"))
    (base, base_cpu), (learn, learn_cpu), n = _floors(cycles)
    ratio = learn / base
    print(f"{cycles}-cycle rule floor, learning on for all six ({n:,} memories stored), run side by side in "
          f"blocks: wall {base:.1f} s fixed, {learn:.1f} s learning: {ratio:.2f}x (target <= 1.15x); "
          f"cpu {base_cpu:.1f} s, {learn_cpu:.1f} s: {learn_cpu / base_cpu:.2f}x")
    return ms <= 1.0 and ratio <= 1.15
