"""Storage of FIFO lots: contiguous streams per (account, symbol, side), written in chunks.

A stream is the sequence of lots an account opened on one side of one symbol; each lot covers the
share range [start, start + qty) of its stream. A position keeps how many shares of each stream were
opened and consumed, so the open lots are those reaching above the consumed counter, and consuming a
lot never rewrites a row.

For speed, the lots one settlement batch opens on a stream are stored as ONE row (a chunk): its
`start`, total `qty`, and `items`, a JSON array of three parallel arrays [[qty...], [price...],
[source...]] in FIFO order (columnar, because json.dumps encodes flat lists about three times faster
than a list of small lists). A chunk never spans two batches, so it belongs to exactly one cycle and
truncation deletes whole chunks (`start >= opened`). Read one lot per row with:
    SELECT l.account, l.symbol, l.side, l.cycle, q.value AS qty,
           l.items ->> ('$[1][' || q.key || ']') AS price, l.items ->> ('$[2][' || q.key || ']') AS source
      FROM lots l, json_each(l.items, '$[0]') q
"""
from __future__ import annotations

import json
import sqlite3
from collections import deque

_dumps = json.JSONEncoder(separators=(",", ":")).encode
CHUNK_INSERT = "INSERT INTO lots VALUES (?,?,?,?,?,?,?,?,?)"
_FIRST = ("coalesce((SELECT max(start) FROM lots WHERE branch_id=? AND account=? AND symbol=? AND side=? "
          "AND start<=?), 0)")


def chunk_row(run_id: int, branch_id: int, account: str, symbol: str, side: int, start: int, cycle: int,
              qtys: list[int], prices: list[int], sources: list[str]) -> tuple:
    return (run_id, branch_id, account, symbol, side, start, sum(qtys), cycle,
            _dumps([qtys, prices, sources]))


def read_lots(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
              consumed: int, opened: int) -> list[tuple[int, int, int, int, str]]:
    """Lots overlapping [consumed, opened): (start, qty, price, cycle, source), oldest first."""
    key = (branch_id, account, symbol, side)
    out = []
    for start, cycle, items in conn.execute(
            f"SELECT start, cycle, items FROM lots WHERE branch_id=? AND account=? AND symbol=? AND side=? "
            f"AND start >= {_FIRST} AND start < ? ORDER BY start", (*key, *key, consumed, opened)):
        s = start
        qtys, prices, sources = json.loads(items)
        for qty, price, source in zip(qtys, prices, sources, strict=True):
            if s + qty > consumed and s < opened:
                out.append((s, qty, price, cycle, source))
            s += qty
    return out


def load_stream(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
                consumed: int, opened: int) -> deque:
    """The in-memory queue of open lots: [start, qty, price] entries."""
    return deque([s, q, p] for s, q, p, _, _ in read_lots(conn, branch_id, account, symbol, side, consumed, opened))


def copy_stream(conn: sqlite3.Connection, source: int, target: int, account: str, symbol: str, side: int,
                consumed: int, opened: int) -> None:
    """Copy the chunks holding a stream's open lots from one branch to another (fork)."""
    key = (source, account, symbol, side)
    conn.execute(
        "INSERT INTO lots SELECT run_id, ?, account, symbol, side, start, qty, cycle, items FROM lots "
        f"WHERE branch_id=? AND account=? AND symbol=? AND side=? AND start >= {_FIRST} AND start < ?",
        (target, *key, *key, consumed, opened))


def delete_from(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
                opened: int) -> None:
    """Delete the chunks opened at or after stream position `opened` (truncation)."""
    conn.execute("DELETE FROM lots WHERE branch_id=? AND account=? AND symbol=? AND side=? AND start>=?",
                 (branch_id, account, symbol, side, opened))
