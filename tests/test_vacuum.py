"""`trading-floor vacuum`: listing branches, dropping a rollback's discarded future and a fork's line, what is
refused, and that what is kept reads exactly as before (exports byte for byte, doctor clean, the run goes on).
Driven as separate processes, as a user would, on SQLite and PostgreSQL."""
from __future__ import annotations

import filecmp
import re
import sqlite3
import uuid
from pathlib import Path

from cli_processes import tf, tf_bg, wait_for_cycle


def _ok(*args: str) -> str:
    out = tf(*args)
    assert out.returncode == 0, out.stdout
    return out.stdout


def _line_with_rollback_and_fork(db: str) -> None:
    """Branch 1 (cycles 0..60, its future after 30 discarded by a rollback), branch 2 continuing it from 30
    to 50 on thread run-1, branch 3 forked from branch 2 at 40 and run to 50 on thread run-1-b3 (current)."""
    _ok("run", "--cycles", "60", "--seed", "7", "--db", db)
    assert "branch 1 keeps the discarded" in " ".join(_ok("rollback", "--to-cycle", "30", "--db", db).split())
    _ok("run", "--cycles", "20", "--db", db)
    assert "run-1-b3" in _ok("fork", "--at-cycle", "40", "--db", db)
    _ok("run", "--cycles", "10", "--db", db)


def _exports(db: str, out: Path, threads: tuple[str, ...] = ("run-1", "run-1-b3")) -> dict[str, Path]:
    dirs = {}
    for thread in threads:
        dirs[thread] = out / thread
        _ok("export", "--db", db, "--thread", thread, "--out", str(dirs[thread]))
    return dirs


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names and names == sorted(p.name for p in b.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert (mismatch, errors) == ([], []), f"exports differ: {mismatch} {errors}"


def _reclaimed(text: str) -> tuple[int, int]:
    m = re.search(r"deleted (\d+) ledger rows and (\d+) checkpoint rows", " ".join(text.split()))
    assert m, text
    return int(m[1]), int(m[2])


def _rows(db: Path, branch: int) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM orders WHERE branch_id=?", (branch,)).fetchone()[0]
    finally:
        conn.close()


def test_vacuum_drops_a_rollbacks_discarded_future_and_a_forks_line_and_keeps_the_rest_exact(tmp_path):
    db = tmp_path / "run.db"
    _line_with_rollback_and_fork(str(db))
    before = _exports(str(db), tmp_path / "before")

    listing = " ".join(_ok("vacuum", "--db", str(db)).split())
    assert "run-1-b3" in listing and "discarded (no thread continues them, rows nobody reads): 1 " in listing

    # refusals: the current thread's branch, a branch a kept fork reads, a branch that does not exist
    for args, reason in ((("--drop", "3"), "is current"), (("--drop", "2"), "run-1-b3"),
                         (("--drop", "99"), "no such branch")):
        out = tf("vacuum", "--db", str(db), *args, "--yes")
        assert out.returncode == 1 and reason in " ".join(out.stdout.split()), out.stdout
        assert [line.split(":")[0] for line in out.stdout.strip().splitlines()] == ["refused"], out.stdout
    # nothing happens without the confirmation
    orders_after_30 = _rows(db, 1)
    declined = tf("vacuum", "--db", str(db), "--drop-discarded")  # stdin is empty: the prompt is declined
    assert declined.returncode == 1 and "trim branch 1 to cycle 30" in " ".join(declined.stdout.split())
    assert _rows(db, 1) == orders_after_30

    out = _ok("vacuum", "--db", str(db), "--drop-discarded", "--yes")
    rows, checkpoints = _reclaimed(out)
    assert rows > 0 and checkpoints == 0
    assert _rows(db, 1) < orders_after_30
    after = _exports(str(db), tmp_path / "after")
    for thread in before:
        _same_files(before[thread], after[thread])
    assert "healthy" in _ok("doctor", "--db", str(db))
    assert "nothing discarded to reclaim" in " ".join(_ok("vacuum", "--db", str(db)).split())

    # the fork's line: switch away from it, then drop it with its thread and checkpoints
    _ok("use", "run-1", "--db", str(db))
    rows, checkpoints = _reclaimed(_ok("vacuum", "--db", str(db), "--drop", "3", "--yes"))
    assert rows > 0 and checkpoints > 0
    assert "run-1-b3" not in _ok("threads", "--db", str(db))
    kept = tmp_path / "kept"
    _ok("export", "--db", str(db), "--out", str(kept))
    _same_files(before["run-1"], kept)
    assert "healthy" in _ok("doctor", "--db", str(db))
    assert "ran to cycle 55" in " ".join(_ok("run", "--cycles", "5", "--db", str(db)).split())
    assert "healthy" in _ok("doctor", "--db", str(db))


def test_vacuum_pauses_the_process_running_the_database_first(tmp_path):
    db = tmp_path / "run.db"
    _ok("run", "--cycles", "40", "--seed", "3", "--db", str(db))
    _ok("rollback", "--to-cycle", "20", "--db", str(db))
    runner = tf_bg("run", "--cycles", "2000", "--db", str(db))
    try:
        wait_for_cycle(db, 45, runner)  # past the 40 cycles of the first run: the runner is running
        out = _ok("vacuum", "--db", str(db), "--drop-discarded", "--yes")
        assert "paused after cycle" in " ".join(out.split())
        assert _reclaimed(out)[0] > 0
        runner.wait(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert "healthy" in _ok("doctor", "--db", str(db))


def test_vacuum_on_postgresql(pg_server, tmp_path):
    db = f"{pg_server.create_database()}&schema=vac_{uuid.uuid4().hex[:6]}"
    _line_with_rollback_and_fork(db)
    before = _exports(db, tmp_path / "before", ("run-1",))
    assert tf("vacuum", "--db", db, "--drop", "2", "--yes").returncode == 1
    rows, _ = _reclaimed(_ok("vacuum", "--db", db, "--drop-discarded", "--yes"))
    assert rows > 0
    _ok("use", "run-1", "--db", db)
    rows, checkpoints = _reclaimed(_ok("vacuum", "--db", db, "--drop", "3", "--yes"))
    assert rows > 0 and checkpoints > 0
    kept = tmp_path / "kept"
    _ok("export", "--db", db, "--out", str(kept))
    _same_files(before["run-1"], kept)
    _ledger_holds(db)  # doctor reads SQLite files; on PostgreSQL its ledger checks run directly
    assert "ran to cycle 55" in " ".join(_ok("run", "--cycles", "5", "--db", db).split())
    _ledger_holds(db)


def _ledger_holds(db: str) -> None:
    from ledger.invariants import check_accounts, check_double_entry
    from ledger.pg_connection import connect

    conn = connect(db)
    try:
        assert check_double_entry(conn) == [] and check_accounts(conn) == []  # the portable ones of doctor's checks
        assert conn.execute("SELECT count(*) FROM branches").fetchone()[0] == 2
    finally:
        conn.close()
