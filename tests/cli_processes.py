"""Helpers for tests that drive `trading-floor` as separate processes on one run database."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

TRADING_FLOOR = [str(Path(sys.executable).with_name("trading-floor"))]
ENV = os.environ | {"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}


def tf(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command to its end; output (stdout and stderr together) as text."""
    return subprocess.run([*TRADING_FLOOR, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=ENV | (env or {}))


def tf_bg(*args: str, env: dict | None = None) -> subprocess.Popen:
    """Start a command in the background."""
    return subprocess.Popen([*TRADING_FLOOR, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV | (env or {}))


def settled_cycle(db: Path) -> int:
    """The newest cycle any branch has settled (its market journal is written by the settle node)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            (c,) = conn.execute("SELECT coalesce(max(cycle), 0) FROM market_journal").fetchone()
        finally:
            conn.close()
        return c
    except sqlite3.Error:
        return 0


def wait_for_cycle(db: Path, cycle: int, proc: subprocess.Popen | None = None, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while (c := settled_cycle(db)) < cycle:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended early ({proc.returncode}): {proc.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"cycle {cycle} not reached in {timeout} s (at {c})")
        time.sleep(0.05)
    return c


def lease_pid(db: Path) -> int | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT pid FROM floor_lease WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    return row[0] if row else None
