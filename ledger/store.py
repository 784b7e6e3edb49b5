"""`Ledger`: the facade the graph, tools and UI call. One SQLite file (or ":memory:") per floor.

Concurrency model: one writer at a time (the floor process that holds the run's lease). The active
branch's state is mirrored in memory (see `state.py`); a ledger commit by another connection is detected
(`PRAGMA data_version`, then the ledger's own write counter) and reloads the mirror. Files use WAL with synchronous=NORMAL: a process crash (kill -9) loses nothing
committed; a power cut may lose the last transactions but never leaves a half-written one.

Writes for one cycle can be grouped with `with ledger.transaction():`; every public write also opens
its own (nested: SAVEPOINT) transaction, so a refused request writes nothing and leaves any enclosing
transaction usable.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ledger import branches, fee_schedule
from ledger import packed_history as _packed
from ledger.dialect import dialect_of, is_url
from ledger.errors import LedgerError, RejectCode
from ledger.market_history import MarketSnapshots
from ledger.reading import ReadingMixin
from ledger.schema import ALL_BRANCH_TABLES, check_schema, create_schema, stand_in_missing_tables
from ledger.state import BranchState, load_state
from ledger.trading import TradingMixin
from ledger.types import CASH, SYSTEM_ACCOUNTS, BranchView, RunRef, RunView

# A writer folds the WAL into the file (a checkpoint: two fsyncs and a copy of every page written since) once
# the WAL holds this many pages. SQLite's default, 1,000 pages (4 MB), meant a checkpoint every ~18 cycles of the
# default floor (57 pages a cycle); 4,096 (16 MB of WAL at most) cut a 1,000-cycle run's CPU time by ~2-4%.
WAL_AUTOCHECKPOINT_PAGES = 4096


def use_wal(conn: sqlite3.Connection) -> None:
    """A writer's settings for a run database file (the ledger's connection and the checkpoints'): WAL;
    synchronous=NORMAL, so a commit survives a killed process without waiting for the disk (fsync) each
    cycle; the WAL folded in every WAL_AUTOCHECKPOINT_PAGES pages."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")


class Ledger(TradingMixin, ReadingMixin):
    def __init__(self, conn: sqlite3.Connection, *, fee_bps: int, allow_short: bool, short_limit: int,
                 credit_limit: int, symbols: Iterable[str] | None, readonly: bool = False,
                 packed_history: bool | None = None):
        self.conn = conn
        # traces and messages written one packed row per cycle (packed_history.py); False: the old layout
        self.packed_history = _packed.packed_by_default() if packed_history is None else packed_history
        self.dialect = dialect_of(conn)
        # callers outside the ledger reach the connection as `ledger.db.conn`. sqlite-utils creates the
        # SQLite schema (dialect.py) and is imported only then: a reader (status, history) starts without it
        self.db = SimpleNamespace(conn=conn)
        self.readonly = readonly
        if readonly:
            check_schema(conn)
            stand_in_missing_tables(conn)  # a file an older version wrote, without the newer tables
        else:
            create_schema(conn)
        self.fee_bps, self.allow_short, self.short_limit, self.credit_limit = (
            fee_bps, allow_short, short_limit, credit_limit)
        self.default_symbols = tuple(symbols or ())
        self._st: BranchState | None = None
        self._depth = 0
        self._flat = False  # the open transaction was opened with savepoints=False
        self._doomed = False  # ... and a request inside it failed: it can only roll back
        self._pins = 0  # > 0 inside `pinned()`
        self._dv = None
        self._lv = None  # the ledger's write counter the mirror reflects
        self._cycle = 0
        self._flat_nested = _FlatNested(self)
        row = conn.execute("SELECT value FROM meta WHERE key='active_branch'").fetchone()
        if row and conn.execute("SELECT 1 FROM branches WHERE branch_id=?", (int(row[0]),)).fetchone():
            self._activate(int(row[0]))

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | Path, *, fee_bps: int = 0, allow_short: bool = False, short_limit: int = 0,
             credit_limit: int = 0, symbols: Iterable[str] | None = None, readonly: bool = False,
             packed_history: bool | None = None) -> Ledger:
        """Open (creating if needed) a ledger database. `symbols` are the default universe of new runs.

        `readonly` opens an existing file for reading only (SQLite `mode=ro`): nothing is created or
        written, not even the active-branch marker, so readers work on a read-only file and never take
        the write lock from the run's owner.

        `path` may also be a PostgreSQL URL (`postgresql://user@host/db`, optionally `?schema=name`): the
        same ledger on a psycopg connection from a pool (pg_connection.py, dialect.py). A server that
        cannot be reached raises `StorageUnavailable` with one sentence."""
        if is_url(path):
            from ledger.pg_connection import connect

            conn = connect(str(path))
            try:
                if readonly:  # the server refuses any write on this session (reset when pooled again)
                    conn.execute("SET default_transaction_read_only = on")
                return cls(conn, fee_bps=fee_bps, allow_short=allow_short, short_limit=short_limit,
                           credit_limit=credit_limit, symbols=symbols, readonly=readonly,
                           packed_history=packed_history)
            except BaseException:
                conn.close()
                raise
        if readonly:
            conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: the hot B-tree pages stay in memory
        if str(path) != ":memory:" and not readonly:
            use_wal(conn)
        return cls(conn, fee_bps=fee_bps, allow_short=allow_short, short_limit=short_limit,
                   credit_limit=credit_limit, symbols=symbols, readonly=readonly, packed_history=packed_history)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self, *, savepoints: bool = True):
        """One atomic unit (BEGIN IMMEDIATE ... COMMIT; SAVEPOINT when nested). On error: rollback.

        `savepoints=False` (on the outermost transaction; nested ones inherit it) is for a writer that
        treats any failure as the end of the whole transaction, like the cycle's settle node: the nested
        requests open no SAVEPOINT. A SAVEPOINT makes SQLite copy every page first modified inside it to
        a sub-journal (measured: inserting a cycle's lot chunks about 4x slower inside one than
        without), so this mode writes the same rows for less. The price: a nested request that raises
        (or a settlement that is refused) cannot be undone on its own, so it dooms the transaction:
        the outermost block then rolls everything back, and if the caller swallowed the error it raises
        LedgerError(ABORTED) instead of committing. Rows are identical in both modes.

        A request nested in such a transaction gets `_FlatNested`, which does exactly what the block below
        does then (count the depth, doom the transaction on an error) without a generator per request: the
        settle node makes a dozen of them per cycle.
        """
        if self._depth and self._flat:
            return self._flat_nested
        return self._transaction(savepoints)

    @contextmanager
    def _transaction(self, savepoints: bool) -> Iterator[None]:
        outer = self._depth == 0
        name = None
        if outer:
            self._flat, self._doomed = not savepoints, False
            self.conn.execute(self.dialect.begin_write)
        elif not self._flat:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if outer:
                self.conn.execute("ROLLBACK")
            elif name is None:  # no savepoint to return to: the outermost block rolls back (and reloads)
                self._doomed = True
                raise
            else:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            self._reload()
            raise
        self._depth -= 1
        if outer:
            if self._doomed:
                self.conn.execute("ROLLBACK")
                self._reload()
                raise LedgerError(RejectCode.ABORTED, "a request inside this transaction (opened with "
                                  "savepoints=False) failed, so the whole transaction was rolled back")
            lv, raw = self._bump_version()
            self.conn.execute("COMMIT")
            # Our own commit: SQLite's data_version does not move for it (it counts other connections'
            # commits), PostgreSQL's stand-in is the counter just bumped, so no query is needed. A bump
            # that skipped a number found another connection's ledger commit the mirror has not seen.
            missed = self._lv is not None and lv != self._lv + 1
            self._lv = lv
            self._dv = self.dialect.data_version_after_commit(self._dv, raw)
            if missed:
                self._reload()
        elif name is not None:
            self.conn.execute(f"RELEASE {name}")

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """A block of reads that all see one committed state of the file (a read transaction: in WAL mode
        the writer goes on, and the block sees none of its later commits). A reader uses it to see whole
        cycles only: fills, marks and portfolio values of the same last settled cycle."""
        if self._depth:
            yield  # already inside a transaction: it is the snapshot
            return
        self.conn.execute(self.dialect.begin_read)
        self._depth += 1
        try:
            self.conn.execute("SELECT count(*) FROM meta").fetchone()  # the snapshot starts at the first read
            self._reload()
            yield
        finally:
            self._depth -= 1
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ runs and branches
    def start_run(self, *, config: Mapping[str, Any], seed: int, name: str | None = None,
                  symbols: Iterable[str] | None = None, meta: Mapping[str, Any] | None = None) -> RunRef:
        """Create a run with its main branch and the system accounts; it becomes the active branch."""
        syms = sorted(set(symbols if symbols is not None else self.default_symbols))
        with self.transaction():
            run_id = self.dialect.insert_id(
                self.conn, "INSERT INTO runs(name, seed, config, meta, fee_bps) VALUES (?,?,?,?,?)",
                (name, seed, json.dumps(config, sort_keys=True, default=str),
                 json.dumps(dict(meta or {}), sort_keys=True, default=str), self.fee_bps), "run_id")
            b = branches.new_branch(self.conn, run_id, None, None, "main")
            self.conn.executemany("INSERT INTO symbols(run_id, symbol) VALUES (?,?)", [(run_id, s) for s in syms])
            for acct in SYSTEM_ACCOUNTS:
                self.conn.execute(
                    "INSERT INTO accounts(run_id, branch_id, cycle, name, theory, kind, initial_cash, "
                    "initial_holdings, allow_short, short_limit, credit_limit) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, b, -1, acct, "", "system", 0, "{}", 1, 0, 0))
                self.conn.execute("INSERT INTO balances(run_id, branch_id, cycle, account, asset, amount, reserved) "
                                  "VALUES (?,?,?,?,?,0,0)", (run_id, b, -1, acct, CASH))
            self._activate(b)
        return RunRef(run_id, b)

    def use(self, run_id: int, branch_id: int, *, remember: bool = True) -> None:
        """Make `branch_id` the active branch. `remember=False` (a reader's view) writes nothing: the file
        keeps the branch its writer last used as the one to reopen."""
        row = self.conn.execute("SELECT run_id FROM branches WHERE branch_id=?", (branch_id,)).fetchone()
        if row is None or row[0] != run_id:
            raise LedgerError(RejectCode.NO_ACTIVE_RUN, f"run {run_id} has no branch {branch_id}")
        self._activate(branch_id, remember=remember)

    def _activate(self, branch_id: int, *, remember: bool = True) -> None:
        if remember and not self.readonly:
            self.conn.execute(self.dialect.insert_or_replace("meta", "key, value", "key"),
                              ("active_branch", str(branch_id)))
        self._st = load_state(self.conn, branch_id)
        self._dv, self._lv = self._data_version(), self._ledger_version()

    def list_runs(self) -> list[RunView]:
        return [RunView(r, n, s, json.loads(c), json.loads(m)) for r, n, s, c, m in self.conn.execute(
            "SELECT run_id, name, seed, config, meta FROM runs ORDER BY run_id")]

    def list_branches(self, run_id: int | None = None) -> list[BranchView]:
        rid = self.run_id if run_id is None else run_id
        return [BranchView(*row) for row in self.conn.execute(
            "SELECT branch_id, run_id, parent_id, fork_cycle, name FROM branches WHERE run_id=? ORDER BY branch_id",
            (rid,))]

    @property
    def ref(self) -> RunRef:
        # The active branch is this object's choice (`use`, `start_run`, `fork`), and a reload keeps it, so
        # naming it needs no look for other connections' commits (`_state`): the mirror's reads do that
        st = self._st
        if st is None:
            raise LedgerError(RejectCode.NO_ACTIVE_RUN, "no active run: call start_run() or use() first")
        return RunRef(st.run_id, st.branch_id)

    @property
    def run_id(self) -> int:
        return self.ref.run_id

    @property
    def branch_id(self) -> int:
        return self.ref.branch_id

    def truncate_after(self, cycle: int) -> int:
        """Rollback of the active branch to the end of `cycle`; returns the number of rows undone."""
        st = self._state()
        with self.transaction():
            n, rebuilt = branches.truncate_after(self.conn, st, cycle)
        if rebuilt:
            self._reload()
        else:
            st.hist_max.clear()  # rows after `cycle` are gone: the newest cycles are read again when needed
        self._cycle = cycle
        return n

    def fork(self, at_cycle: int, *, name: str | None = None, activate: bool = True) -> int:
        """New branch seeing the active branch as at the end of `at_cycle`; returns its id."""
        st = self._state()
        with self.transaction():
            b = branches.fork(self.conn, st.branch_id, at_cycle, name)
        if activate:
            self._activate(b)
            self._cycle = at_cycle
        return b

    def last_cycle(self) -> int | None:
        st = self._state()
        best = None
        if st.last_fill_cycle is not None:
            best = st.last_fill_cycle
        tables = ("transfers", "releases", "reservations", "orders", "traces", "messages", "snapshots")
        for t in tables + (("fee_changes",) if fee_schedule.has_table(self.conn) else ()):
            (c,) = self.conn.execute(f"SELECT max(cycle) FROM {t} WHERE branch_id=?", (st.branch_id,)).fetchone()
            if c is not None and (best is None or c > best):
                best = c
        c = _packed.last_cycle(self.conn, st.branch_id)
        if c is not None and (best is None or c > best):
            best = c
        if st.fork_cycle is not None and (best is None or st.fork_cycle > best):
            best = st.fork_cycle
        if best is None:
            (c,) = self.conn.execute("SELECT max(cycle) FROM accounts WHERE branch_id=? AND kind != 'system'",
                                     (st.branch_id,)).fetchone()
            best = c
        return best

    def reset(self) -> None:
        """Seed 000's reset between runs: delete every run, branch and row; the schema stays."""
        with self.transaction():
            for t in (*ALL_BRANCH_TABLES, "symbols", "branches", "runs"):
                self.conn.execute(f"DELETE FROM {t}")
            MarketSnapshots(self.conn).delete_all()
            self.conn.execute("DELETE FROM meta WHERE key='active_branch'")
            self.dialect.rewind_ids(self.conn, (*ALL_BRANCH_TABLES, "branches", "runs"))
        self._st = None

    # ------------------------------------------------------------------ internals
    def _data_version(self) -> int:
        return self.dialect.data_version(self.conn)

    def _ledger_version(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='ledger_version'").fetchone()
        return int(row[0]) if row else 0

    def _bump_version(self) -> tuple[int, Any]:
        """Inside a write transaction: count it, so other connections know the ledger changed.
        Returns the new count, and the value as stored (what `dialect.data_version` would read)."""
        (value,) = self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('ledger_version', '1') ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(meta.value AS INTEGER) + 1 RETURNING value").fetchone()
        return int(value), value

    def _reload(self) -> None:
        if self._st is not None:
            self._st = load_state(self.conn, self._st.branch_id)
            self._dv, self._lv = self._data_version(), self._ledger_version()

    def _state(self) -> BranchState:
        """The mirror of the active branch, reloaded when another connection changed the ledger.

        `PRAGMA data_version` tells cheaply that another connection committed something to the file;
        the ledger's own write counter (`ledger_version` in meta, bumped by every ledger transaction)
        then tells whether it was the ledger: LangGraph's checkpoints, the lease's heartbeat and the
        control commands share the file and change nothing the mirror holds, so they cost no reload."""
        if self._st is None:
            raise LedgerError(RejectCode.NO_ACTIVE_RUN, "no active run: call start_run() or use() first")
        if self._depth == 0 and not self._pins:
            dv = self._data_version()
            if dv != self._dv:
                if self._ledger_version() != self._lv:
                    self._reload()
                else:
                    self._dv = dv
        return self._st

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """A block of reads that need not look for other connections' commits more than once: the
        mirror is checked on entry, then trusted until the block ends (as inside a transaction)."""
        self._state()
        self._pins += 1
        try:
            yield
        finally:
            self._pins -= 1

    def _cyc(self, cycle: int | None) -> int:
        if cycle is not None:
            self._cycle = cycle
        return self._cycle


class _FlatNested:
    """`Ledger.transaction()` inside a transaction opened with savepoints=False: no SAVEPOINT, and an error
    dooms the outermost transaction (which then rolls back and reloads the mirror)."""

    __slots__ = ("led",)

    def __init__(self, led: Ledger):
        self.led = led

    def __enter__(self) -> None:
        self.led._depth += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.led._depth -= 1
        if exc_type is not None:
            self.led._doomed = True
        return False
