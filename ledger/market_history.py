"""The books' history per (run, branch, cycle), kept as opaque blobs in the ledger's SQLite file.

Two tables, both written in the same transaction as the cycle's ledger rows (so a cycle is either wholly
recorded, ledger and books, or wholly absent):
- `market_snapshots` holds keyframes: a whole exchange snapshot, at cycle 0 and then every few cycles;
- `market_journal` holds, for every completed cycle, that cycle's journal: the calls that reached the
  exchange from outside its background market (`market/journal.py`), a few hundred bytes.

The books at cycle c are the newest keyframe at or before c on the branch's lineage, with the journals of
the cycles after it replayed. A fork copies nothing: like the ledger's history rows, a branch sees its
parent's keyframes and journals up to the fork cycle. A fork may also store a keyframe of its own at its
fork cycle (its books with its own background config, floor/runtime.py): at equal cycles the keyframe of
the younger branch (the higher branch id, always the descendant on a lineage) wins. The ledger only stores and finds the blobs; what
is inside them is the market's business.
"""
from __future__ import annotations

import sqlite3
from typing import NamedTuple

from ledger.dialect import dialect_of
from ledger.lineage import lineage, lineage_sql

TABLES = ("market_snapshots", "market_journal")  # keyframes, journals: the same shape of row
_SCHEMA = """CREATE TABLE IF NOT EXISTS {table} (
    run_id {run_id_type} NOT NULL,
    branch_id INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (run_id, branch_id, cycle)
)"""


class MarketHistory(NamedTuple):
    """What it takes to rebuild the books at `cycle`: a keyframe and the journals of the cycles after it."""

    cycle: int
    keyframe_cycle: int
    keyframe: bytes
    journals: list[bytes]  # cycles keyframe_cycle + 1 .. cycle, in order


def _read_only(conn) -> bool:
    """A PostgreSQL reader's session (a reader before the run's first keyframe finds no tables to read)."""
    return conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"


class MarketSnapshots:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        d = dialect_of(conn)
        self._replace = {t: d.insert_or_replace(t, "run_id, branch_id, cycle, blob", "run_id, branch_id, cycle")
                         for t in TABLES}
        for table in TABLES:
            if d.name != "sqlite" and (d.has_table(conn, table) or _read_only(conn)):
                continue  # PostgreSQL refuses even CREATE TABLE IF NOT EXISTS on a read-only session
            # TEXT on SQLite since the first version (its affinity compares it with integers); PostgreSQL
            # compares strictly, so there it is the integer the ledger's run ids are
            with d.schema_change(conn):
                conn.execute(d.raw_ddl(_SCHEMA.format(table=table,
                                                      run_id_type="TEXT" if d.name == "sqlite" else "INTEGER")))

    def save(self, run_id: int, branch_id: int, cycle: int, blob: bytes) -> None:
        """A keyframe: the whole exchange at the end of `cycle`."""
        self._put("market_snapshots", run_id, branch_id, cycle, blob)

    def save_journal(self, run_id: int, branch_id: int, cycle: int, blob: bytes) -> None:
        """The journal of `cycle` (written for every completed cycle)."""
        self._put("market_journal", run_id, branch_id, cycle, blob)

    def _put(self, table: str, run_id: int, branch_id: int, cycle: int, blob: bytes) -> None:
        self.conn.execute(self._replace[table], (run_id, branch_id, cycle, blob))

    def has_cycle(self, run_id: int, branch_id: int, cycle: int) -> bool:
        """Is the end of `cycle` recorded on the branch's lineage (a journal or a keyframe at that cycle)?"""
        where, params = lineage_sql(lineage(self.conn, branch_id))
        return any(
            self.conn.execute(f"SELECT 1 FROM {t} WHERE run_id = ? AND cycle = ? AND {where} LIMIT 1",
                              (run_id, cycle, *params)).fetchone()
            for t in TABLES
        )

    def history(self, run_id: int, branch_id: int, cycle: int, *, after: int | None = None) -> MarketHistory | None:
        """The keyframe and journals that rebuild the books at the end of `cycle` on `branch_id`.

        With `after` (a cycle the caller's books already stand at, on the same lineage), no keyframe older
        than that is needed: the journals of cycles after+1 .. cycle are returned with an empty keyframe
        when no newer keyframe exists. None when the lineage lacks the rows."""
        where, params = lineage_sql(lineage(self.conn, branch_id))
        row = self.conn.execute(
            f"SELECT cycle, blob FROM market_snapshots WHERE run_id = ? AND cycle <= ? AND {where} "
            "ORDER BY cycle DESC, branch_id DESC LIMIT 1", (run_id, cycle, *params)).fetchone()
        if after is not None and after <= cycle and (row is None or row[0] <= after):
            start, keyframe = after, b""
        elif row is None:
            return None
        else:
            start, keyframe = row[0], bytes(row[1])
        rows = self.conn.execute(
            f"SELECT cycle, blob FROM market_journal WHERE run_id = ? AND cycle > ? AND cycle <= ? AND {where} "
            "ORDER BY cycle", (run_id, start, cycle, *params)).fetchall()
        if [c for c, _ in rows] != list(range(start + 1, cycle + 1)):
            return None
        return MarketHistory(cycle, start, keyframe, [bytes(b) for _, b in rows])

    def delete_all(self) -> None:
        for t in TABLES:
            self.conn.execute(f"DELETE FROM {t}")
