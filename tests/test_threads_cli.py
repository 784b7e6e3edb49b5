"""Switching threads from the command line: fork, switch back, continue the original, compare with a straight run.

Every step is a separate `trading-floor` process on one run database, as a user types them. The original
line continued after a fork must be the same run, fill for fill and order for order, as one that was never
forked; the fork goes on from its own cycle, on its own thread, whichever thread is current.
"""
from __future__ import annotations

import csv
from pathlib import Path

from cli_processes import tf
from floor_helpers import fast_config, write_config

TABLES = ("fills", "orders", "portfolio_values", "marks")


def ok(*args: str) -> str:
    proc = tf(*args)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def exported(db: Path, out: Path, *thread: str) -> dict[str, list[dict]]:
    ok("export", "--db", str(db), "--out", str(out), *thread)
    tables = {}
    for name in TABLES:
        with open(out / f"{name}.csv", newline="") as f:
            tables[name] = list(csv.DictReader(f))
    return tables


def current_thread(db: Path) -> str:
    line = next(x for x in ok("threads", "--db", str(db)).splitlines() if "│ * │" in x)
    return line.split("│")[2].strip()


def test_fork_switch_back_continue_the_original_and_it_equals_a_straight_run(tmp_path):
    cfg = write_config(tmp_path / "fast.yaml", fast_config())
    straight, db = tmp_path / "straight.db", tmp_path / "forked.db"
    ok("run", "--cycles", "10", "--db", str(straight), "--config", str(cfg), "--seed", "5")

    ok("run", "--cycles", "6", "--db", str(db), "--config", str(cfg), "--seed", "5")
    # the fork charges fees: switching back must bring the original's own config back too
    fees = write_config(tmp_path / "fees.yaml", fast_config(fee_bps=25, seed=5))
    out = ok("fork", "--at-cycle", "4", "--db", str(db), "--label", "what-if", "--config", str(fees))
    assert "thread run-1-b2 is now current" in out and "fee_bps" in out
    assert "ran to cycle 7" in ok("run", "--cycles", "3", "--db", str(db))  # the fork: cycles 5-7 on its thread
    assert current_thread(db) == "run-1-b2"

    out = ok("use", "run-1", "--db", str(db))
    assert "thread run-1 is now current" in out and "cycle 6" in out
    assert current_thread(db) == "run-1"
    assert "thread run-1, run 1" in ok("status", "--db", str(db)) and "cycle 6" in ok("status", "--db", str(db))
    assert "ran to cycle 10" in ok("run", "--cycles", "4", "--db", str(db))  # the original: cycles 7-10

    # the fork, continued by name without switching: the current thread stays the original
    assert "ran to cycle 9" in ok("run", "--cycles", "2", "--db", str(db), "--thread", "run-1-b2")
    assert current_thread(db) == "run-1"
    assert "cycle 9" in ok("status", "--db", str(db), "--thread", "run-1-b2")
    history = ok("history", "--db", str(db), "--thread", "run-1-b2", "--limit", "50")
    assert "History of run-1-b2" in history
    threads = ok("threads", "--db", str(db))
    rows = {line.split("│")[2].strip(): [c.strip() for c in line.split("│")[1:-1]]
            for line in threads.splitlines() if "run-1" in line and "│" in line}
    assert rows["run-1"][4] == "10" and rows["run-1-b2"][4] == "9" and rows["run-1-b2"][5] == "run-1"

    # the original line, continued after the fork, is the straight run, row for row
    want = exported(straight, tmp_path / "straight")
    got = exported(db, tmp_path / "original", "--thread", "run-1")
    assert got == want and len(got["fills"]) > 100
    assert {int(r["cycle"]) for r in got["fills"]} == set(range(0, 11))  # cycle 0: the warm-up
    assert exported(db, tmp_path / "current") == want  # the current thread is the original
    # the fork shares cycles 0-4 with it, then goes its own way: with fees
    fork = exported(db, tmp_path / "fork", "--thread", "run-1-b2")
    assert [r for r in fork["fills"] if int(r["cycle"]) <= 4] == [r for r in want["fills"] if int(r["cycle"]) <= 4]
    assert {int(r["cycle"]) for r in fork["fills"]} == set(range(0, 10))
    assert all(r["buyer_fee"] == "0" for r in want["fills"])
    assert any(int(r["buyer_fee"]) > 0 for r in fork["fills"] if int(r["cycle"]) > 4)
    report = tmp_path / "fork.html"
    assert "report written" in ok("report", "--db", str(db), "--thread", "run-1-b2", "--out", str(report))
    assert "branch 2" in report.read_text(encoding="utf-8")


def test_an_unknown_thread_is_one_line_naming_the_threads(tmp_path):
    cfg = write_config(tmp_path / "fast.yaml", fast_config())
    db = tmp_path / "f.db"
    ok("run", "--cycles", "2", "--db", str(db), "--config", str(cfg))
    for args in (("use", "nope"), ("run", "--cycles", "1", "--thread", "nope"), ("status", "--thread", "nope"),
                 ("history", "--thread", "nope"), ("export", "--thread", "nope", "--out", str(tmp_path / "x")),
                 ("report", "--thread", "nope", "--out", str(tmp_path / "r.html"))):
        proc = tf(*args, "--db", str(db))
        assert proc.returncode == 2, (args, proc.stdout)
        assert proc.stdout.strip().splitlines()[-1].endswith(
            f"no thread 'nope' in {db}; its threads: run-1 (see `trading-floor threads`)"), (args, proc.stdout)
    assert "--new starts a new run" in tf("run", "--thread", "run-1", "--new", "--db", str(db)).stdout
