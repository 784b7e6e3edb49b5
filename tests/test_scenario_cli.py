"""`trading-floor run --scenario` and `fork --scenario` as separate processes, and their one-line refusals."""
from __future__ import annotations

import sqlite3

from cli_processes import tf
from floor_helpers import fast_config, write_config

from ledger.packed_history import unpacked_rows


def _events(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        # traces are stored packed per cycle (ledger/packed_history.py)
        rows = [(b, c, payload) for _, b, c, _, _, kind, payload in unpacked_rows(conn, "traces")
                if kind == "scenario_event"]
    finally:
        conn.close()
    return rows


def test_run_and_fork_with_a_scenario_from_the_command_line(tmp_path):
    db, cfg = str(tmp_path / "f.db"), tmp_path / "floor.yaml"
    write_config(cfg, fast_config(warmup_cycles=3))
    out = tf("run", "--cycles", "6", "--db", db, "--config", str(cfg), "--seed", "4", "--scenario", "halt-component")
    assert out.returncode == 0, out.stdout
    assert "ran to cycle 6" in out.stdout
    main = _events(db)
    assert [c for _, c, p in main if '"halt"' in p] == [4]
    again = tf("run", "--cycles", "1", "--db", db, "--scenario", "crash")
    assert again.returncode == 2 and "error: --scenario applies to a new run" in again.stdout
    late = tf("fork", "--at-cycle", "5", "--db", db, "--scenario", "rumour")  # the rumour is at cycle 3
    assert late.returncode == 2
    assert late.stdout.strip().splitlines()[-1].startswith("error: ") and "in the past" in late.stdout
    fork = tf("fork", "--at-cycle", "2", "--db", db, "--scenario", "rumour", "--label", "rumour")
    assert fork.returncode == 0 and "forked at cycle 2" in fork.stdout, fork.stdout
    assert tf("run", "--cycles", "2", "--db", db).returncode == 0
    forked = [r for r in _events(db) if r not in main]
    assert [c for _, c, p in forked if '"rumour"' in p] == [3]


def test_a_bad_scenario_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - {kind: meteor, at: 2}\n")
    out = tf("run", "--cycles", "1", "--db", str(tmp_path / "f.db"), "--scenario", str(bad))
    assert out.returncode == 2
    assert out.stdout.strip() == f"error: {bad}: events[0]: unknown event kind 'meteor' (known: news, drought, " \
                                 "flash_crash, halt, rumour, fee_change)"
