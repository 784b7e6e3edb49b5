"""A light, read-only view of a run, for `trading-floor status` and `history`.

A reader needs the current thread, its last checkpoint, its history and a leaderboard. `FloorSession`
gives all of that, but opening one loads the floor's config (pydantic-settings, YAML, the background
market's models, numpy) and rebuilds the books to value the portfolios: most of a reader's start-up. This
view reads the same things without either:

* the thread and its checkpoints through `floor/checkpoint_reader.py` (no LangGraph);
* the leaderboard at the marks that `settle` recorded with the cycle (`Ledger.marks_at`), which are the
  marks the books gave at that moment, so the figures equal a session's. Only a cycle without recorded
  marks (cycle 0 of a run) falls back to rebuilding the books (`floor`, built on first use).

It opens the file read-only, writes nothing, and reads the leaderboard inside one read transaction, so it
sees whole cycles while the run's owner goes on writing.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floor import database as run_database
from floor.checkpoint_reader import CheckpointReader, UnsupportedCheckpoint
from floor.session_support import history_rows
from floor.threads import ThreadRef, ThreadRegistry

if TYPE_CHECKING:
    from floor.runtime import Floor
    from ledger.store import Ledger


class RunReader:
    """The current thread (or `thread_id`) of a run database, read-only. Raises LookupError with one
    sentence when the database lacks the thread's checkpoints."""

    def __init__(self, db_path: str | Path, *, thread_id: str | None = None) -> None:
        from ledger.store import Ledger

        self.db_path = str(db_path)
        self.ledger: Ledger = Ledger.open(self.db_path, readonly=True)
        self.conn = run_database.connect_checkpoints(self.db_path, readonly=True)
        self.reader = CheckpointReader(self.conn, threading.Lock())
        self.threads = ThreadRegistry(self.ledger.conn, readonly=True)
        self.thread: ThreadRef | None = self.threads.get(thread_id) if thread_id else self.threads.current()
        self._floor: Floor | None = None
        self._session: Any = None  # a FloorSession, only for a checkpoint the light reader cannot decode
        if self.thread is not None and not run_database.has_checkpoints(self.conn, self.thread.thread_id):
            self.close()
            raise LookupError(run_database.missing_checkpoints_message(self.db_path, self.thread.thread_id))

    def _snapshots(self, fn: str, *args):
        """`get_state`/`get_state_history` from the light checkpoint reader; a checkpoint it does not decode
        is read by LangGraph through a read-only FloorSession (opened on first need)."""
        try:
            result = getattr(self.reader, fn)(*args)
            return result if fn == "get_state" else list(result)
        except UnsupportedCheckpoint:
            if self._session is None:
                from floor.session import FloorSession

                self._session = FloorSession(self.db_path, readonly=True, thread_id=self.thread.thread_id)
            return getattr(self._session, "_snapshot" if fn == "get_state" else "_state_history")(*args)

    def state(self) -> dict:
        """The thread's state at its last checkpoint ({} without a thread)."""
        if self.thread is None:
            return {}
        return self._snapshots("get_state", self.thread.config_dict).values

    def history(self) -> list[dict]:
        """Completed cycles of the thread, newest first: cycle, branch, checkpoint id, summary."""
        return history_rows(self._snapshots("get_state_history", self.thread.config_dict))

    def leaderboard(self) -> list[dict[str, Any]]:
        """The traders ranked at the last cycle the thread's branch has wholly settled."""
        from ledger.market_history import MarketSnapshots

        ledger = self.ledger
        with ledger.read_snapshot():
            st = self.state()
            if not st:
                return []
            run_id, branch_id = st["run_id"], st["branch_id"]
            ledger.use(run_id, branch_id, remember=False)
            cycle = max(ledger.last_cycle() or 0, st["cycle"])
            books = MarketSnapshots(ledger.conn)
            while cycle > st["cycle"] and not books.has_cycle(run_id, branch_id, cycle):
                cycle -= 1  # rows of a cycle in progress come before its journal (as in view_settled)
            marks = ledger.marks_at(cycle)
            if not marks:  # nothing recorded at this cycle (cycle 0): value at the books' marks
                from floor.session_support import view_settled

                floor = self.floor
                view_settled(floor, st)
                marks = floor.marks()
            return ledger.leaderboard(marks)

    @property
    def floor(self) -> Floor:
        """A read-only Floor over the same ledger, with the thread's config (built on first use: it imports
        the market and the config, which the light readings above avoid)."""
        if self._floor is None:
            from floor.config import FloorConfig
            from floor.runtime import Floor

            config = FloorConfig.model_validate(self.thread.config) if self.thread else FloorConfig()
            self._floor = Floor(config=config, ledger=self.ledger, db_path=self.db_path)
        return self._floor

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self.conn.close()
        self.ledger.close()
