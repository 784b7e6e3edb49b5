"""`trading-floor doctor`: the ledger invariants on stored rows, checkpoints against the ledger, the lease, the
command queue, and `--repair` (floor/doctor.py, ledger/invariants.py).

A healthy run (with a rollback and a fork) is healthy; every corruption the doctor knows is found with its
sentence; `--repair` rebuilds what the ledger can tell (a thread's checkpoint, a dead lease, stuck
commands, an unmerged checkpoint file) and the run then continues from the right cycle, exactly as an
undamaged copy does. The invariants also hold after every step of random ledger streams with forks and
rollbacks, and of the ledger property tests' streams.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
from pathlib import Path

import pytest
import test_ledger_properties as props
from floor_helpers import fast_config, ledger_fills
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.app import app
from floor import doctor
from floor.ownership.lease import _proc_start
from floor.session import FloorSession
from ledger.errors import LedgerError
from ledger.invariants import INVARIANTS, check_ledger
from ledger.store import Ledger
from ledger.types import Fill

runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def _copy(src: Path, dst: Path) -> Path:
    """A consistent copy of a run database (its WAL included)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return dst


def _sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    try:
        for s in statements:
            conn.execute(s)
        conn.commit()
    finally:
        conn.close()


def _state(db: Path, thread_id: str) -> dict:
    s = FloorSession(db, readonly=True, thread_id=thread_id)
    try:
        return dict(s.state())
    finally:
        s.close()


def _by_code(result: doctor.Diagnosis) -> dict[str, doctor.Finding]:
    return {f.code: f for f in result.findings}


def _messages(result: doctor.Diagnosis, level: str) -> list[str]:
    return [m for f in result.findings if f.level == level for m in (f.message, *f.details)]


@pytest.fixture(scope="module")
def healthy_db(tmp_path_factory) -> Path:
    """run-1: 12 cycles, rolled back to 5, 3 more (branch 2, cycle 8); run-1-b3: forked at 4, 3 more (cycle 7)."""
    db = tmp_path_factory.mktemp("doctor") / "floor.db"
    s = FloorSession(db, fast_config())
    s.run(12)
    s.rollback(5)
    s.run(3)
    s.fork(4)
    s.run(3)
    assert (s.state()["branch_id"], s.state()["cycle"]) == (3, 7)
    s.close()
    return db


@pytest.fixture
def db(healthy_db, tmp_path) -> Path:
    return _copy(healthy_db, tmp_path / "floor.db")


# ---- healthy ----------------------------------------------------------------------------------------------

def test_a_healthy_run_with_a_rollback_and_a_fork_is_healthy(db):
    result = doctor.diagnose(db)
    assert result.healthy and not result.notes, [(f.check, f.message) for f in result.findings if f.level != "ok"]
    codes = _by_code(result)
    assert {f"ledger.{c}" for c in INVARIANTS} <= codes.keys()
    lines = {f.check: f.message for f in result.findings}
    assert lines["thread run-1"] == "checkpoint at cycle 8 on branch 2, as the ledger"
    assert lines["thread run-1-b3"] == "checkpoint at cycle 7 on branch 3, as the ledger"
    assert lines["thread run-1-b3: books"] == "the books at cycle 7 rebuild from the keyframe of cycle 0"
    # where a thread stands can be read from the ledger alone (what --repair relies on)
    conn = sqlite3.connect(db)
    for thread in ("run-1", "run-1-b3"):
        ref = next(t for t in doctor.ThreadRegistry(conn).all() if t.thread_id == thread)
        assert doctor.thread_line_branch(conn, ref) == _state(db, thread)["branch_id"]
    conn.close()

    out = _cli("doctor", "--db", str(db))
    assert out.exit_code == 0, out.output
    assert out.output.strip().splitlines()[-1] == f"healthy: {len(result.findings)} checks passed"
    assert "  OK     ledger: double entry: every asset sums to zero over all accounts of each branch" in out.output
    assert "ERROR" not in out.output and "NOTE" not in out.output


def test_missing_or_unreadable_files_exit_2_with_one_line(tmp_path):
    out = _cli("doctor", "--db", str(tmp_path / "nope.db"))
    assert out.exit_code == 2 and out.output.strip() == f"error: no database at {tmp_path / 'nope.db'}"
    junk = tmp_path / "junk.db"
    junk.write_text("not a database, just text\n" * 100)
    out = _cli("doctor", "--db", str(junk))
    assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1
    assert out.output.startswith(f"error: cannot read {junk}: file is not a database"), out.output
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    out = _cli("doctor", "--db", str(empty))
    assert out.exit_code == 2
    assert out.output.strip() == f"error: {empty}: not a trading-floor run database (it has no ledger tables)"


# ---- the ledger ---------------------------------------------------------------------------------------------

def _one_row(db: Path, sql: str) -> tuple:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


def test_a_changed_balance_breaks_double_entry_and_the_journal(db):
    (cash,) = _one_row(db, "SELECT amount FROM balances WHERE branch_id = 2 AND account = 'momentum' AND asset = '$'")
    _sql(db, "UPDATE balances SET amount = amount + 100 WHERE branch_id = 2 AND account = 'momentum' AND asset = '$'")
    result = doctor.diagnose(db)
    errors = _messages(result, "error")
    assert errors == ["branch 2: cash sums to +100 cents over all accounts, not 0",
                      f"branch 2: the journal gives momentum {cash:,} cents, the balances table {cash + 100:,}"]
    assert result.verdict() == "2 problems: ledger: double entry; ledger: journal"
    out = _cli("doctor", "--db", str(db))
    assert out.exit_code == 1 and out.output.strip().endswith("2 problems: ledger: double entry; ledger: journal")
    assert "  ERROR  ledger: journal: branch 2: the journal gives momentum" in out.output


def test_negative_cash_and_shares_below_the_floor_are_found(db):
    acct, sym = _one_row(db, "SELECT account, asset FROM balances WHERE branch_id = 3 AND asset != '$' "
                             "AND account NOT LIKE '@%' AND reserved = 0 ORDER BY account, asset")
    _sql(db, "UPDATE balances SET amount = -5 WHERE branch_id = 3 AND account = 'momentum' AND asset = '$'",
         f"UPDATE balances SET amount = -3 WHERE branch_id = 3 AND account = '{acct}' AND asset = '{sym}'")
    errors = _by_code(doctor.diagnose(db))
    assert errors["ledger.cash_floor"].message == "branch 3: momentum holds -5 cents of cash"
    assert errors["ledger.share_floor"].message == (f"branch 3: {acct} holds -3 {sym}, below its floor of 0 "
                                                    "(it may not sell short)")


def test_a_deleted_lot_is_found(db):
    # a chunk in the middle of bg:mm's long AAPL stream on the fork's own branch
    start, qty = _one_row(db, "SELECT start, qty FROM lots WHERE branch_id = 3 AND account = 'bg:mm' AND "
                              "symbol = 'AAPL' AND side = 1 ORDER BY start LIMIT 1 OFFSET 1")
    _sql(db, f"DELETE FROM lots WHERE branch_id = 3 AND account = 'bg:mm' AND symbol = 'AAPL' AND side = 1 "
             f"AND start = {start}")
    lots = _by_code(doctor.diagnose(db))["ledger.lots"]
    assert lots.level == "error"
    assert lots.message == (f"branch 3: bg:mm's long AAPL lots have a gap of {qty:,} shares before stream "
                            f"position {start + qty:,}")
    assert re.fullmatch(r"branch 3: bg:mm's open AAPL lots are worth [\d,]+ cents at cost, the position's cost "
                        r"basis says [\d,]+", lots.details[0])


def test_a_changed_position_and_reservation_are_found(db):
    _sql(db, "UPDATE positions SET realized_pnl = realized_pnl + 1 WHERE branch_id = 2 AND account = 'bg:mm' "
             "AND symbol = 'MSFT'",
         "UPDATE balances SET reserved = reserved + 7 WHERE branch_id = 1 AND account = 'bg:mm' AND asset = 'AAPL'")
    (pnl,) = _one_row(db, "SELECT realized_pnl FROM positions WHERE branch_id = 2 AND account = 'bg:mm' "
                          "AND symbol = 'MSFT'")
    found = _by_code(doctor.diagnose(db))
    assert found["ledger.positions"].message == (f"branch 2: position bg:mm MSFT stores realized_pnl {pnl:,} "
                                                 f"(history: {pnl - 1:,})")
    assert re.fullmatch(r"branch 1: bg:mm has [\d,]+ AAPL shares reserved, but its open reservations hold [\d,]+",
                        found["ledger.reserved"].message)


def test_a_parent_branch_that_lost_history_breaks_its_forks(db):
    # the fork (branch 3, forked at cycle 4 from branch 1) sees branch 1's fills of cycles <= 4
    _sql(db, "DELETE FROM fills WHERE branch_id = 1 AND cycle = 2")
    journal = _by_code(doctor.diagnose(db))["ledger.journal"]
    assert journal.level == "error"
    assert {m.split(":")[0] for m in (journal.message, *journal.details)} == {"branch 1", "branch 2", "branch 3"}
    _sql(db, "UPDATE branches SET parent_id = 99 WHERE branch_id = 3")
    branches = _by_code(doctor.diagnose(db))["ledger.branches"]
    assert branches.message == "branch 3: it names parent 99, which does not exist; its history cannot be read"


# ---- checkpoints against the ledger -------------------------------------------------------------------------

def _drop_latest_checkpoint(db: Path, thread_id: str) -> None:
    (cid,) = _one_row(db, f"SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = '{thread_id}'")
    _sql(db, f"DELETE FROM checkpoints WHERE thread_id = '{thread_id}' AND checkpoint_id = '{cid}'",
         f"DELETE FROM writes WHERE thread_id = '{thread_id}' AND checkpoint_id = '{cid}'")


def test_a_crash_between_the_ledger_and_the_checkpoint_is_a_note_and_the_next_run_heals_it(db):
    _drop_latest_checkpoint(db, "run-1-b3")  # as if the process died after settling cycle 7
    result = doctor.diagnose(db)
    assert result.healthy
    assert _messages(result, "note") == ["branch 3: cycle 7 settled but not checkpointed (a crash); the next run "
                                         "re-runs it"]
    assert result.verdict() == f"healthy: {len(result.findings)} checks passed (1 note)"
    s = FloorSession(db)
    s.run(2)
    assert s.state()["cycle"] == 8
    s.close()
    result = doctor.diagnose(db)
    assert result.healthy and not result.notes, _messages(result, "note")


def test_a_ledger_behind_its_checkpoint_is_an_error(db):
    _sql(db, "DELETE FROM market_journal WHERE branch_id = 2 AND cycle = 8")
    result = doctor.diagnose(db)
    assert _messages(result, "error") == ["checkpointed at cycle 8 on branch 2, but the branch's ledger has settled "
                                          "only up to cycle 7: the ledger is behind its checkpoint (cycles were lost)"]
    assert result.verdict() == "1 problem: thread run-1"
    out = _cli("doctor", "--db", str(db), "--repair")  # nothing to rebuild it from
    assert out.exit_code == 1 and out.output.strip().endswith("1 problem: thread run-1")


def test_missing_books_are_an_error(db):
    _sql(db, "DELETE FROM market_journal WHERE branch_id = 3 AND cycle = 6")
    # the ledger's last settled cycle is still 7 (cycle 7's journal is there), but cycle 6 cannot be replayed
    assert _messages(doctor.diagnose(db), "error") == [
        "the books at cycle 7 cannot be rebuilt: branch 3 lacks the market journal of cycle 6"]


def test_missing_checkpoints_are_rebuilt_by_repair_and_the_run_continues_from_the_right_cycle(db, tmp_path):
    reference = _copy(db, tmp_path / "reference.db")
    _sql(db, "DELETE FROM checkpoints", "DELETE FROM writes")
    out = _cli("status", "--db", str(db))
    assert out.exit_code == 2 and "`trading-floor doctor --repair` rebuilds the checkpoint" in out.output

    result = doctor.diagnose(db)
    assert [(f.check, f.message) for f in result.problems] == [
        ("thread run-1", "no checkpoints; the thread's line in the ledger is at cycle 8 on branch 2: `--repair` "
                         "rebuilds its checkpoint there"),
        ("thread run-1-b3", "no checkpoints; the thread's line in the ledger is at cycle 7 on branch 3: `--repair` "
                            "rebuilds its checkpoint there")]
    assert result.verdict() == ("2 problems: thread run-1; thread run-1-b3 (`trading-floor doctor --repair` can fix "
                                "them)")
    out = _cli("doctor", "--db", str(db), "--repair")
    assert out.exit_code == 0, out.output
    assert "repaired: rebuilt the checkpoint of thread run-1 at cycle 8 on branch 2" in out.output
    assert "repaired: rebuilt the checkpoint of thread run-1-b3 at cycle 7 on branch 3" in out.output
    assert out.output.strip().splitlines()[-1].startswith("healthy: ")
    assert {k: _state(db, "run-1")[k] for k in ("run_id", "branch_id", "cycle")} == \
        {"run_id": 1, "branch_id": 2, "cycle": 8}

    for path in (db, reference):  # the repaired copy goes on exactly as the undamaged one
        out = _cli("run", "--cycles", "2", "--db", str(path))
        assert out.exit_code == 0 and "ran to cycle 9" in out.output, out.output
    assert {k: _state(db, "run-1-b3")[k] for k in ("branch_id", "cycle")} == {"branch_id": 3, "cycle": 9}
    fills = []
    for path in (db, reference):
        s = FloorSession(path, readonly=True)
        s.floor.ledger.use(1, 3)
        fills.append(ledger_fills(s, (8, 9)))
        s.close()
    assert fills[0] and fills[0] == fills[1]
    assert doctor.diagnose(db).healthy


# ---- lease, commands, legacy file ---------------------------------------------------------------------------

def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def _lease_row(db: Path, pid: int, proc_start: str | None) -> None:
    _sql(db, "CREATE TABLE IF NOT EXISTS floor_lease (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, "
             "epoch INTEGER NOT NULL, pid INTEGER NOT NULL, proc_start TEXT, host TEXT NOT NULL, command TEXT NOT NULL, "
             "accepts_commands INTEGER NOT NULL, since REAL NOT NULL, heartbeat REAL NOT NULL)",
         f"INSERT OR REPLACE INTO floor_lease VALUES (1, 'tok', 4, {pid}, {json.dumps(proc_start)}, "
         f"'{socket.gethostname()}', 'trading-floor run --cycles 50', 1, 0, 0)")


def _command(db: Path, kind: str, args: dict, status: str) -> None:
    _sql(db, "CREATE TABLE IF NOT EXISTS floor_commands (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
             "args TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at REAL NOT NULL, status TEXT NOT NULL "
             "DEFAULT 'pending', result TEXT, answered_at REAL)",
         f"INSERT INTO floor_commands (kind, args, requested_by, requested_at, status) VALUES ('{kind}', "
         f"'{json.dumps(args)}', 'trading-floor {kind}', 0, '{status}')")


def test_a_dead_lease_and_stuck_commands_are_found_and_repaired(db):
    pid = _dead_pid()
    _lease_row(db, pid, "12345")
    result = doctor.diagnose(db)
    assert result.healthy
    lease = _by_code(result)["lease.dead"]
    assert lease.level == "note" and lease.repairable
    assert re.fullmatch(rf"the lease row names pid {pid} \(`trading-floor run --cycles 50`, since [\d:]+\), which is "
                        r"no longer running: the next run takes it over \(`--repair` clears it\)", lease.message)

    _command(db, "rollback", {"to_cycle": 3}, "pending")
    _command(db, "fork", {"at_cycle": 2}, "applying")
    result = doctor.diagnose(db)
    commands = _by_code(result)["commands.pending"]
    assert commands.level == "error" and commands.repairable
    assert commands.message == ("command #1 (rollback to_cycle=3, asked by `trading-floor rollback`) is still "
                                "pending but no process owns the run: the next run would apply it when it starts "
                                "(`--repair` withdraws it)")
    assert commands.details == ("command #2 (fork at_cycle=2, asked by `trading-floor fork`) was being applied when "
                                "its owner stopped; the thread checks say where the run stands (`--repair` marks "
                                "it withdrawn)",)
    assert result.verdict() == "1 problem: commands (`trading-floor doctor --repair` can fix it)"

    out = _cli("doctor", "--db", str(db), "--repair")
    assert out.exit_code == 0, out.output
    assert f"repaired: cleared the lease row of pid {pid}" in out.output
    assert "repaired: withdrew command #1 (rollback, pending)" in out.output
    assert "repaired: withdrew command #2 (fork, applying)" in out.output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM floor_lease").fetchone() == (0,)
    assert conn.execute("SELECT status FROM floor_commands ORDER BY id").fetchall() == [("withdrawn",)] * 2
    conn.close()
    result = doctor.diagnose(db)
    assert result.healthy and not result.notes


def test_repair_is_refused_while_a_live_process_owns_the_run(db):
    _lease_row(db, os.getpid(), _proc_start(os.getpid()))  # this very process, alive
    _sql(db, "DELETE FROM checkpoints WHERE thread_id = 'run-1'")
    out = _cli("doctor", "--db", str(db), "--repair")
    assert out.exit_code == 3
    assert re.fullmatch(rf"error: not repaired: pid {os.getpid()} \(`trading-floor run --cycles 50`, since [\d:]+\) "
                        rf"owns {re.escape(str(db))} and is running it; stop it \(or let it finish\), then run "
                        r"`trading-floor doctor --repair` again", out.output.strip()), out.output
    assert _one_row(db, "SELECT count(*) FROM checkpoints WHERE thread_id = 'run-1'") == (0,)  # nothing changed
    lease = _by_code(doctor.diagnose(db))["lease.live"]
    assert lease.level == "ok" and f"held by pid {os.getpid()}" in lease.message


def test_an_unmerged_checkpoint_file_is_a_note_and_repair_merges_it(db):
    legacy = db.with_suffix(".checkpoints.db")
    conn = sqlite3.connect(db)
    conn.execute("ATTACH DATABASE ? AS old", (str(legacy),))
    for table in ("checkpoints", "writes"):
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        conn.execute(ddl.replace(f"CREATE TABLE {table}", f"CREATE TABLE old.{table}", 1))
        conn.execute(f"INSERT INTO old.{table} SELECT * FROM main.{table}")
        conn.execute(f"DROP TABLE main.{table}")
    conn.commit()
    conn.close()
    result = doctor.diagnose(db)  # reads the checkpoints from the old file
    assert result.healthy and [f.code for f in result.notes] == ["legacy.unmerged"]
    assert result.notes[0].message.startswith(f"{legacy} (an earlier version's checkpoint file) is not merged into")
    out = _cli("doctor", "--db", str(db), "--repair")
    assert out.exit_code == 0 and f"repaired: merged {legacy} into {db}" in out.output, out.output
    assert not legacy.exists() and Path(f"{legacy}.merged").exists()
    result = doctor.diagnose(db)
    assert result.healthy and not result.notes


# ---- the invariants against random ledger streams -------------------------------------------------------------

ACCTS = ("a", "b", "c")
SYMS = ("X", "Y")
_op = st.one_of(
    st.tuples(st.just("fill"), st.sampled_from(ACCTS), st.sampled_from(ACCTS), st.sampled_from(SYMS),
              st.integers(1, 120), st.integers(1, 25)),
    st.tuples(st.just("reserve"), st.sampled_from(ACCTS), st.sampled_from(["buy", "sell"]), st.sampled_from(SYMS),
              st.integers(1, 20), st.integers(1, 120)),
    st.tuples(st.just("match"), st.integers(0, 20), st.integers(0, 20), st.integers(1, 20)),
    st.tuples(st.just("release"), st.integers(0, 20), st.one_of(st.none(), st.integers(1, 5))),
    st.tuples(st.just("deposit"), st.sampled_from(ACCTS), st.sampled_from(["$", *SYMS]), st.integers(1, 500)),
    st.tuples(st.just("fork"), st.integers(0, 100), st.sampled_from([None, 0])),  # a higher fee: see below
    st.tuples(st.just("truncate"), st.integers(0, 100)),
    st.tuples(st.just("switch"), st.integers(0, 10)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, min_size=5, max_size=40), st.sampled_from([0, 30]), st.booleans())
def test_the_invariants_hold_after_every_step_of_random_streams_with_forks_and_rollbacks(ops, bps, short):
    led = Ledger.open(":memory:", fee_bps=bps, allow_short=short, short_limit=15 if short else 0, symbols=SYMS)
    run = led.start_run(config={}, seed=0)
    for a in ACCTS:
        led.open_account(a, cash=20_000, holdings={"X": 30, "Y": 5}, cost={"X": 40, "Y": 60})
    branches, n = [run.branch_id], 0
    for op in ops:
        n += 1
        cycle = (led.last_cycle() or 0) + 1
        kind = op[0]
        if kind == "fill":
            _, b, s, sym, price, qty = op
            led.settle(cycle, [Fill(f"f{n}", cycle, 0, sym, price, qty, b, s)])
        elif kind == "reserve":
            _, acct, side, sym, qty, limit = op
            led.reserve(order_id=f"o{n}", account=acct, side=side, symbol=sym, qty=qty, limit_price=limit,
                        cycle=cycle)
        elif kind in ("match", "release"):
            open_orders = sorted(led.dump_state()["reservations"].items())
            if not open_orders:
                continue
            if kind == "release":
                led.release(open_orders[op[1] % len(open_orders)][0], op[2], cycle=cycle)
                continue
            buys = [(o, r) for o, r in open_orders if r[1] == "buy"]
            sells = [(o, r) for o, r in open_orders if r[1] == "sell"]
            if buys and sells:
                (bo, br), (so, sr) = buys[op[1] % len(buys)], sells[op[2] % len(sells)]
                led.settle(cycle, [Fill(f"f{n}", cycle, 0, br[2], sr[3], min(op[3], br[4], sr[4]), br[0], sr[0],
                                        bo, so)])  # at the sell limit: refused when above the buy limit
        elif kind == "deposit":
            _, acct, asset, amount = op
            if asset == "$":
                led.deposit(acct, amount, transfer_id=f"d{n}", cycle=cycle)
            else:
                led.deposit_shares(acct, asset, amount % 40 + 1, price=amount, transfer_id=f"d{n}", cycle=cycle)
        elif kind == "fork":
            branches.append(led.fork(op[1] % cycle))  # below the branch's own fork point: from an ancestor
            if op[2] is not None:  # a lower what-if fee on the fresh fork re-holds less cash for open buys
                led.set_fee(op[2])
        elif kind == "truncate":  # never under a fork of this branch: see the test after this one
            (kept,) = led.conn.execute("SELECT coalesce(max(fork_cycle), 0) FROM branches WHERE parent_id = ?",
                                       (led.branch_id,)).fetchone()
            led.truncate_after(max(op[1] % cycle, kept))
        elif kind == "switch":
            led.use(run.run_id, branches[op[1] % len(branches)])
        violations = check_ledger(led.conn)
        assert violations == [], (op, violations)
    led.close()


def test_a_parent_truncated_under_its_fork_leaves_the_fork_without_its_history():
    """`Ledger.truncate_after(k)` deletes the branch's rows after k even when a fork of it was made after k: the
    fork's copied state then counts rows its lineage no longer has. The floor never does this (it keeps a
    discarded future as a branch and truncates only an unfinished cycle); the doctor finds it."""
    led = Ledger.open(":memory:", symbols=["X"])
    run = led.start_run(config={}, seed=0)
    led.open_account("a", cash=20_000)
    led.deposit("a", 1, transfer_id="d1", cycle=1)
    fork = led.fork(1)
    led.use(run.run_id, run.branch_id)
    led.truncate_after(0)
    assert [(v.code, v.message) for v in check_ledger(led.conn)] == [
        ("journal", f"branch {fork}: the journal gives @external -20,000 cents, the balances table -20,001"),
        ("journal", f"branch {fork}: the journal gives a 20,000 cents, the balances table 20,001")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(props.ops, min_size=10, max_size=40), st.sampled_from([0, 30]), st.booleans())
def test_the_invariants_hold_on_the_ledger_property_streams(stream, bps, short):
    original = props.check

    def check(led, m, *args):
        original(led, m, *args)
        violations = check_ledger(led.conn)
        assert violations == [], violations

    props.check = check
    try:
        props.run_stream(stream, bps, allow_short=short, short_limit=12 if short else 0)
    finally:
        props.check = original


def test_a_fork_with_a_higher_fee_never_holds_more_cash_than_it_has():
    led = Ledger.open(":memory:", fee_bps=0, symbols=["X"])
    led.start_run(config={}, seed=0)
    led.open_account("a", cash=10_000)
    assert led.reserve(order_id="o1", account="a", side="buy", symbol="X", qty=100, limit_price=100, cycle=1) is None
    led.fork(1)
    with pytest.raises(LedgerError, match="at 50 bps, a's open buy orders would hold 10,100 cents, more than the "
                                          "10,000 it may spend: its fee cannot become 50 bps while they are open"):
        led.set_fee(50)  # what `Floor.fork` / `_follow_config` do for a what-if fork with fee_bps=50
    assert led.branch_fee_bps == 0 and check_ledger(led.conn) == []  # refused: nothing changed
