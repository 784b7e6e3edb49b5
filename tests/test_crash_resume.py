"""kill -9 in the middle of a run, rerun the same command: it resumes from the last complete cycle."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from floor_helpers import fast_config, ledger_fills, write_config

from floor.session import FloorSession

CLI = [sys.executable, "-c", "from cli.app import app; app()"]


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = os.environ | {"COLUMNS": "120", "TERM": "dumb"}
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, **kw)


def _settled_cycles(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        (c,) = conn.execute("SELECT coalesce(max(cycle), 0) FROM market_journal").fetchone()
        conn.close()
        return c
    except sqlite3.Error:
        return 0


def _fills(db: Path, cycles: int) -> list:
    s = FloorSession(db)
    st = s.state()
    assert st["cycle"] == cycles
    s.floor.align(st["run_id"], st["branch_id"], st["cycle"])
    out = ledger_fills(s, range(1, cycles + 1))
    s.close()
    return out


def test_kill_9_mid_run_then_rerun_resumes_without_losing_or_duplicating_fills(tmp_path):
    cfg_file = tmp_path / "floor.yaml"
    write_config(cfg_file, fast_config())
    total = 40

    reference_db = tmp_path / "reference.db"
    ref = _cli("run", "--cycles", str(total), "--db", str(reference_db), "--config", str(cfg_file))
    assert ref.wait(timeout=300) == 0, ref.stdout.read().decode()

    db = tmp_path / "crash.db"
    proc = _cli("run", "--cycles", "1000", "--db", str(db), "--config", str(cfg_file))
    deadline = time.monotonic() + 120
    while _settled_cycles(db) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    crashed_at = _settled_cycles(db)
    assert 12 <= crashed_at < 1000

    s = FloorSession(db)
    resumed_from = s.state()["cycle"]
    s.close()
    assert resumed_from <= crashed_at  # the checkpoint never runs ahead of the ledger
    again = _cli("run", "--cycles", str(total - resumed_from), "--db", str(db), "--config", str(cfg_file))
    assert again.wait(timeout=300) == 0, again.stdout.read().decode()

    assert _fills(db, total) == _fills(reference_db, total)
