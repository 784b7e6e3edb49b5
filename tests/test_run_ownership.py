"""One owner per run: several `trading-floor` processes on one database, as a user in several windows.

Every test here starts real processes: a second writer is refused (or queues with --wait), control
commands reach the running owner and are acknowledged, readers see whole cycles, a killed owner's lease
is taken over, and `--until` makes a crashed command idempotent.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import threading

import pytest
from cli_processes import lease_pid, settled_cycle, tf, tf_bg, wait_for_cycle
from floor_helpers import fast_config, write_config

LONG = "100000"


@pytest.fixture
def floor_files(tmp_path):
    cfg = write_config(tmp_path / "floor.yaml", fast_config())
    return tmp_path / "floor.db", cfg


@pytest.fixture
def owners():
    """Background processes of a test, killed at its end whatever happened."""
    procs = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)


def _start_owner(owners, db, cfg, *extra):
    proc = tf_bg("run", "--cycles", LONG, "--db", str(db), "--config", str(cfg), *extra)
    owners.append(proc)
    wait_for_cycle(db, 3, proc)
    return proc


def _finish(proc, timeout=120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def _status(db) -> tuple[int, int]:
    out = tf("status", "--db", str(db))
    assert out.returncode == 0, out.stdout
    m = re.search(r"branch (\d+), cycle (\d+)", out.stdout)
    return int(m.group(1)), int(m.group(2))


def test_a_second_writer_is_refused_with_the_holders_name_then_pause_stops_the_first(floor_files, owners):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    second = tf("run", "--cycles", "5", "--db", str(db))
    assert second.returncode == 3, second.stdout
    line = " ".join(second.stdout.split())
    assert re.search(rf"busy: {re.escape(str(db))} is in use: pid {first.pid} \(`trading-floor run --cycles "
                     rf"{LONG} --db {re.escape(str(db))} --config {re.escape(str(cfg))}`, since \d\d:\d\d:\d\d\) is "
                     r"advancing its cycles; wait for it to finish, pause it \(`trading-floor pause`\), or retry "
                     r"with --wait", line), line
    assert "running: pid" in tf("status", "--db", str(db)).stdout  # a reader is never refused

    paused = tf("pause", "--db", str(db))
    assert paused.returncode == 0 and "paused: the run stopped after cycle" in paused.stdout, paused.stdout
    stopped_at = int(re.search(r"after cycle (\d+)", paused.stdout).group(1))
    out = " ".join(_finish(first).split())
    assert re.search(rf"paused after \d+ of {LONG} cycles, asked by `trading-floor pause --db", out), out
    assert f"ran to cycle {stopped_at}" in out
    assert _status(db) == (1, stopped_at)
    assert lease_pid(db) is None  # released
    assert "idle: no process is running it" in tf("status", "--db", str(db)).stdout
    assert "nothing to pause" in tf("pause", "--db", str(db)).stdout


def test_wait_queues_behind_the_owner_and_continues_where_it_stopped(floor_files, owners):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    queued = tf_bg("run", "--cycles", "4", "--db", str(db), "--wait")
    owners.append(queued)
    # its first line says whom it waits for (read before pausing: a slow start-up must not skip the wait)
    first_line = _first_line(queued)
    assert first_line.startswith(f"waiting: pid {first.pid}"), first_line
    assert queued.poll() is None  # still waiting
    stopped_at = int(re.search(r"after cycle (\d+)", tf("pause", "--db", str(db)).stdout).group(1))
    _finish(first)
    out = " ".join(_finish(queued).split())
    assert f"ran to cycle {stopped_at + 4}" in out, out


def _first_line(proc, timeout: float = 60) -> str:
    """The first line a background command prints, or a failure after `timeout` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, f"no line from the command in {timeout} s"
    return lines[0]


def test_a_rollback_during_a_run_is_delivered_acknowledged_and_kept(floor_files, owners):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    wait_for_cycle(db, 8, first)
    out = tf("rollback", "--to-cycle", "2", "--db", str(db))
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, text
    assert f"delivering the rollback to pid {first.pid}" in text
    assert "rolled back to cycle 2; continuing on branch 2 (branch 1 keeps the discarded future)" in text
    stopped_at = int(re.search(r"after cycle (\d+)", tf("pause", "--db", str(db)).stdout).group(1))
    _finish(first)
    assert _status(db) == (2, stopped_at)  # the owner went on from the rollback, on the new branch
    conn = sqlite3.connect(db)
    (parent, fork_cycle) = conn.execute("SELECT parent_id, fork_cycle FROM branches WHERE branch_id = 2").fetchone()
    assert (parent, fork_cycle) == (1, 2)


def test_a_fork_during_a_run_is_applied_by_the_owner_and_becomes_current(floor_files, owners):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    wait_for_cycle(db, 5, first)
    out = tf("fork", "--at-cycle", "3", "--db", str(db), "--label", "what-if")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, text
    assert re.search(r"forked at cycle 3: thread run-1-b2 is now current \(thread run-1 untouched\)", text), text
    tf("pause", "--db", str(db))
    _finish(first)
    assert _status(db) == (2, 3)  # the fork waits at its cycle; the owner kept running run-1
    cont = tf("run", "--cycles", "2", "--db", str(db))
    assert cont.returncode == 0 and "ran to cycle 5" in cont.stdout, cont.stdout


def test_a_killed_owners_lease_is_taken_over_and_until_ends_where_asked(floor_files, owners, tmp_path):
    db, cfg = floor_files
    ref_db = tmp_path / "reference.db"
    ref = tf("run", "--until", "30", "--db", str(ref_db), "--config", str(cfg))
    assert ref.returncode == 0 and "ran to cycle 30" in ref.stdout, ref.stdout

    crashed = tf_bg("run", "--until", "30", "--db", str(db), "--config", str(cfg))
    owners.append(crashed)
    wait_for_cycle(db, 10, crashed)
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait(timeout=30)
    assert lease_pid(db) == crashed.pid  # the dead holder's row is still there ...
    again = tf("run", "--until", "30", "--db", str(db), "--config", str(cfg))  # ... and is taken over
    assert again.returncode == 0 and "ran to cycle 30" in again.stdout, again.stdout
    once_more = tf("run", "--until", "30", "--db", str(db), "--config", str(cfg))
    assert "already at cycle 30 (≥ --until 30): nothing to run" in " ".join(once_more.stdout.split())

    exports = {}
    for name, path in (("ref", ref_db), ("crash", db)):
        out_dir = tmp_path / f"export-{name}"
        assert tf("export", "--db", str(path), "--out", str(out_dir)).returncode == 0
        with open(out_dir / "fills.csv") as f:
            exports[name] = [{k: v for k, v in r.items() if k not in ("branch_id", "seq")} for r in csv.DictReader(f)]
    assert exports["crash"] == exports["ref"] and len(exports["ref"]) > 100


def test_an_export_taken_mid_run_holds_whole_cycles_of_one_last_cycle(floor_files, owners, tmp_path):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    for i in range(4):
        out_dir = tmp_path / f"export-{i}"
        res = tf("export", "--db", str(db), "--out", str(out_dir))
        assert res.returncode == 0, res.stdout
        last = {}
        for table, key in (("fills", "cycle"), ("portfolio_values", "cycle"), ("marks", "cycle")):
            with open(out_dir / f"{table}.csv") as f:
                last[table] = max(int(r[key]) for r in csv.DictReader(f))
        assert len(set(last.values())) == 1, last
        with open(out_dir / "portfolio_values.csv") as f:
            per_cycle = {}
            for r in csv.DictReader(f):
                per_cycle.setdefault(int(r["cycle"]), set()).add(r["account"])
        assert len({frozenset(v) for v in per_cycle.values()}) == 1  # every cycle has every account's value
    tf("pause", "--db", str(db))
    _finish(first)


def test_config_changes_on_an_existing_run_are_refused_with_a_pointer_to_fork(floor_files, tmp_path):
    db, cfg = floor_files
    assert tf("run", "--cycles", "3", "--db", str(db), "--config", str(cfg)).returncode == 0
    same = tf("run", "--cycles", "1", "--db", str(db), "--config", str(cfg))  # the same command again is fine
    assert same.returncode == 0 and "ran to cycle 4" in same.stdout, same.stdout

    other = write_config(tmp_path / "other.yaml", fast_config(fee_bps=5))
    refused = tf("run", "--cycles", "1", "--db", str(db), "--config", str(other))
    assert refused.returncode == 2
    assert " ".join(refused.stdout.split()) == (
        f"error: --config would change this run's config (fee_bps); a run keeps the config it started with. "
        f"Try it on a what-if line: `trading-floor fork --at-cycle 4 --config {other}`, or start afresh with --new")
    llm = tf("run", "--cycles", "1", "--db", str(db), "--llm")
    assert llm.returncode == 2 and "error: --llm/--no-llm would change this run's config (llm_configs" in \
        " ".join(llm.stdout.split()) or "traders" in llm.stdout, llm.stdout
    env = tf("run", "--cycles", "1", "--db", str(db), env={"FLOOR_CHAT__ROUNDS": "3"})
    assert env.returncode == 2 and "error: the FLOOR_* environment would change this run's config (chat.rounds)" \
        in " ".join(env.stdout.split()), env.stdout
    seed = tf("run", "--cycles", "1", "--db", str(db), "--seed", "9")
    assert seed.returncode == 2 and "--seed applies to a new run" in seed.stdout
    assert _status(db) == (1, 4)  # nothing ran


def test_out_of_range_seed_and_cycle_counts_are_refused(floor_files):
    db, cfg = floor_files
    for args, needle in ((("--seed", str(2**63)), "--seed"), (("--cycles", str(2**40)), "--cycles"),
                         (("--until", "-1"), "--until")):
        res = tf("run", "--db", str(db), "--config", str(cfg), *args)
        assert res.returncode == 2 and "Invalid value" in res.stdout and needle in res.stdout, res.stdout
    res = tf("run", "--db", str(db), "--config", str(cfg), "--cycles", "2", "--until", "5")
    assert res.returncode == 2 and "either --cycles N (N more cycles) or --until CYCLE, not both" in res.stdout
    assert not db.exists() or settled_cycle(db) == 0


def test_a_ledger_without_its_checkpoints_is_refused_not_restarted(floor_files):
    db, cfg = floor_files
    assert tf("run", "--cycles", "3", "--db", str(db), "--config", str(cfg)).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM checkpoints")
    conn.execute("DELETE FROM writes")
    conn.commit()
    conn.close()
    expected = (f"error: {db} has a ledger for thread run-1 but none of its checkpoints (was the database put "
                "together from parts, or copied without its old `.checkpoints.db` file?): refusing to start over "
                "on it; `trading-floor doctor --repair` rebuilds the checkpoint from the ledger")
    for cmd in (("status",), ("run", "--cycles", "2")):
        res = tf(*cmd, "--db", str(db))
        assert res.returncode == 2 and " ".join(res.stdout.split()) == expected, res.stdout
    assert settled_cycle(db) == 3


def test_an_earlier_versions_pair_of_files_is_read_then_merged_into_one(floor_files):
    db, cfg = floor_files
    assert tf("run", "--cycles", "3", "--db", str(db), "--config", str(cfg)).returncode == 0
    legacy = db.with_suffix(".checkpoints.db")
    conn = sqlite3.connect(db)
    conn.execute("ATTACH DATABASE ? AS old", (str(legacy),))
    conn.execute("PRAGMA old.journal_mode=WAL")  # as LangGraph's saver left it
    for table in ("checkpoints", "writes"):
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        conn.execute(ddl.replace(f"CREATE TABLE {table}", f"CREATE TABLE old.{table}", 1))
        conn.execute(f"INSERT INTO old.{table} SELECT * FROM main.{table}")
        conn.execute(f"DROP TABLE main.{table}")
    conn.commit()
    conn.close()
    assert _status(db) == (1, 3)  # a reader reads the pair as it is
    assert legacy.exists()
    res = tf("run", "--cycles", "2", "--db", str(db))
    assert res.returncode == 0 and "ran to cycle 5" in res.stdout, res.stdout
    assert not legacy.exists() and legacy.with_name(legacy.name + ".merged").exists()
    assert _status(db) == (1, 5)


def test_a_forks_fee_from_the_environment_is_charged_on_the_fork_only(floor_files):
    db, cfg = floor_files
    assert tf("run", "--cycles", "6", "--db", str(db), "--config", str(cfg)).returncode == 0
    out = tf("fork", "--at-cycle", "3", "--db", str(db), env={"FLOOR_FEE_BPS": "5"})
    assert out.returncode == 0 and "forked at cycle 3 with fee_bps changed: thread run-1-b2 is now current" in \
        " ".join(out.stdout.split()), out.stdout
    assert tf("run", "--cycles", "4", "--db", str(db)).returncode == 0  # the fork's own config: no env needed
    conn = sqlite3.connect(db)
    fees = dict(conn.execute("SELECT branch_id, sum(buyer_fee + seller_fee) FROM fills GROUP BY branch_id"))
    rate = conn.execute("SELECT sum(buyer_fee) * 10000.0 / sum(price * qty) FROM fills WHERE branch_id = 2").fetchone()
    conn.close()
    assert fees[1] == 0 and fees[2] > 0, fees
    assert 4.9 < rate[0] <= 5.1  # 5 bps, rounded up per fill


def test_a_fork_that_would_change_the_trader_set_is_refused(floor_files, tmp_path):
    db, cfg = floor_files
    assert tf("run", "--cycles", "3", "--db", str(db), "--config", str(cfg)).returncode == 0
    small = fast_config()
    fewer = write_config(tmp_path / "fewer.yaml", small.model_copy(update={"traders": small.traders[:-1]}))
    out = tf("fork", "--at-cycle", "2", "--db", str(db), "--config", str(fewer))
    text = " ".join(out.stdout.split())
    assert out.returncode == 2, text
    assert text.startswith("error: this fork's config changes what a fork keeps from its run. traders: a fork "
                           "keeps the run's traders (names and theories)"), text
    assert f"removes {small.traders[-1].name}" in text and "Start a new run to change them." in text
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM branches").fetchone()[0] == 1
    conn.close()


def test_reset_during_a_run_stops_the_owner_first_then_deletes_the_files(floor_files, owners):
    db, cfg = floor_files
    first = _start_owner(owners, db, cfg)
    out = tf("reset", "--db", str(db), "--yes")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and re.search(rf"the process running {re.escape(str(db))} stopped at cycle \d+ "
                                             r"reset: removed \d file\(s\)", text), text
    owner_out = " ".join(_finish(first).split())
    assert re.search(r"stopped for a reset after \d+ of 100000 cycles, asked by `trading-floor reset", owner_out), owner_out
    assert not db.exists() and not list(db.parent.glob("floor.db-*"))
