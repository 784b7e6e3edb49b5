"""`trading-floor doctor`: check a whole run database, and repair what can be rebuilt from the ledger.

What is checked (each check is one `Finding`: ok, a note, or an error):
* the ledger's invariants on every run and branch (`ledger/invariants.py`), one finding per invariant;
* the file: an earlier version's `X.checkpoints.db` beside it that is not merged yet (a note);
* the threads (`floor_threads`): the current thread exists; every thread has checkpoints; its newest
  checkpoint's (run, branch, cycle) exists in the ledger, and the branch's last settled cycle (the newest
  `market_journal` row on the branch, or its fork cycle) equals the checkpoint's cycle. One cycle ahead is
  the normal trace of a crash between the ledger's commit and the checkpoint's (a note: the next run
  re-runs it); further ahead is LangGraph time travel or a crash after it (a note: the next run forks);
  a ledger BEHIND its checkpoint is an error. The books at the checkpoint can be rebuilt (a keyframe and
  every journal since on the branch's lineage);
* every run of the ledger has a thread (a note otherwise: its start was interrupted);
* the single-writer lease: a row left by a dead process is a note (the next run takes it over);
* the control commands: one still `pending` while no process owns the run is an error (the next run
  would apply it when it starts); one left `applying` by an owner that died is a note.

Checking only reads: the files are opened read-only, nothing is created or merged. The checkpoints are
read first and the ledger after, in one read transaction, so a run advancing meanwhile can make the ledger
look ahead of a checkpoint (a note), never behind it.

`repair` takes the run's lease first (refusing, with `LeaseHeld` naming the holder, while another live
process owns the run; it takes no control commands while it works), then: merges an unmerged legacy
checkpoint file, withdraws stuck commands, and rebuilds the checkpoint of every thread that has none, at
the last settled cycle of the thread's line, with the values a start or a fork writes (`start_values`);
releasing the lease clears a dead holder's row. Then it checks again.

Which branch a checkpoint-less thread is on is read from the ledger, since the thread's own record of it
is gone: a thread starts on the run's root branch (`run-<id>`) or on the branch its id names
(`run-<id>-b<branch>`); each rollback, time travel or crash recovery of the thread continues on a branch
that `Floor.align` names "continued from cycle N (branch B kept)" after the branch B it left. The newest
branch of that chain is where the thread stands. A rebuilt thread has one checkpoint: it continues from
there, but rolling it back to an earlier cycle needs a fork (its older checkpoints are gone).
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from floor import database as run_database
from floor.ownership.lease import Holder, LeaseHeld, acquire_lease, read_holder
from floor.threads import ThreadRef, ThreadRegistry
from ledger.invariants import INVARIANTS, Violation, check_ledger
from ledger.lineage import lineage, lineage_sql
from ledger.schema import check_schema

OK, NOTE, ERROR = "ok", "note", "error"
SHOWN_PER_CHECK = 5  # sentences listed per failing check; the rest are counted
_CONTINUED = re.compile(r"^continued from cycle \d+ \(branch (\d+) kept\)$")


class DoctorError(RuntimeError):
    """The file cannot be checked at all (missing, not SQLite, not a run database): one sentence."""


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, for people: "ledger: journal", "thread run-1", "lease"
    level: str  # OK, NOTE or ERROR
    message: str  # the first (or only) sentence
    code: str = ""  # machine-readable: "ledger.journal", "checkpoints.missing", "lease.dead", ...
    repairable: bool = False
    details: tuple[str, ...] = ()  # further sentences of the same check


@dataclass
class Diagnosis:
    db_path: str
    findings: list[Finding]
    repaired: list[str] = field(default_factory=list)  # what `repair` did, one sentence each

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.level == NOTE]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def verdict(self) -> str:
        """`healthy: 14 checks passed (1 note)` or `2 problems: ...`."""
        notes = len(self.notes)
        note_text = f" ({notes} note{'s' * (notes != 1)})" if notes else ""
        if self.healthy:
            return f"healthy: {len(self.findings)} checks passed{note_text}"
        problems = self.problems
        fixable = sum(f.repairable for f in problems)
        hint = ""
        if fixable:
            hint = (" (`trading-floor doctor --repair` can fix "
                    + ("it" if len(problems) == 1 else ("them" if fixable == len(problems) else f"{fixable} of them"))
                    + ")")
        names = "; ".join(f.check for f in problems)
        return f"{len(problems)} problem{'s' * (len(problems) != 1)}: {names}{hint}"


# ---- opening -----------------------------------------------------------------------------------------------

def _open_readonly(db_path: str) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.exists():
        raise DoctorError(f"no database at {db_path}")
    if path.is_dir():
        raise DoctorError(f"{db_path} is a folder, not a run database")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise DoctorError(f"cannot read {db_path}: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # is it SQLite at all?
        check_schema(conn)
    except (sqlite3.DatabaseError, RuntimeError) as exc:
        conn.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise DoctorError(f"cannot read {db_path}: {exc}") from exc
        raise DoctorError(f"{db_path}: {exc}") from exc  # not a run database, or another schema version
    return conn


def _graph(conn: sqlite3.Connection, *, readonly: bool):
    from floor.database import make_saver
    from graphs.cycle_graph import build_graph

    return build_graph().compile(checkpointer=make_saver(conn, readonly=readonly))


# ---- checking ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Checkpoint:
    thread: ThreadRef
    values: dict | None  # None: the thread has no checkpoints
    next: tuple[str, ...] = ()


def diagnose(db_path: str | Path) -> Diagnosis:
    """Check the run database (reading only). Raises DoctorError when the file cannot be read at all."""
    db_path = str(db_path)
    conn = _open_readonly(db_path)
    try:
        try:
            return Diagnosis(db_path, _diagnose(db_path, conn))
        except sqlite3.DatabaseError as exc:
            raise DoctorError(f"cannot read {db_path}: {exc}") from exc
    finally:
        conn.close()


def _diagnose(db_path: str, conn: sqlite3.Connection) -> list[Finding]:
    threads = ThreadRegistry(conn, readonly=True)
    thread_list = threads.all()
    current = _current_thread_id(conn)
    checkpoints = _read_checkpoints(db_path, thread_list)  # before the ledger: it can only look ahead of them
    findings: list[Finding] = []
    conn.execute("BEGIN")  # one snapshot of the ledger, the lease and the commands
    try:
        findings += ledger_findings(check_ledger(conn))
        findings.append(_legacy_finding(db_path))
        findings += _thread_findings(conn, thread_list, current, checkpoints)
        holder = read_holder(conn)
        findings.append(_lease_finding(holder))
        findings.append(_commands_finding(conn, holder))
    finally:
        conn.execute("COMMIT")
    return findings


def ledger_findings(violations: Iterable[Violation]) -> list[Finding]:
    """One finding per invariant of the ledger: ok, or an error with its sentences."""
    by_code: dict[str, list[str]] = {code: [] for code in INVARIANTS}
    for v in violations:
        by_code.setdefault(v.code, []).append(v.message)
    out = []
    for code, messages in by_code.items():
        check = f"ledger: {code.replace('_', ' ')}"
        if not messages:
            out.append(Finding(check, OK, INVARIANTS.get(code, code), f"ledger.{code}"))
        else:
            out.append(Finding(check, ERROR, messages[0], f"ledger.{code}", details=tuple(messages[1:])))
    return out


def _current_thread_id(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT value FROM floor_meta WHERE key = 'current_thread'").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _read_checkpoints(db_path: str, thread_list: list[ThreadRef]) -> list[_Checkpoint]:
    if not thread_list:
        return []
    cconn = run_database.connect_checkpoints(db_path, readonly=True)
    try:
        graph = _graph(cconn, readonly=True)
        out = []
        for t in thread_list:
            if not run_database.has_checkpoints(cconn, t.thread_id):
                out.append(_Checkpoint(t, None))
                continue
            snap = graph.get_state(t.config_dict)
            out.append(_Checkpoint(t, dict(snap.values), tuple(snap.next)))
        return out
    finally:
        cconn.close()


def _legacy_finding(db_path: str) -> Finding:
    legacy = run_database.legacy_checkpoint_path(db_path)
    if legacy.exists():
        return Finding("checkpoint file", NOTE, f"{legacy} (an earlier version's checkpoint file) is not merged "
                       f"into {db_path} yet: the next run merges it (`--repair` merges it now)",
                       "legacy.unmerged", repairable=True)
    return Finding("checkpoint file", OK, "one file: the checkpoints live in the run database", "legacy.none")


def last_settled(conn: sqlite3.Connection, branch_id: int) -> int | None:
    """The last cycle wholly settled on a branch: its newest own market journal, else its fork cycle (0 for
    a root branch that has settled nothing). None when the branch does not exist."""
    row = conn.execute("SELECT fork_cycle FROM branches WHERE branch_id = ?", (branch_id,)).fetchone()
    if row is None:
        return None
    (own,) = conn.execute("SELECT max(cycle) FROM market_journal WHERE branch_id = ?", (branch_id,)).fetchone()
    return max(own if own is not None else 0, row[0] or 0)


def thread_line_branch(conn: sqlite3.Connection, thread: ThreadRef) -> int | None:
    """The branch a thread stands on, read from the ledger alone (see the module's docstring); None when the
    thread's id says nothing about where it started."""
    m = re.fullmatch(r"run-(\d+)(?:-b(\d+))?", thread.thread_id)
    if m is None or int(m.group(1)) != thread.run_id:
        return None
    if m.group(2) is not None:
        start = int(m.group(2))
        if conn.execute("SELECT 1 FROM branches WHERE branch_id = ? AND run_id = ?",
                        (start, thread.run_id)).fetchone() is None:
            return None
    else:
        (start,) = conn.execute("SELECT min(branch_id) FROM branches WHERE run_id = ? AND parent_id IS NULL",
                                (thread.run_id,)).fetchone()
        if start is None:
            return None
    line = {start}
    for b, name in conn.execute("SELECT branch_id, name FROM branches WHERE run_id = ? AND branch_id > ? "
                                "ORDER BY branch_id", (thread.run_id, start)):
        m = _CONTINUED.match(name or "")
        if m and int(m.group(1)) in line:
            line.add(b)
    return max(line)


def _thread_findings(conn: sqlite3.Connection, thread_list: list[ThreadRef], current: str | None,
                     checkpoints: list[_Checkpoint]) -> list[Finding]:
    out: list[Finding] = []
    ids = {t.thread_id for t in thread_list}
    if current is not None and current not in ids:
        out.append(Finding("current thread", ERROR, f"the current thread {current!r} is not among the threads "
                           f"({', '.join(sorted(ids)) or 'none'})", "threads.current"))
    elif thread_list:
        out.append(Finding("current thread", OK, f"the current thread is {current}", "threads.current"))
    runs = [r for (r,) in conn.execute("SELECT run_id FROM runs ORDER BY run_id")]
    orphan = [r for r in runs if r not in {t.run_id for t in thread_list}]
    if orphan:
        out.append(Finding("runs", NOTE, f"run{'s' * (len(orphan) > 1)} {', '.join(map(str, orphan))} of the "
                           "ledger ha" + ("ve" if len(orphan) > 1 else "s") + " no thread (a start that was "
                           "interrupted, or a ledger written without the cycle graph): nothing continues it",
                           "threads.orphan_run"))
    elif runs:
        out.append(Finding("runs", OK, f"every run has a thread ({len(runs)} run{'s' * (len(runs) > 1)})",
                           "threads.runs"))
    for cp in checkpoints:
        out += _one_thread(conn, cp)
    return out


def _one_thread(conn: sqlite3.Connection, cp: _Checkpoint) -> list[Finding]:
    t = cp.thread
    check = f"thread {t.thread_id}"
    if cp.values is None:
        branch = thread_line_branch(conn, t)
        if branch is None:
            return [Finding(check, ERROR, "no checkpoints, and the ledger does not say which branch the thread is "
                            "on: it cannot be rebuilt", "checkpoints.missing")]
        cycle = last_settled(conn, branch)
        return [Finding(check, ERROR, f"no checkpoints; the thread's line in the ledger is at cycle {cycle} on "
                        f"branch {branch}: `--repair` rebuilds its checkpoint there",
                        "checkpoints.missing", repairable=True)]
    v = cp.values
    run_id, branch, cycle = v.get("run_id"), v.get("branch_id"), v.get("cycle")
    if not all(isinstance(x, int) for x in (run_id, branch, cycle)):
        return [Finding(check, ERROR, f"the checkpoint does not say where the run is "
                        f"(run {run_id}, branch {branch}, cycle {cycle})", "checkpoints.values")]
    if run_id != t.run_id:
        return [Finding(check, ERROR, f"the thread belongs to run {t.run_id}, but its checkpoint is in run "
                        f"{run_id}", "checkpoints.run")]
    row = conn.execute("SELECT run_id FROM branches WHERE branch_id = ?", (branch,)).fetchone()
    if row is None or row[0] != run_id:
        where = "which the ledger does not have" if row is None else f"which belongs to run {row[0]}"
        return [Finding(check, ERROR, f"the checkpoint is on branch {branch}, {where}",
                        "checkpoints.branch")]
    last = last_settled(conn, branch)
    paused = (f"; it is paused inside cycle {cycle + 1}, before {', '.join(cp.next)} (an approval, or a "
              "cycle left by a crash: the next run resumes or re-runs it)") if cp.next else ""
    if last < cycle:
        found = Finding(check, ERROR, f"checkpointed at cycle {cycle} on branch {branch}, "
                        f"but the branch's ledger has settled only up to cycle {last}: the ledger is behind its "
                        "checkpoint (cycles were lost)", "checkpoints.ahead_of_ledger")
    elif last == cycle:
        found = Finding(check, NOTE if paused else OK, f"checkpoint at cycle {cycle} on branch {branch}, as "
                        "the ledger" + paused, "checkpoints.ok")
    elif last == cycle + 1:
        found = Finding(check, NOTE, f"branch {branch}: cycle {cycle + 1} settled but not "
                        "checkpointed (a crash); the next run re-runs it" + paused, "checkpoints.ledger_ahead")
    else:
        found = Finding(check, NOTE, f"branch {branch}: the ledger has settled up to cycle "
                        f"{last}, past the checkpoint's cycle {cycle} (LangGraph time travel, or a crash): the next "
                        f"run continues from cycle {cycle} on a fork, and branch {branch} keeps cycles "
                        f"{cycle + 1}-{last}" + paused, "checkpoints.ledger_ahead")
    out = [found]
    if last >= cycle:
        out.append(_books_finding(conn, t, run_id, branch, cycle))
    return out


def _books_finding(conn: sqlite3.Connection, t: ThreadRef, run_id: int, branch: int, cycle: int) -> Finding:
    """The books at the checkpoint can be rebuilt: a keyframe at or before the cycle on the branch's lineage,
    and the journal of every cycle since (what `MarketSnapshots.history` reads, without the blobs)."""
    check = f"thread {t.thread_id}: books"
    try:
        where, params = lineage_sql(lineage(conn, branch))
    except TypeError:  # an ancestor branch is missing (the ledger check "branches" says which)
        return Finding(check, ERROR, f"the books at cycle {cycle} cannot be rebuilt: branch {branch}'s ancestry "
                       "is broken", "books.lineage")
    try:
        row = conn.execute(f"SELECT max(cycle) FROM market_snapshots WHERE run_id = ? AND cycle <= ? AND {where}",
                           (run_id, cycle, *params)).fetchone()
        keyframe = row[0]
        have = set() if keyframe is None else {c for (c,) in conn.execute(
            f"SELECT cycle FROM market_journal WHERE run_id = ? AND cycle > ? AND cycle <= ? AND {where}",
            (run_id, keyframe, cycle, *params))}
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        keyframe, have = None, set()
    if keyframe is None:
        return Finding(check, ERROR, f"the books at cycle {cycle} cannot be rebuilt: branch {branch} has "
                       "no market keyframe at or before it", "books.keyframe")
    missing = [c for c in range(keyframe + 1, cycle + 1) if c not in have]
    if missing:
        return Finding(check, ERROR, f"the books at cycle {cycle} cannot be rebuilt: branch {branch} lacks "
                       f"the market journal of cycle{'s' * (len(missing) > 1)} "
                       f"{_ranges(missing)}", "books.journal")
    return Finding(check, OK, f"the books at cycle {cycle} rebuild from the keyframe of cycle {keyframe}",
                   "books.ok")


def _lease_finding(holder: Holder | None) -> Finding:
    if holder is None:
        return Finding("lease", OK, "free: no process is running the run", "lease.free")
    if holder.alive():
        return Finding("lease", OK, f"held by {holder.describe()}, which is running (this report is a view of "
                       "one moment)", "lease.live")
    return Finding("lease", NOTE, f"the lease row names {holder.describe()}, which is no longer running: the next "
                   "run takes it over (`--repair` clears it)", "lease.dead", repairable=True)


def _stuck_commands(conn: sqlite3.Connection) -> list[tuple]:
    try:
        return conn.execute("SELECT id, kind, args, requested_by, status FROM floor_commands "
                            "WHERE status IN ('pending', 'applying') ORDER BY id").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def _commands_finding(conn: sqlite3.Connection, holder: Holder | None) -> Finding:
    stuck = _stuck_commands(conn)
    if not stuck:
        return Finding("commands", OK, "no control command is waiting", "commands.none")
    if holder is not None and holder.alive():
        return Finding("commands", OK, f"{len(stuck)} control command{'s' * (len(stuck) > 1)} in the hands of "
                       "the running owner", "commands.live")
    pending = [r for r in stuck if r[4] == "pending"]
    sentences = []
    for i, kind, args, by, status in pending + [r for r in stuck if r[4] == "applying"]:
        what = f"command #{i} ({kind} {_args(args)}, asked by `{by}`)"
        if status == "pending":
            sentences.append(f"{what} is still pending but no process owns the run: the next run would apply it "
                             "when it starts (`--repair` withdraws it)")
        else:
            sentences.append(f"{what} was being applied when its owner stopped; the thread checks say where the run "
                             "stands (`--repair` marks it withdrawn)")
    level = ERROR if pending else NOTE
    return Finding("commands", level, sentences[0], "commands.pending" if pending else "commands.applying",
                   repairable=True, details=tuple(sentences[1:]))


def _args(args: str) -> str:
    try:
        return " ".join(f"{k}={v}" for k, v in json.loads(args).items() if k != "config")
    except (ValueError, AttributeError):
        return args


def _ranges(cycles: list[int]) -> str:
    parts, start = [], None
    for i, c in enumerate(cycles):
        if start is None:
            start = c
        if i + 1 == len(cycles) or cycles[i + 1] != c + 1:
            parts.append(str(start) if start == c else f"{start}-{c}")
            start = None
    return ", ".join(parts)


# ---- repairing -----------------------------------------------------------------------------------------

def repair(db_path: str | Path) -> Diagnosis:
    """Own the run, fix what can be rebuilt from the ledger, release, check again. Raises LeaseHeld while
    another live process owns the run (nothing is changed then), DoctorError for an unreadable file."""
    db_path = str(db_path)
    _open_readonly(db_path).close()  # the file must be a run database before anything is written
    holder_before = _dead_holder(db_path)
    lease = acquire_lease(db_path, command="trading-floor doctor --repair", accepts_commands=False)
    done: list[str] = []
    try:
        if run_database.merge_legacy_checkpoints(db_path):
            done.append(f"merged {run_database.legacy_checkpoint_path(db_path)} into {db_path}")
        done += _withdraw_stuck_commands(db_path)
        done += _rebuild_checkpoints(db_path)
    finally:
        lease.release()
    if holder_before is not None:
        done.insert(0, f"cleared the lease row of {holder_before.describe()}, which was no longer running")
    result = diagnose(db_path)
    result.repaired = done
    return result


def _dead_holder(db_path: str) -> Holder | None:
    conn = _open_readonly(db_path)
    try:
        holder = read_holder(conn)
    finally:
        conn.close()
    if holder is None:
        return None
    if holder.alive():
        raise LeaseHeld(holder, db_path)
    return holder


def _withdraw_stuck_commands(db_path: str) -> list[str]:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        stuck = _stuck_commands(conn)
        if not stuck:
            return []
        note = json.dumps({"message": "withdrawn by `trading-floor doctor --repair`: no process owned the run "
                           "to apply it"}, sort_keys=True)
        conn.execute("BEGIN IMMEDIATE")
        for i, *_ in stuck:
            conn.execute("UPDATE floor_commands SET status = 'withdrawn', result = ?, answered_at = ? "
                         "WHERE id = ? AND status IN ('pending', 'applying')", (note, time.time(), i))
        conn.execute("COMMIT")
        return [f"withdrew command #{i} ({kind}, {status})" for i, kind, _, _, status in stuck]
    finally:
        conn.close()


def _rebuild_checkpoints(db_path: str) -> list[str]:
    from floor import session_support as common
    from floor.config import FloorConfig

    lconn = _open_readonly(db_path)
    try:
        missing = []
        thread_list = ThreadRegistry(lconn, readonly=True).all()
        cconn = run_database.connect_checkpoints(db_path)
        try:
            for t in thread_list:
                if run_database.has_checkpoints(cconn, t.thread_id):
                    continue
                branch = thread_line_branch(lconn, t)
                if branch is not None:
                    missing.append((t, branch, last_settled(lconn, branch)))
            if not missing:
                return []
            graph = _graph(cconn, readonly=False)
            done = []
            for t, branch, cycle in missing:
                try:
                    cfg = FloorConfig.model_validate(t.config)
                except ValueError as exc:  # pydantic's ValidationError: a config this version cannot read
                    done.append(f"could not rebuild thread {t.thread_id}: its config is not valid here ({exc})")
                    continue
                values = common.start_values(t.run_id, branch, cfg) | {"cycle": cycle}
                graph.update_state(t.config_dict, values, as_node="settle")
                done.append(f"rebuilt the checkpoint of thread {t.thread_id} at cycle {cycle} on branch {branch}")
            return done
        finally:
            cconn.close()
    finally:
        lconn.close()
