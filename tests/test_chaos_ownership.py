"""Chaos: three windows issue random commands on one run database, and some runs are killed with kill -9.

Each of three workers sends a seeded random sequence of `run`, `rollback`, `fork`, `status` and `export`
commands as separate processes, at the same time as the others, and kills some of its runs at a random
moment. Afterwards:
- no command failed in a way a person cannot read: every process that was not killed exited 0, 2 (a
  refusal with a sentence) or 3 (busy, naming the owner), and none printed a traceback;
- `trading-floor doctor` finds the database healthy (ledger invariants, checkpoints against the ledger);
- every acknowledged rollback and fork is in the database, as acknowledged;
- every line of the run (each thread, with its branch lineage) holds exactly the fills a straight,
  single-process run of the same seed has at the same cycles: the history equals a serial replay of the
  acknowledged commands (with one config, a replay from any cycle reproduces the original cycles).
"""
from __future__ import annotations

import csv
import random
import re
import signal
import sqlite3
import threading
import time
from collections import Counter

from cli_processes import tf, tf_bg
from floor_helpers import fast_config, write_config

from floor.session import FloorSession

STEPS_PER_WORKER = 8
SEED = 20261204


def _command(rng: random.Random, db: str, out_dir: str, runner: bool) -> tuple[list[str], int | None]:
    """A command line, and for some runs the number of cycles after which to kill -9 them. The runner
    window mostly runs the floor, long; the other two mostly steer and read while it runs."""
    weights = [8, 1, 1, 0, 0] if runner else [2, 3, 2, 1, 1]
    kind = rng.choices(["run", "rollback", "fork", "status", "export"], weights=weights)[0]
    if kind == "run":
        kill_after = rng.randint(1, 40) if rng.random() < 0.4 else None
        cycles = 400 if kill_after else rng.randint(20, 150 if runner else 30)
        return ["run", "--cycles", str(cycles), "--db", db, *(["--wait"] if rng.random() < 0.3 else [])], kill_after
    if kind == "rollback":
        return ["rollback", "--to-cycle", str(rng.randint(0, 30)), "--db", db, "--timeout", "20"], None
    if kind == "fork":
        return ["fork", "--at-cycle", str(rng.randint(0, 20)), "--db", db, "--timeout", "20"], None
    if kind == "export":
        return ["export", "--db", db, "--out", out_dir], None
    return ["status", "--db", db], None


def _journal_rows(db: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM market_journal").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _kill_after_cycles(proc, db: str, cycles: int) -> bool:
    """kill -9 the run once `cycles` more cycles are settled (mid-run), unless it ended first."""
    start = _journal_rows(db)
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        if _journal_rows(db) >= start + cycles:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return True
    return False


def _worker(n: int, db: str, tmp, log: list, lock: threading.Lock) -> None:
    rng = random.Random(SEED * 10 + n)
    deadline = time.monotonic() + 240
    for step in range(STEPS_PER_WORKER):
        if time.monotonic() > deadline:
            break
        args, kill_after = _command(rng, db, str(tmp / f"export-{n}-{step}"), runner=n == 0)
        proc = tf_bg(*args)
        killed = _kill_after_cycles(proc, db, kill_after) if kill_after else False
        out, _ = proc.communicate(timeout=180)
        with lock:
            log.append({"worker": n, "args": args, "code": proc.returncode, "out": " ".join(out.split()),
                        "killed": killed})
        time.sleep(rng.uniform(0, 0.3))


def _line_fills(db, thread_id: str) -> tuple[int, list[tuple]]:
    s = FloorSession(db, readonly=True, thread_id=thread_id)
    try:
        st = s.state()
        s.floor.ledger.use(st["run_id"], st["branch_id"])
        rows = [r for r in s.floor.ledger.fills(limit=None) if r["cycle"] <= st["cycle"]]
        return st["cycle"], [tuple(sorted((k, v) for k, v in r.items() if k not in ("branch_id", "seq", "run_id")))
                             for r in rows]
    finally:
        s.close()


def test_three_windows_with_random_commands_and_kill_9_leave_a_consistent_run(tmp_path):
    cfg = write_config(tmp_path / "floor.yaml", fast_config())
    db = tmp_path / "floor.db"
    first = tf("run", "--cycles", "3", "--db", str(db), "--config", str(cfg))
    assert first.returncode == 0, first.stdout

    log: list[dict] = []
    lock = threading.Lock()
    workers = [threading.Thread(target=_worker, args=(n, str(db), tmp_path, log, lock)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=400)
    assert not any(w.is_alive() for w in workers)
    assert len(log) == 3 * STEPS_PER_WORKER

    for entry in log:
        if entry["killed"]:
            continue
        assert entry["code"] in (0, 2, 3), entry
        assert "Traceback" not in entry["out"] and "Error:" not in entry["out"].replace("error:", ""), entry
        if entry["code"] == 3:
            assert re.search(r"busy: .* is in use: pid \d+ \(`trading-floor (run|rollback|fork|reset|pause)", entry["out"]), entry
    kinds = {(e["args"][0], e["code"]) for e in log}
    delivered = sum("delivering the" in e["out"] for e in log)
    for e in log:
        if e["code"] == 2:
            print("refused:", e["args"][0], e["out"][-160:])
    print(f"chaos: {len(log)} commands, {sum(e['killed'] for e in log)} killed, {delivered} delivered to an "
          f"owner, outcomes {sorted(Counter((e['args'][0], e['code']) for e in log).items())}")
    assert ("run", 0) in kinds and any(e["killed"] for e in log), kinds  # the chaos really happened

    doctor = tf("doctor", "--db", str(db))
    assert doctor.returncode == 0, doctor.stdout

    conn = sqlite3.connect(db)
    branches = {b: (p, c) for b, p, c in conn.execute("SELECT branch_id, parent_id, fork_cycle FROM branches")}
    threads = {t: f for t, f in conn.execute("SELECT thread_id, forked_at FROM floor_threads")}
    conn.close()
    for e in log:
        if e["code"] != 0:
            continue
        if e["args"][0] == "rollback":
            m = re.search(r"rolled back to cycle (\d+); continuing on branch (\d+)", e["out"])
            cycle, branch = int(m.group(1)), int(m.group(2))
            assert branch in branches and (branches[branch][1] == cycle or branch == 1), (e, branches)
        if e["args"][0] == "fork":
            m = re.search(r"forked at cycle (\d+): thread (\S+) is now current", e["out"])
            assert threads.get(m.group(2)) == int(m.group(1)), (e, threads)

    lines = {t: _line_fills(db, t) for t in threads}
    top = max(c for c, _ in lines.values())
    ref_db = tmp_path / "reference.db"
    ref = tf("run", "--until", str(top), "--db", str(ref_db), "--config", str(cfg))
    assert ref.returncode == 0, ref.stdout
    ref_out = tmp_path / "reference-export"
    assert tf("export", "--db", str(ref_db), "--out", str(ref_out)).returncode == 0
    with open(ref_out / "fills.csv") as f:
        reference = [r for r in csv.DictReader(f)]
    for thread, (cycle, fills) in lines.items():
        expected = [tuple(sorted((k, _typed(k, v)) for k, v in r.items() if k not in ("branch_id", "seq", "run_id")))
                    for r in reference if int(r["cycle"]) <= cycle]
        assert fills == expected, f"thread {thread} differs from the straight run up to cycle {cycle}"


def _typed(key: str, value: str):
    return int(value) if value.lstrip("-").isdigit() else value
