"""Which LangGraph thread carries which line of a run, and which one the command line continues.

A run starts on thread `run-<id>`. A rollback stays on the same thread (the state moves to a new ledger
branch; the discarded future stays in the old one). A fork gets a thread of its own, `run-<id>-b<branch>`,
with the config it was forked with, so both lines can be continued and inspected.

The *current* thread (`floor_meta.current_thread`) is the one a command continues when it is not told
otherwise: a new run and a fork make their thread current; `trading-floor use THREAD` (`switch_current`)
switches back, and `--thread` on `run`, `status`, `history`, `export` and `report` picks one for that
command only. Switching is a pointer change in the run database: it needs no lease, and a process running
another thread goes on with its own until it stops.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_threads (
    thread_id TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    parent_thread TEXT,
    forked_at INTEGER,
    config TEXT NOT NULL,
    label TEXT
);
CREATE TABLE IF NOT EXISTS floor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ThreadRef:
    thread_id: str
    run_id: int
    parent_thread: str | None
    forked_at: int | None
    config: dict
    label: str | None

    @property
    def config_dict(self) -> dict:
        return {"configurable": {"thread_id": self.thread_id}}


class ThreadRegistry:
    def __init__(self, conn: sqlite3.Connection, *, readonly: bool = False) -> None:
        self.conn = conn
        if not readonly:
            conn.executescript(_SCHEMA)
        elif not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'floor_threads'").fetchone():
            self.conn = sqlite3.connect(":memory:")  # a ledger without threads: read as an empty registry
            self.conn.executescript(_SCHEMA)

    def add(self, thread_id: str, run_id: int, config: dict, *, parent: str | None = None,
            forked_at: int | None = None, label: str | None = None) -> ThreadRef:
        self.conn.execute(
            "INSERT OR REPLACE INTO floor_threads VALUES (?, ?, ?, ?, ?, ?)",
            (thread_id, run_id, parent, forked_at, json.dumps(config, sort_keys=True), label),
        )
        self.set_current(thread_id)
        return self.get(thread_id)

    def get(self, thread_id: str) -> ThreadRef | None:
        row = self.conn.execute("SELECT * FROM floor_threads WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is None:
            return None
        return ThreadRef(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def all(self) -> list[ThreadRef]:
        ids = [r[0] for r in self.conn.execute("SELECT thread_id FROM floor_threads ORDER BY rowid")]
        return [self.get(i) for i in ids]

    def current(self) -> ThreadRef | None:
        row = self.conn.execute("SELECT value FROM floor_meta WHERE key = 'current_thread'").fetchone()
        return self.get(row[0]) if row else None

    def set_current(self, thread_id: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO floor_meta VALUES ('current_thread', ?)", (thread_id,))

    def clear(self) -> None:
        self.conn.execute("DELETE FROM floor_threads")
        self.conn.execute("DELETE FROM floor_meta")


class ThreadChoiceError(RuntimeError):
    """A thread named on the command line that the run database cannot continue; the sentence says why."""


def unknown_thread_message(db_path: str | Path, thread_id: str, known: list[str]) -> str:
    names = ", ".join(known) or "none yet"
    return f"no thread {thread_id!r} in {db_path}; its threads: {names} (see `trading-floor threads`)"


def known_thread_ids(db_path: str | Path) -> list[str]:
    """The threads of a run database, oldest first (read-only; an empty list when it has none)."""
    if not Path(db_path).exists():
        return []
    conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True, timeout=30)
    try:
        return [t.thread_id for t in ThreadRegistry(conn, readonly=True).all()]
    finally:
        conn.close()


def switch_current(db_path: str | Path, thread_id: str) -> ThreadRef:
    """Make `thread_id` the thread the command line continues (`trading-floor use`)."""
    from floor.database import has_checkpoints

    if not Path(db_path).exists():
        raise ThreadChoiceError(f"no database at {db_path}: start a run with `trading-floor run`")
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30)
    try:
        registry = ThreadRegistry(conn, readonly=True)
        thread = registry.get(thread_id)
        if thread is None:
            raise ThreadChoiceError(unknown_thread_message(db_path, thread_id, [t.thread_id for t in registry.all()]))
        if not has_checkpoints(conn, thread_id):
            raise ThreadChoiceError(f"thread {thread_id!r} has no checkpoints in {db_path}: "
                                    "`trading-floor doctor` checks the database")
        registry.set_current(thread_id)
        return thread
    finally:
        conn.close()
