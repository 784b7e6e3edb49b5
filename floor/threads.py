"""Which LangGraph thread carries which line of a run, and which one the command line continues.

A run starts on thread `run-<id>`. A rollback stays on the same thread (the state moves to a new ledger
branch; the discarded future stays in the old one). A fork gets a thread of its own, `run-<id>-b<branch>`,
with the config it was forked with, so both lines can be continued and inspected.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

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
