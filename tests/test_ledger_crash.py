"""Crash safety: a writer process killed with SIGKILL in the middle of a settlement batch.

On both backends (a SQLite file; a schema of the test PostgreSQL server, whose server process lives
on while the client dies). After reopening, every batch (one cycle, 500 fills) is wholly present or wholly absent, the balances
agree with the fills that are present, and retrying the interrupted batch completes it exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.store import Ledger
from ledger.types import Fill

REPO = Path(__file__).resolve().parents[1]
N = 500
CHILD = r"""
import sys, time
from ledger.store import Ledger
from ledger.types import Fill
import ledger.settlement as settlement

path, pause_at, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
led = Ledger.open(path, symbols=["AAA"])
led.start_run(config={}, seed=1)
led.open_account("a", cash=10**12)
led.open_account("b", cash=0, holdings={"AAA": 10**9})
print("ready", flush=True)

real_apply = settlement.apply
def apply(conn, st, cycle, fills):
    real_apply(conn, st, cycle, fills)
    if cycle == pause_at:  # every row of the batch is written, the transaction is not committed
        print("inside", flush=True)
        time.sleep(60)
settlement.apply = apply  # the compiled twin's settle too (market/compiled_twin.py _TwinnedModule)

def batch(c):
    return [Fill(f"F{c}-{i}", c, i, "AAA", 100 + c % 7, 1 + i % 3, "a", "b") for i in range(N)]

c = 0
while True:
    c += 1
    assert led.settle(c, batch(c)).settled == N
    print(f"done {c}", flush=True)
"""


def batch(c: int) -> list[Fill]:
    return [Fill(f"F{c}-{i}", c, i, "AAA", 100 + c % 7, 1 + i % 3, "a", "b") for i in range(N)]


def run_and_kill(path: Path | str, pause_at: int, kill_after_done: int | None, delay: float) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(pause_at), str(N)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == "inside" or (kill_after_done and line.strip() == f"done {kill_after_done}"):
                break
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def verify(path: Path | str) -> int:
    """Check all-or-nothing batches and balances; return the number of complete cycles."""
    led = Ledger.open(path)
    rows = led.conn.execute("SELECT cycle, count(*), sum(price * qty), sum(qty) FROM fills GROUP BY cycle ORDER BY cycle").fetchall()
    cycles = [r[0] for r in rows]
    assert cycles == list(range(1, len(cycles) + 1))
    assert all(r[1] == N for r in rows), rows
    paid, shares = sum(r[2] for r in rows), sum(r[3] for r in rows)
    assert led.cash("a") == 10**12 - paid and led.cash("b") == paid
    assert led.holdings("a").get("AAA", 0) == shares and led.holdings("b")["AAA"] == 10**9 - shares
    assert led.dump_state()["positions"][("a", "AAA")][3] == shares  # open long lots
    # retrying the next batch applies it once; retrying a stored one is a no-op
    nxt = len(cycles) + 1
    assert led.settle(nxt, batch(nxt)).settled == N
    assert led.settle(nxt, batch(nxt)).duplicates == N
    led.close()
    return len(cycles)


def test_kill_inside_uncommitted_batch(ledger_backend):
    path = ledger_backend.target()  # a file, or a schema on the test server
    run_and_kill(path, pause_at=4, kill_after_done=None, delay=0.05)
    assert verify(path) == 3  # the batch of cycle 4 was fully written but never committed: absent


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.011])
def test_kill_at_random_points_while_settling(ledger_backend, delay):
    path = ledger_backend.target()
    run_and_kill(path, pause_at=-1, kill_after_done=2, delay=delay)
    assert verify(path) >= 2
