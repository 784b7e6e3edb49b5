"""Exchange snapshots per (run, branch, cycle), stored beside the ledger in the same SQLite file.

The end-of-cycle snapshot is written in the same transaction as the cycle's ledger rows, so a cycle is
either wholly recorded (ledger + books) or wholly absent. Rollback restores the books from here.
"""
from __future__ import annotations

import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS market_snapshots (
    run_id TEXT NOT NULL,
    branch_id INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (run_id, branch_id, cycle)
)
"""


class MarketSnapshots:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(_SCHEMA)

    def save(self, run_id: str, branch_id: int, cycle: int, blob: bytes) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO market_snapshots (run_id, branch_id, cycle, blob) VALUES (?, ?, ?, ?)",
            (run_id, branch_id, cycle, blob),
        )

    def load(self, run_id: str, branch_id: int, cycle: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT blob FROM market_snapshots WHERE run_id = ? AND branch_id = ? AND cycle = ?",
            (run_id, branch_id, cycle),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def truncate_after(self, run_id: str, branch_id: int, cycle: int) -> int:
        cur = self.conn.execute(
            "DELETE FROM market_snapshots WHERE run_id = ? AND branch_id = ? AND cycle > ?",
            (run_id, branch_id, cycle),
        )
        return cur.rowcount

    def copy_branch(self, run_id: str, src_branch: int, dst_branch: int, up_to_cycle: int) -> None:
        """Give a new branch the snapshots of its parent up to the fork cycle."""
        self.conn.execute(
            "INSERT OR REPLACE INTO market_snapshots (run_id, branch_id, cycle, blob) "
            "SELECT run_id, ?, cycle, blob FROM market_snapshots WHERE run_id = ? AND branch_id = ? AND cycle <= ?",
            (dst_branch, run_id, src_branch, up_to_cycle),
        )

    def delete_run(self, run_id: str | None = None) -> None:
        if run_id is None:
            self.conn.execute("DELETE FROM market_snapshots")
        else:
            self.conn.execute("DELETE FROM market_snapshots WHERE run_id = ?", (run_id,))
