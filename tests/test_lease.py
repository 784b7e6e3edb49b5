"""The single-writer lease and the command queue, against real processes that hold or lose the lease."""
from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from cli_processes import tf
from floor_helpers import fast_config, write_config

from floor.ownership import lease as lease_mod
from floor.ownership.lease import LeaseHeld, LeaseLost, acquire_lease, read_holder
from floor.session import FloorSession

HOLDER = textwrap.dedent("""
    import sys, time
    from floor.ownership.lease import acquire_lease
    lease = acquire_lease(sys.argv[1], command=sys.argv[2], accepts_commands=sys.argv[3] == "1")
    print("held", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def run_db(tmp_path):
    cfg = write_config(tmp_path / "floor.yaml", fast_config())
    db = tmp_path / "floor.db"
    assert tf("run", "--cycles", "4", "--db", str(db), "--config", str(cfg)).returncode == 0
    return db


@pytest.fixture
def holder_process(run_db):
    """A process that takes the lease and never reaches a cycle boundary (a stuck owner)."""
    procs = []

    def start(command: str = "stuck owner", accepts: bool = True) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_db), command, "1" if accepts else "0"],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "held"
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=30)


def _write_holder(db, **fields):
    now = time.time()
    row = dict(token="t", epoch=1, pid=999_999, proc_start=None, host=socket.gethostname(), command="x",
               accepts_commands=1, since=now, heartbeat=now) | fields
    conn = sqlite3.connect(db)
    conn.execute(lease_mod.SCHEMA)
    conn.execute("INSERT OR REPLACE INTO floor_lease (id, token, epoch, pid, proc_start, host, command, "
                 "accepts_commands, since, heartbeat) VALUES (1, :token, :epoch, :pid, :proc_start, :host, :command, "
                 ":accepts_commands, :since, :heartbeat)", row)
    conn.commit()
    conn.close()


def test_a_holder_on_another_host_is_alive_while_its_heartbeat_is_fresh(run_db):
    _write_holder(run_db, host="elsewhere", pid=os.getpid() + 1_000_000, command="trading-floor run")
    with pytest.raises(LeaseHeld, match=r"pid \d+ on elsewhere \(`trading-floor run`"):
        acquire_lease(str(run_db))
    _write_holder(run_db, host="elsewhere", heartbeat=time.time() - lease_mod.STALE_AFTER_S - 1)
    lease = acquire_lease(str(run_db))
    try:
        holder = read_holder(sqlite3.connect(run_db))
        assert holder.pid == os.getpid() and holder.epoch == 2  # taken over, fenced by a new epoch
    finally:
        lease.release()
    assert read_holder(sqlite3.connect(run_db)) is None


def test_a_reused_pid_does_not_keep_a_dead_holders_lease(run_db):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _write_holder(run_db, pid=sleeper.pid, proc_start=lease_mod._proc_start(sleeper.pid))
        with pytest.raises(LeaseHeld):
            acquire_lease(str(run_db))
        _write_holder(run_db, pid=sleeper.pid, proc_start="1")  # same pid, another process's start time
        acquire_lease(str(run_db)).release()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_heartbeat_renews_and_notices_a_takeover(run_db, monkeypatch):
    monkeypatch.setattr(lease_mod, "HEARTBEAT_S", 0.05)
    lease = acquire_lease(str(run_db))
    try:
        first = read_holder(sqlite3.connect(run_db)).heartbeat
        time.sleep(0.3)
        assert read_holder(sqlite3.connect(run_db)).heartbeat > first
        _write_holder(run_db, token="successor")
        deadline = time.monotonic() + 5
        while lease.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lease.lost == "another process took over this run database's lease"
    finally:
        lease.release()
    assert read_holder(sqlite3.connect(run_db)).token == "successor"  # release never deletes another's row


def test_a_writer_that_lost_its_lease_cannot_commit_a_cycle(run_db):
    session = FloorSession(run_db)
    try:
        session.run(1)
        settled = session.state()["cycle"]
        _write_holder(run_db, token="successor", pid=os.getpid())  # a successor took the run over
        with pytest.raises(LeaseLost, match="another process took over this run database's lease"):
            session.run(1)
        conn = sqlite3.connect(run_db)
        assert conn.execute("SELECT max(cycle) FROM market_journal").fetchone()[0] == settled
        conn.close()
    finally:
        session.close()


def test_a_command_to_an_owner_that_never_reaches_a_boundary_is_withdrawn_not_lost(run_db, holder_process):
    owner = holder_process("trading-floor run --cycles 9")
    out = tf("rollback", "--to-cycle", "1", "--db", str(run_db), "--timeout", "1")
    text = " ".join(out.stdout.split())
    assert out.returncode == 2, text
    assert re.fullmatch(rf"delivering the rollback to pid {owner.pid} \(`trading-floor run --cycles 9`, since "
                        rf"\d\d:\d\d:\d\d\): it applies it at its next cycle boundary error: not delivered: pid "
                        rf"{owner.pid} \(`trading-floor run --cycles 9`, since \d\d:\d\d:\d\d\) owns this run and did "
                        r"not reach a cycle boundary within 1 s \(a cycle may be waiting for approval or a slow "
                        r"LLM\); nothing was changed", text), text
    conn = sqlite3.connect(run_db)
    assert conn.execute("SELECT kind, status FROM floor_commands").fetchall() == [("rollback", "withdrawn")]
    assert conn.execute("SELECT count(*) FROM branches").fetchone()[0] == 1
    conn.close()


def test_a_command_whose_owner_dies_is_applied_by_the_caller(run_db, holder_process):
    owner = holder_process()
    proc = subprocess.Popen([sys.executable, "-c", "from cli.app import app; app()", "rollback",
                             "--to-cycle", "2", "--db", str(run_db), "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    conn = sqlite3.connect(run_db)
    while time.monotonic() < deadline:
        try:
            if conn.execute("SELECT count(*) FROM floor_commands WHERE status = 'pending'").fetchone()[0]:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    owner.kill()
    out, _ = proc.communicate(timeout=120)
    text = " ".join(out.split())
    assert proc.returncode == 0, text
    assert "rolled back to cycle 2; continuing on branch 2 (branch 1 keeps the discarded future)" in text
    assert conn.execute("SELECT status FROM floor_commands").fetchall() == [("withdrawn",)]
    conn.close()


def test_an_owner_that_takes_no_commands_is_named_in_the_refusal(run_db, holder_process):
    owner = holder_process("langgraph dev", accepts=False)
    out = tf("pause", "--db", str(run_db))
    text = " ".join(out.stdout.split())
    assert out.returncode == 2 and re.fullmatch(
        rf"error: not done: pid {owner.pid} \(`langgraph dev`, since \d\d:\d\d:\d\d\) owns this run and takes no "
        r"pause requests; use its own controls, or stop it first", text), text
    busy = tf("run", "--cycles", "1", "--db", str(run_db))
    assert busy.returncode == 3 and f"pid {owner.pid} (`langgraph dev`" in busy.stdout

