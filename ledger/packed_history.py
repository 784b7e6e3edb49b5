"""Traces and chat messages stored packed: one row per (branch, cycle) holding that cycle's rows, compressed.

A cycle writes a few dozen traces (mostly JSON payloads that repeat their keys from row to row and from
trader to trader) and a few chat messages. Stored one row each, they were the ledger's second largest
table; packed per cycle and compressed they take about a fifth of the space, and a cycle costs one INSERT
per table instead of one per row.

`traces_packed` / `messages_packed` (run_id, branch_id, cycle, n, keys, data), key (branch_id, cycle): `data` is
one format byte (1) then zlib(JSON list of the cycle's rows, in the order they were written) compressed
from a preset dictionary (`packed_zdict_<table>.bin`: one cycle of the default rule floor, so the keys and
phrases every cycle repeats cost almost nothing: about half the size of plain zlib). Each row holds the
columns of the old table after run/branch/cycle: traces (agent, node, kind, payload), messages (round,
sender, recipients, text, sentiment, topic). The dictionaries must never change: a new one would take a
new format byte, and the old one would stay to read the rows written with it. `payload` and `recipients` are kept as the very JSON text the old rows held, so a
reader gets byte-for-byte what it got before. `n` is the number of rows, for raw-SQL counts; `keys` lists
a trace pack's distinct kinds as ",a,b,", so a read of one kind skips the other packs (NULL for messages).

The packed tables are history tables like the others (per branch and cycle: truncate deletes the packs
after a cycle, a fork sees its parent's packs through the lineage, copy and vacuum take them as rows).
A later write for the same cycle (single-row writes, or a second batch) appends to that cycle's pack, so
the rows keep the order they were written in, as the old `seq` gave.

A ledger opened with `packed_history=False` (or TRADING_FLOOR_UNPACKED_HISTORY=1 in the environment)
writes the old layout, one row per trace or message in `traces` / `messages`. Readers take both: a file of
the old layout, or one whose older cycles are in it, reads as before (old rows first within a cycle).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ledger.dialect import dialect_of
from ledger.json_text import encode_with
from market.compression import zlib

# table -> (packed table, the columns a pack row holds, in order)
PACKED = {
    "traces": ("traces_packed", ("agent", "node", "kind", "payload")),
    "messages": ("messages_packed", ("round", "sender", "recipients", "text", "sentiment", "topic")),
}
# the column whose distinct values of a pack are listed in its `keys` (",a,b,"), so that a read of a rare
# kind (the dashboard's scenario events) skips the packs without one instead of inflating every cycle.
# Messages have none (NULL): every cycle's chat has every trader speak, so it would skip nothing.
KEY_COLUMN = {"traces": "kind"}
# the schema (ledger/schema.py TABLES form): name, columns, primary key, indexes
TABLE_SPECS = tuple(
    (packed, {"run_id": int, "branch_id": int, "cycle": int, "n": int, "keys": str, "data": bytes},
     ("branch_id", "cycle"), ())
    for packed, _ in PACKED.values()
)
PACKED_TABLES = tuple(packed for packed, _ in PACKED.values())
LEVEL = 6  # zlib level: a cycle's few KB take ~0.1 ms

_dumps = encode_with(json.JSONEncoder(separators=(",", ":"), ensure_ascii=False))


def packed_by_default() -> bool:
    """The layout new rows are written in unless the Ledger is told otherwise."""
    return os.environ.get("TRADING_FLOOR_UNPACKED_HISTORY", "") not in ("1", "true", "yes")


def _as_stored(table: str, row: tuple) -> list:
    """A row's columns (after run/branch/cycle) as the old table's column types would give them back:
    SQLite's REAL column returns a float, TEXT columns text."""
    if table == "traces":
        return [v if v is None or type(v) is str else str(v) for v in row]
    rnd, sender, recipients, text, sentiment, topic = row
    return [rnd, sender if sender is None or type(sender) is str else str(sender), recipients,
            text if text is None or type(text) is str else str(text),
            None if sentiment is None else float(sentiment),
            topic if topic is None or type(topic) is str else str(topic)]


FORMAT = 1  # the first byte of `data`: zlib with the table's preset dictionary below
ZDICTS = {t: (Path(__file__).parent / f"packed_zdict_{t}.bin").read_bytes() for t in PACKED}


def encode(table: str, rows: list[list]) -> bytes:
    c = zlib.compressobj(LEVEL, zdict=ZDICTS[table])
    return bytes((FORMAT,)) + c.compress(_dumps(rows).encode()) + c.flush()


def decode(table: str, data: bytes) -> list[list]:
    data = bytes(data)
    if data[0] != FORMAT:
        raise ValueError(f"a {table} pack of unknown format {data[0]}")
    d = zlib.decompressobj(zdict=ZDICTS[table])
    return json.loads(d.decompress(data[1:]) + d.flush())


def write(conn, table: str, rows: list[tuple], *, fresh: bool = False) -> int:
    """Append full rows of `table` (run_id, branch_id, cycle, then the columns, as records.trace_row /
    message_row build them; all of one branch and cycle) to that cycle's pack. Returns the count.
    `fresh`: the caller knows the cycle has no pack yet (records.rows_may_exist), so none is looked for."""
    if not rows:
        return 0
    packed, _ = PACKED[table]
    run_id, branch_id, cycle = rows[0][:3]
    new = [_as_stored(table, r[3:]) for r in rows]
    old = None if fresh else conn.execute(f"SELECT data FROM {packed} WHERE branch_id=? AND cycle=?",
                                          (branch_id, cycle)).fetchone()
    if old is None:
        conn.execute(f"INSERT INTO {packed}(run_id, branch_id, cycle, n, keys, data) VALUES (?,?,?,?,?,?)",
                     (run_id, branch_id, cycle, len(new), _keys(table, new), encode(table, new)))
    else:
        both = decode(table, old[0]) + new
        conn.execute(f"UPDATE {packed} SET n=?, keys=?, data=? WHERE branch_id=? AND cycle=?",
                     (len(both), _keys(table, both), encode(table, both), branch_id, cycle))
    return len(rows)


def _keys(table: str, rows: list[list]) -> str | None:
    if table not in KEY_COLUMN:
        return None
    i = PACKED[table][1].index(KEY_COLUMN[table])
    return "," + ",".join(sorted({str(r[i]) for r in rows})) + ","


def _has(conn, table: str) -> bool:
    """A read-only reader of a file made before the packed tables existed finds none."""
    return dialect_of(conn).has_table(conn, table)


def read(conn, branch_id: int, table: str, legacy: Callable[[int | None], list[dict[str, Any]]], *,
         cycle: int | None = None, match: Mapping[str, Any] | None = None,
         limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of `table` visible on the branch, as dicts {cycle, columns...}, oldest first; with
    `limit`, the newest `limit` of them. `match`: column=value filters (None values ignored).
    `legacy(limit)` gives the old table's rows (same filters, newest `limit`, oldest first)."""
    from ledger.lineage import lineage, lineage_sql  # lineage imports the schema, which imports this module

    packed, cols = PACKED[table]
    want = [(cols.index(k), v) for k, v in (match or {}).items() if v is not None]
    old = legacy(limit)
    new: list[dict[str, Any]] = []
    if _has(conn, packed):
        where, params = lineage_sql(lineage(conn, branch_id))
        if cycle is not None:
            where += " AND cycle=?"
            params.append(cycle)
        key = (match or {}).get(KEY_COLUMN.get(table, ""))
        if key is not None:  # LIKE may match more (`_` is a wildcard): the rows are filtered below anyway
            where += " AND keys LIKE ?"
            params.append(f"%,{key},%")
        cur = conn.execute(f"SELECT cycle, data FROM {packed} WHERE {where} ORDER BY cycle DESC", params)
        for c, data in cur:
            hits = [r for r in decode(table, data) if all(r[i] == v for i, v in want)]
            for r in reversed(hits):
                new.append({"cycle": c, **dict(zip(cols, r, strict=True))})
            if limit is not None and len(new) >= limit:
                break
        cur.close()
        new.reverse()
    if not old:
        rows = new
    elif not new:
        rows = old
    else:  # a file with both layouts: old rows first within a cycle (they were written before)
        rows = sorted([*old, *new], key=lambda r: r["cycle"])
    return rows if limit is None or len(rows) <= limit else rows[len(rows) - limit:]


def last_cycle(conn, branch_id: int) -> int | None:
    """The branch's own newest cycle with a pack (None: none)."""
    best = None
    for packed in PACKED_TABLES:
        if _has(conn, packed):
            (c,) = conn.execute(f"SELECT max(cycle) FROM {packed} WHERE branch_id=?", (branch_id,)).fetchone()
            if c is not None and (best is None or c > best):
                best = c
    return best


def unpacked_rows(conn, table: str) -> Iterable[tuple]:
    """Every packed row of `table` as the old table's row without `seq`: (run_id, branch_id, cycle,
    columns...), in (branch, cycle, written) order. For tests and raw-SQL users' scripts."""
    packed, _ = PACKED[table]
    if not _has(conn, packed):
        return
    for run_id, branch_id, c, data in conn.execute(
            f"SELECT run_id, branch_id, cycle, data FROM {packed} ORDER BY branch_id, cycle").fetchall():
        for r in decode(table, data):
            yield (run_id, branch_id, c, *r)


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
