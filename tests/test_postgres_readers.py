"""Readers of a PostgreSQL ledger see whole cycles through transactions, never a cycle half written.

A writer process settles cycles of 300 fills (each cycle one transaction); a reader in this process opens
the ledger read-only and, inside `read_snapshot()` (REPEATABLE READ), checks again and again that the fills
it sees are whole cycles and that cash and shares agree with exactly those fills.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ledger.store import Ledger

ROOT = Path(__file__).resolve().parents[1]
N = 300
WRITER = r"""
import sys
from ledger.store import Ledger
from ledger.types import Fill
led = Ledger.open(sys.argv[1], symbols=["AAA"])
led.start_run(config={}, seed=1)
led.open_account("a", cash=10**12)
led.open_account("b", cash=0, holdings={"AAA": 10**9})
print("ready", flush=True)
for c in range(1, int(sys.argv[2]) + 1):
    with led.transaction():
        assert led.settle(c, [Fill(f"F{c}-{i}", c, i, "AAA", 100 + c % 7, 1 + i % 3, "a", "b")
                              for i in range(int(sys.argv[3]))]).settled == int(sys.argv[3])
        led.record_trace(c, "a", "settle", "done", {"cycle": c})
"""


def test_a_reader_sees_whole_cycles_only(pg_url):
    url = f"{pg_url}&schema=r_{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url, "60", str(N)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    reader = Ledger.open(url, readonly=True)
    checks, seen = 0, set()
    while proc.poll() is None or checks == 0:
        with reader.read_snapshot():
            rows = reader.conn.execute("SELECT cycle, count(*), sum(price * qty), sum(qty) FROM fills "
                                       "GROUP BY cycle ORDER BY cycle").fetchall()
            traces = {t["cycle"] for t in reader.traces(limit=None)}
            cash_b, held_a = reader.cash("b"), reader.holdings("a").get("AAA", 0)
        assert all(n == N for _, n, _, _ in rows), rows
        assert {c for c, *_ in rows} == traces  # the trace of a cycle commits with its fills
        assert cash_b == sum(int(r[2]) for r in rows) and held_a == sum(int(r[3]) for r in rows)
        seen.add(len(rows))
        checks += 1
        time.sleep(0.01)
    assert proc.wait() == 0
    assert len(seen) > 3  # the reader really watched the run advance
    with pytest.raises(Exception, match="read-only"):  # noqa: PT011 - psycopg.errors.ReadOnlySqlTransaction
        reader.conn.execute("DELETE FROM fills")  # the server refuses writes on a reader's session
    reader.close()
