"""Read-only access to a run database from a server process: the ledger, and the books as of the last
settled cycle.

The exchange lives in the process that runs the cycles; a server in another process rebuilds its own
copy from the market history that the settle node writes (a keyframe snapshot and the cycle journals
since, `ledger/market_history.py`, following the branch's fork lineage). When the ledger shows newer
cycles on the same branch, the reader replays just their journals on the copy it has; another branch
means a rebuild. So the market it shows is the market at the end of the last settled cycle, never a
half-done one.

The reader follows the branch the floor marks active in the ledger's `meta` table (it changes on a
rollback or a fork). All access goes through `lock`: FastMCP may call tools from several tasks, and
neither the exchange nor the SQLite connection is shared safely without it.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from floor.database import open_queue_connection, run_database_exists
from ledger.market_history import MarketSnapshots
from ledger.store import Ledger
from market.exchange import Exchange
from market.journal import ReplayError, replay_journals, restore_at


class ReaderError(RuntimeError):
    """The database has no run (or no settled snapshot) to read yet."""


class FloorReader:
    def __init__(self, db_path: str | Path) -> None:
        if not run_database_exists(db_path):
            raise ReaderError(f"no run database at {db_path}: start a run with `trading-floor run`")
        self.db_path = str(db_path)
        self.lock = threading.RLock()
        self._ledger: Ledger | None = None
        self._exchange: Exchange | None = None
        self._at: tuple[int, int, int] | None = None
        self._config: Any = None
        self.queue_conn = open_queue_connection(self.db_path)

    # ----- the ledger, on the floor's active branch -----------------------------------------------
    def _active_branch(self, conn: sqlite3.Connection) -> tuple[int, int] | None:
        row = conn.execute("SELECT value FROM meta WHERE key='active_branch'").fetchone()
        if row is None:
            return None
        run = conn.execute("SELECT run_id FROM branches WHERE branch_id=?", (int(row[0]),)).fetchone()
        return None if run is None else (int(run[0]), int(row[0]))

    def refresh(self) -> tuple[int, int, int]:
        """Follow the floor: (run, branch, last settled cycle), restoring the books when they moved."""
        with self.lock:
            if self._ledger is None:  # a reader: opened read-only, it never takes the run's write lock
                self._ledger = Ledger.open(self.db_path, readonly=True)
            conn = self._ledger.conn
            active = self._active_branch(conn)
            if active is None:
                raise ReaderError(f"no run in {self.db_path} yet: start one with `trading-floor run`")
            if (self._ledger.run_id, self._ledger.branch_id) != active:
                self._ledger.use(*active, remember=False)
            cycle = self._ledger.last_cycle() or 0
            snapshots = MarketSnapshots(conn)
            while cycle > 0 and not snapshots.has_cycle(*active, cycle):
                cycle -= 1  # the owner's cycle in progress (its reservations) is not settled yet
            at = (*active, cycle)
            if at != self._at:
                self._exchange = self._books_at(at)
                self._at = at
                self._config = None
            return at

    def _books_at(self, at: tuple[int, int, int]) -> Exchange:
        run_id, branch_id, cycle = at
        same_line = self._at is not None and self._at[:2] == at[:2] and self._at[2] <= cycle
        hist = MarketSnapshots(self._ledger.conn).history(run_id, branch_id, cycle,
                                                          after=self._at[2] if same_line else None)
        if hist is None:
            raise ReaderError(f"no market snapshot for run {run_id} branch {branch_id} cycle {cycle}")
        try:
            if hist.keyframe:
                return restore_at(hist.keyframe, hist.journals)
            self._at = None  # the copy is moved on in place: if that fails half-way, rebuild next time
            return replay_journals(self._exchange, hist.journals)
        except ReplayError as e:
            raise ReaderError(f"the books of run {run_id} branch {branch_id} cycle {cycle} cannot be rebuilt: {e}") from e

    @property
    def ledger(self) -> Ledger:
        self.refresh()
        return self._ledger

    @property
    def exchange(self) -> Exchange:
        self.refresh()
        return self._exchange

    @property
    def run_id(self) -> int:
        return self.refresh()[0]

    @property
    def cycle(self) -> int:
        return self.refresh()[2]

    def config(self) -> Any:
        """The run's FloorConfig (traders, their theories, parameters and risk limits)."""
        from floor.config import FloorConfig

        with self.lock:
            run_id = self.refresh()[0]
            if self._config is None:
                view = next(r for r in self._ledger.list_runs() if r.run_id == run_id)
                self._config = FloorConfig.model_validate(view.config)
            return self._config

    def trader_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.config().traders)

    def close(self) -> None:
        with self.lock:
            if self._ledger is not None:
                self._ledger.close()
            self.queue_conn.close()
