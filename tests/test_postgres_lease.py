"""The single-writer lease on PostgreSQL: an advisory lock held by the lease's own connection.

Real processes on the test server: a second process is refused with a sentence naming the holder; a
holder killed with SIGKILL frees the lock at once (the server ends its session); fencing refuses a writer
whose lease was taken over; four processes queueing for one run never hold it at the same time; floors
in other schemas of the same database do not contend.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from floor.ownership.lease import LeaseHeld, LeaseLost, acquire_lease, live_holder
from ledger.pg_connection import connect

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from floor.ownership.lease import acquire_lease
lease = acquire_lease(sys.argv[1], command="holder " + sys.argv[2], wait=float(sys.argv[3]))
print("held", flush=True)
print("at", time.time(), flush=True)
time.sleep(float(sys.argv[4]))
t = time.time()
lease.release()
print("until", t, flush=True)
print("released", flush=True)
"""


@pytest.fixture
def run_url(pg_url):
    return f"{pg_url}&schema=run_{uuid.uuid4().hex[:8]}"


def _holder(url: str, name: str, wait: float = 0.0, hold: float = 600.0) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", HOLD, url, name, str(wait), str(hold)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_line(proc: subprocess.Popen, text: str) -> None:
    for line in proc.stdout:
        if line.strip() == text:
            return
    raise AssertionError(f"{text!r} never came; exit {proc.wait()}")


def test_a_second_process_is_refused_naming_the_holder_and_kill_9_frees_it_at_once(run_url):
    proc = _holder(run_url, "A")
    try:
        _wait_line(proc, "held")
        with pytest.raises(LeaseHeld) as held:
            acquire_lease(run_url, command="me")
        assert f"pid {proc.pid}" in str(held.value) and "holder A" in str(held.value)
        conn = connect(run_url, pooled=False)
        assert live_holder(conn).pid == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        t0 = time.monotonic()
        lease = acquire_lease(run_url, command="me", wait=10)  # no staleness to wait for: the server knows
        assert time.monotonic() - t0 < 5
        assert live_holder(conn).pid == os.getpid() and lease.holder.epoch == 2
        lease.release()
        assert live_holder(conn) is None
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fencing_refuses_a_writer_whose_lock_was_taken_over(run_url):
    lease = acquire_lease(run_url, command="first")
    writer = connect(run_url, pooled=False)
    lease.assert_held(writer)
    # the lock's session is ended from outside (an operator, a network cut): a successor takes over
    with psycopg.connect(run_url.split("&schema=")[0], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                      "AND classid = 29798")
    proc = _holder(run_url, "successor", wait=10)
    try:
        _wait_line(proc, "held")
        with pytest.raises(LeaseLost):
            lease.assert_held(writer)
    finally:
        proc.kill()
        proc.wait()
        writer.close()


def test_four_processes_queue_and_never_hold_the_lease_together(run_url):
    procs = [_holder(run_url, f"p{i}", wait=120, hold=0.3) for i in range(4)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    spans = []
    for out in outs:
        words = out.split()
        assert words[0] == "held" and words[-1] == "released", out
        spans.append((float(words[words.index("at") + 1]), float(words[words.index("until") + 1])))
    spans.sort()
    for (_, end_a), (start_b, _) in zip(spans, spans[1:], strict=False):
        assert end_a <= start_b  # each took the lease only after the one before had let it go
    conn = connect(run_url, pooled=False)
    assert live_holder(conn) is None
    conn.close()


def test_floors_in_other_schemas_do_not_contend(pg_url):
    a = acquire_lease(f"{pg_url}&schema=floor_a")
    b = acquire_lease(f"{pg_url}&schema=floor_b")
    assert a is not b and a.token != b.token
    a.release()
    b.release()
