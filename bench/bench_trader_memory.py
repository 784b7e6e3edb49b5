"""Traders' episodic memory (issue 19).

Figures:
- retrieval: K=10 nearest (cosine) among 100,000 six-number situation vectors, exact numpy search
  (traders/memory/retrieval.py), ms per query; target <= 1 ms. sqlite-vec is measured beside it when it
  can be loaded (it needs `sqlite3.Connection.enable_load_extension`, which some Python builds lack:
  then the reason is printed);
- a rule floor with learning on for all six traders against the same floor without, same seed and
  cycles (default 1,000; `TF_BENCH_MEMORY_CYCLES` to change): time ratio; target <= 1.15x.
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
from traders.memory.retrieval import normalized, top_k

N, DIM, K, QUERIES = 100_000, 6, 10, 200
GRIDS = {"momentum": ("threshold", (0.005, 0.015, 0.03)), "mean_reversion": ("entry_z", (1.0, 2.0, 3.0)),
         "trend_following": ("band", (0.001, 0.002, 0.005)), "sentiment": ("threshold", (0.2, 0.3, 0.5)),
         "arbitrage": ("threshold", (0.001, 0.002, 0.004)), "risk_parity": ("band", (0.02, 0.03, 0.05))}


def _retrieval() -> float:
    rng = np.random.default_rng(1)
    unit = normalized(rng.normal(size=(N, DIM)).astype(np.float32))
    queries = rng.normal(size=(QUERIES, DIM)).astype(np.float32)
    top_k(unit, queries[0], K)
    start = time.perf_counter()
    for q in queries:
        top_k(unit, q, K)
    ms = (time.perf_counter() - start) / QUERIES * 1e3
    print(f"numpy exact top-{K} among {N:,} vectors of {DIM}: {ms:.3f} ms/query (target <= 1 ms)")
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


def _floor_seconds(cycles: int, learning: bool) -> float:
    cfg = load_config()
    if learning:
        traders = [t.model_dump() | ({"learning": {"param": GRIDS[t.theory][0], "grid": GRIDS[t.theory][1]}}
                                     if t.theory in GRIDS else {}) for t in cfg.traders]
        cfg = type(cfg).model_validate(cfg.model_dump() | {"traders": traders})
    with tempfile.TemporaryDirectory() as tmp:
        s = FloorSession(Path(tmp) / "floor.db", cfg)
        s.start(seed=7)
        start = time.perf_counter()
        s.run(cycles)
        took = time.perf_counter() - start
        if learning:
            (n,) = s.floor.ledger.conn.execute("SELECT count(*) FROM memories").fetchone()
            print(f"  learning run stored {n:,} memories")
        s.close()
    return took


def main() -> bool:
    ms = _retrieval()
    cycles = int(os.environ.get("TF_BENCH_MEMORY_CYCLES", "1000"))
    base = _floor_seconds(cycles, False)
    learn = _floor_seconds(cycles, True)
    ratio = learn / base
    print(f"{cycles}-cycle rule floor: {base:.1f} s fixed, {learn:.1f} s learning (all six): {ratio:.2f}x "
          "(target <= 1.15x)")
    return ms <= 1.0 and ratio <= 1.15
