"""Storage of FIFO lots: contiguous streams per (account, symbol, side), written in chunks.

A stream is the sequence of lots an account opened on one side of one symbol; each lot covers the
share range [start, start + qty) of its stream. A position keeps how many shares of each stream were
opened and consumed, so the open lots are those reaching above the consumed counter, and consuming a
lot never rewrites a row.

For speed, the lots one settlement batch opens on a stream are stored as ONE row (a chunk): its
`start`, total `qty`, and `items`, a JSON array of parallel arrays [[qty...], [price...], [source...]]
in FIFO order (columnar, because json.dumps encodes flat lists about three times faster than a list of
small lists). When the sources are all one prefix and a decimal number (fill ids), the third array is
written as two elements, the prefix and the numbers delta-coded: [[qty...], [price...], "T", [356025, 6,
...]] (issue 21: half the text of the background accounts' many chunks; `decode_items` reads both). A chunk never spans two batches, so it belongs to exactly one cycle and
truncation deletes whole chunks (`start >= opened`). Read one lot per row with:
    SELECT l.account, l.symbol, l.side, l.cycle, q.value AS qty,
           l.items ->> ('$[1][' || q.key || ']') AS price, l.items ->> ('$[2][' || q.key || ']') AS source
      FROM lots l, json_each(l.items, '$[0]') q
(`source` is NULL for a chunk of the compact form, whose sources `decode_items` gives.)
"""
from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterator
from itertools import accumulate
from operator import sub

from ledger.id_numbers import DIGITS, canonical
from ledger.json_text import encode_with

# The ledger's in-memory mirror (state.py) keeps, per stream, only its oldest open lots, at most this
# many: the ones FIFO consumes next. The others stay in `lots` only (every lot is written there anyway)
# and are read back, this many at a time, when consumption reaches them. Without the bound an account
# that buys more often than its sales get through its oldest lot (a background class, whose opening
# deposit of 10**8 shares is one lot that lasts the whole run) kept one list per buy in memory for the
# whole run: about 12 MiB per 1,000 cycles of the default floor.
LOT_WINDOW = 256
_dumps = encode_with(json.JSONEncoder(separators=(",", ":")))
CHUNK_INSERT = "INSERT INTO lots VALUES (?,?,?,?,?,?,?,?,?)"
_FIRST = ("coalesce((SELECT max(start) FROM lots WHERE branch_id=? AND account=? AND symbol=? AND side=? "
          "AND start<=?), 0)")


def chunk_row(run_id: int, branch_id: int, account: str, symbol: str, side: int, start: int, cycle: int,
              qtys: list[int], prices: list[int], sources: list[str],
              ids: tuple[str, dict[str, int]] | None = None) -> tuple:
    """A `lots` row. `ids`, (prefix, {source: number}) for sources that are all that prefix and a canonical
    number of at most 18 digits (settlement.fill_id_numbers), spares the parsing: the same row."""
    if ids is None:
        items = [qtys, prices, *_compact(sources)]
    else:
        nums = list(map(ids[1].__getitem__, sources))
        items = [qtys, prices, ids[0], [nums[0], *map(sub, nums[1:], nums)]]
    return (run_id, branch_id, account, symbol, side, start, sum(qtys), cycle, _dumps(items))


def _compact(sources: list[str]) -> list:
    """The items' sources: [prefix, [first number, deltas...]] when they all are prefix + a canonical decimal
    number (fill ids "T356025", "T356031", ...: about half the text), else [[source, ...]] as written."""
    heads = {x.rstrip(DIGITS) for x in sources}
    if len(heads) == 1:
        head = heads.pop()
        cut = len(head)
        tails = [x[cut:] for x in sources]
        if canonical(tails):  # ledger/id_numbers.py's rule
            nums = list(map(int, tails))
            return [head, [nums[0], *map(sub, nums[1:], nums)]]
    return [sources]


def decode_items(items: str) -> tuple[list[int], list[int], list[str]]:
    """(qtys, prices, sources) of a chunk's `items`, either form."""
    it = json.loads(items)
    if len(it) == 3:
        return it[0], it[1], it[2]
    qtys, prices, head, deltas = it
    return qtys, prices, [head + str(n) for n in accumulate(deltas)]


def iter_lots(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
              consumed: int, opened: int) -> Iterator[tuple[int, int, int, int, str]]:
    """Lots overlapping [consumed, opened): (start, qty, price, cycle, source), oldest first, read chunk by
    chunk as the caller asks for them (a caller that stops early reads no further chunks)."""
    key = (branch_id, account, symbol, side)
    for start, cycle, items in conn.execute(
            f"SELECT start, cycle, items FROM lots WHERE branch_id=? AND account=? AND symbol=? AND side=? "
            f"AND start >= {_FIRST} AND start < ? ORDER BY start", (*key, *key, consumed, opened)):
        s = start
        qtys, prices, sources = decode_items(items)
        for qty, price, source in zip(qtys, prices, sources, strict=True):
            if s + qty > consumed and s < opened:
                yield s, qty, price, cycle, source
            s += qty


def read_lots(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
              consumed: int, opened: int) -> list[tuple[int, int, int, int, str]]:
    """Lots overlapping [consumed, opened): (start, qty, price, cycle, source), oldest first."""
    return list(iter_lots(conn, branch_id, account, symbol, side, consumed, opened))


def load_window(conn: sqlite3.Connection, branch_id: int, account: str, symbol: str, side: int,
                end: int, opened: int, dq: deque | None = None,
                pending: tuple[int, list, list, list] | None = None) -> tuple[deque, int]:
    """Fill the in-memory queue of a stream's open lots (see `LOT_WINDOW`) from stream position `end`:
    append [start, qty, price] entries to `dq` (a new deque by default) until it holds LOT_WINDOW lots
    or reaches `opened`. Returns (the queue, the stream position its lots now reach: `opened` once
    the queue holds every open lot).

    `end` is where the queue's lots end now: the consumed counter for an empty queue (a partly consumed
    head lot is then loaded whole, as the queue keeps it), else the end of its last lot. `pending` is a
    chunk the caller is building and has not written yet, (start, qtys, prices, sources): its lots
    follow the stored ones."""
    dq = deque() if dq is None else dq
    if len(dq) < LOT_WINDOW and end < opened:
        for s, q, p, _, _ in iter_lots(conn, branch_id, account, symbol, side, end, opened):
            dq.append([s, q, p])
            end = s + q
            if len(dq) >= LOT_WINDOW:
                break
    if pending is not None and len(dq) < LOT_WINDOW and end < opened:
        s = pending[0]
        for q, p in zip(pending[1], pending[2], strict=True):
            if s + q > end:
                dq.append([s, q, p])
                end = s + q
                if len(dq) >= LOT_WINDOW:
                    break
            s += q
    return dq, end
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


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
