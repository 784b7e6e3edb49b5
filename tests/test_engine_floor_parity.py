"""The whole floor on the compiled matching engine and on the pure-Python one: the same run, fill for fill.

The two runs also use different string-hash seeds (PYTHONHASHSEED), and every ledger table is compared
row by row in insertion order: what a run records must not depend on how Python hashes strings.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from market import book_engine

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import hashlib, sys, tempfile
from pathlib import Path
sys.path.insert(0, "tests")
from floor_helpers import fast_config, ledger_fills
from floor.session import FloorSession
from market.book_engine import ENGINE
s = FloorSession(Path(tempfile.mkdtemp()) / "f.db", fast_config(seed=21))
s.start()
s.run(40)
fills = ledger_fills(s, range(1, 41))
board = [(r["account"], r["value"]) for r in s.floor.ledger.leaderboard(s.floor.marks())]
print(ENGINE, len(fills), hashlib.sha256(repr((fills, board)).encode()).hexdigest())
conn = s.floor.ledger.db.conn
# LangGraph's checkpoints carry random ids and wall times; the lease records a pid: not the run's record
skip = ("market_snapshots", "checkpoints", "writes", "floor_lease", "floor_commands", "sqlite_sequence")
for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").fetchall():
    if table in skip:
        continue
    try:  # insertion order where there is one; tables without rowid in primary-key order
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    except Exception:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    print(f"{table}:{len(rows)}:{hashlib.sha256(repr(rows).encode()).hexdigest()[:16]}")
s.close()
"""


def _run(pure: bool) -> list[str]:
    env = dict(os.environ, TRADING_FLOOR_PURE_BOOK="1" if pure else "0", PYTHONHASHSEED="2" if pure else "1")
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(book_engine.COMPILED is None, reason="the compiled engine is not built here")
def test_a_floor_run_is_the_same_on_both_engines():
    compiled, python = _run(pure=False), _run(pure=True)
    assert (compiled[0], python[0]) == ("compiled", "python")
    assert int(compiled[1]) > 200  # a busy market, not an empty comparison
    assert compiled[1:] == python[1:]
    tables = {line.split(":")[0] for line in compiled[3:]}
    assert {"fills", "traces", "balances", "positions", "orders", "messages"} <= tables
