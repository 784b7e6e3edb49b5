"""Background-against-background fills stored packed: one row per settled batch (usually one per cycle).

Nearly all of a default floor's trades are between two background accounts (`bg:*` on both sides); stored
as one `fills` row each they were the ledger's largest table. `bg_fills` (run_id, branch_id, cycle, seq_lo,
seq_hi, n, data), key (branch_id, cycle, seq_lo), holds a batch's bg-vs-bg fills as one zlib'd columnar
blob; fills with a floor trader on either side stay rows in `fills`. Each packed fill keeps its `seq` (its
position in the cycle, see fillkeys.py), so the two tables merged in `seq` order give exactly the rows
`fills` held before (`rows`, `select`): every reader that needs all fills goes through this module.

`data` = zlib(JSON [value width (4 or 8), the batch's strings...], NUL, 21 columns of n little-endian
integers each, stored as byte planes: every value's first byte, then every second byte...). The columns, one
value per fill (see `pack` for the coding): position in the cycle, tick, fill id (prefix index, number),
symbol index, price, qty, buyer and seller indexes, buy and sell order ids (prefix index, number), then the
accounting columns (fees, cover, close, realized, cost). An id is split into a prefix and a canonical decimal
tail ("T356025" -> "T", 356025); an id without one is its own prefix with number -1.

A ledger writes the old layout (every fill a `fills` row) when TRADING_FLOOR_UNPACKED_FILLS=1 is set in the
environment when its branch state is loaded (tests compare both layouts). A file of the old layout, or
one whose older cycles are in it, reads the same: the readers always merge both tables.
"""
from __future__ import annotations

import json
import os
import struct
import sys
from array import array
from heapq import merge
from itertools import chain
from operator import add, mul, sub
from typing import Any

from ledger import fillkeys
from ledger.id_numbers import DIGITS, canonical, split
from ledger.json_text import encode_with
from market.compression import zlib

TABLE = "bg_fills"
TABLE_SPEC = (TABLE, {"run_id": int, "branch_id": int, "cycle": int, "seq_lo": int, "seq_hi": int, "n": int,
                      "data": bytes}, ("branch_id", "cycle", "seq_lo"), ())
INSERT = f"INSERT INTO {TABLE} (run_id, branch_id, cycle, seq_lo, seq_hi, n, data) VALUES (?,?,?,?,?,?,?)"
PREFIX = "bg:"
LEVEL = 6
COLUMNS = ("run_id", "branch_id", "cycle", "seq", "tick", "fill_id", "symbol", "price", "qty", "buyer", "seller",
           "buy_order_id", "sell_order_id", "buyer_fee", "seller_fee", "buyer_cover", "seller_close",
           "buyer_realized", "seller_realized", "buyer_cost", "seller_cost")
FILL_SQL = "SELECT " + ", ".join(COLUMNS) + " FROM fills"
_NCOL = 21
_POS = fillkeys.PER_CYCLE - 1
_BIG = sys.byteorder == "big"
_removeprefix = str.removeprefix
_pack_ints = struct.pack
_dumps = encode_with(json.JSONEncoder(separators=(",", ":")))  # what json.dumps(x, separators=...) gives


def packed_by_default() -> bool:
    return os.environ.get("TRADING_FLOOR_UNPACKED_FILLS", "") not in ("1", "true", "yes")


def is_background(row: tuple) -> bool:
    """A settlement row (21 columns, `fills` order) with background accounts on both sides."""
    return row[9].startswith(PREFIX) and row[10].startswith(PREFIX)


# ------------------------------------------------------------------------------------------- encoding
def _split_all(ids: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """Each id's prefix string and its number, or the id itself and -1 (ledger/id_numbers.py's rule). When
    every id is a prefix and a canonical number (the exchange's ids: "T356025", "bg-n11237"), a handful of
    C-level passes do it; otherwise each id is split in turn (the same result)."""
    heads = [x.rstrip(DIGITS) for x in ids]
    tails = list(map(_removeprefix, ids, heads))  # x[len(head):]: every id starts with its head
    if canonical(tails):
        return heads, list(map(int, tails))
    split_ids = list(map(split, ids))
    return [h for h, _ in split_ids], [n for _, n in split_ids]


def pack(rows: list[tuple], ids: tuple[str, dict[str, int]] | None = None) -> bytes:
    """The blob of fill rows (21 columns each, `fills` order) of one branch and cycle, in seq order.

    Each row becomes 21 integers that are mostly small: position and tick as deltas from the row before,
    ids as deltas from the last number with the same prefix, the price as a delta from the last price of
    the same symbol, `qty - seller_close`, and the cost columns as their difference from what the realized
    PnL implies (buyer_cost = buyer_realized + price x qty, seller_cost = seller_realized - price x qty,
    which settlement.py makes true, so they store as 0).

    Built column by column (issue 21: the same bytes as the first, row-by-row coding, for fewer interpreter
    steps; tests/test_storage_packed_fills.py keeps that coding as the reference): the rows are transposed
    once, most columns are whole-list C-level passes (map with operator functions), the ints are packed by
    struct, and only the deltas keyed by prefix or symbol take a Python loop. The string table lists each string in the order of
    its first use going row by row (fill id prefix, buy and sell order id prefixes, symbol, buyer, seller).

    `ids`, (prefix, {fill id: number}) for fill ids that are all that prefix and a canonical number of at most
    18 digits (settlement.fill_id_numbers), spares parsing the fill ids again: the same blob."""
    if not rows:
        return zlib.compress(b"[8]\0", LEVEL)  # what the row-wise coding gave: no values, 64-bit width
    (_, _, _, seqs, ticks, fids, syms, prices, qtys, buyers, sellers, bos, sos, bfs, sfs, covs, cls, rbs, rss,
     cbs, css) = zip(*rows, strict=True)
    if ids is None:
        fh, fn = _split_all(fids)
    else:
        fh, fn = [ids[0]] * len(fids), list(map(ids[1].__getitem__, fids))
    bh, bn = _split_all(bos)
    sh, sn = _split_all(sos)
    strings = {s: i for i, s in enumerate(dict.fromkeys(chain.from_iterable(
        zip(fh, bh, sh, syms, buyers, sellers, strict=True))))}
    index = strings.__getitem__
    fp, bp, sp, ks = list(map(index, fh)), list(map(index, bh)), list(map(index, sh)), list(map(index, syms))
    last_num: dict[int, int] = {}
    last_price: dict[int, int] = {}
    num, price = last_num.get, last_price.get
    d_fn, d_bn, d_sn, d_p = [], [], [], []
    for f, x, b, y, s, z, k, p in zip(fp, fn, bp, bn, sp, sn, ks, prices, strict=True):  # fill, buy, sell id
        d_fn.append(x - num(f, 0))
        last_num[f] = x
        d_bn.append(y - num(b, 0))
        last_num[b] = y
        d_sn.append(z - num(s, 0))
        last_num[s] = z
        d_p.append(p - price(k, 0))
        last_price[k] = p
    pos = [s & _POS for s in seqs]
    notional = list(map(mul, prices, qtys))
    values = [*map(sub, pos, chain((0,), pos)), *map(sub, ticks, chain((0,), ticks)), *fp, *d_fn, *ks, *d_p,
              *qtys, *map(index, buyers), *map(index, sellers), *bp, *d_bn, *sp, *d_sn, *bfs, *sfs, *covs,
              *map(sub, qtys, cls), *rbs, *rss, *map(sub, map(sub, cbs, rbs), notional),
              *map(add, map(sub, css, rss), notional)]  # column-major: column after column of len(rows) values
    body, w = _int_bytes(values)
    # Stored as byte planes of the column-major values: the k-th byte of every value together (high bytes
    # are mostly 0 or 255), and within a plane each column's values together (so zlib sees runs of alike
    # small numbers). With the values column-major, plane k is one strided slice.
    planes = b"".join([body[k::w] for k in range(w)])
    head = _dumps([w, *strings]).encode()
    return zlib.compress(head + b"\0" + planes, LEVEL)


def _int_bytes(values: list[int]) -> tuple[bytes, int]:
    """(`values` as little-endian 32-bit integers when all fit, else 64-bit; the width). OverflowError
    beyond 64 bits (`write`'s case). struct packs a list about three times faster than array() takes it
    (measured); when it refuses (a value out of range, or not an integer), array() decides, as before."""
    try:
        return _pack_ints(f"<{len(values)}i", *values), 4
    except struct.error:
        pass
    try:
        return _pack_ints(f"<{len(values)}q", *values), 8
    except struct.error:
        pass
    arr = _int_array(values)  # raises what it raised before: OverflowError (or TypeError)
    if _BIG:
        arr.byteswap()
    return arr.tobytes(), arr.itemsize


def _int_array(values: list[int]) -> array:
    """`values` as 32-bit integers when all fit, else 64-bit; OverflowError beyond that (`write`'s case).
    array("i") raises OverflowError for a value outside the int32 range, so trying it first replaces a
    min/max scan and a copy of a 64-bit array (most of the packing time, measured)."""
    if values:
        try:
            return array("i", values)
        except OverflowError:
            pass
    return array("q", values)


def unpack(run_id: int, branch_id: int, cycle: int, data: Any) -> list[tuple]:
    """The fill rows (21 columns, `fills` order) a blob holds, in seq order."""
    raw = zlib.decompress(bytes(data))
    cut = raw.index(b"\0")
    w, *strings = json.loads(raw[:cut])
    planes = memoryview(raw)[cut + 1:]
    body = bytearray(len(planes))
    size = len(planes) // w
    for k in range(w):
        body[k::w] = planes[k * size:(k + 1) * size]
    arr = array("q" if w == 8 else "i")
    arr.frombytes(body)
    if _BIG:
        arr.byteswap()
    n = len(arr) // _NCOL
    base = fillkeys.seq_of(branch_id, cycle, 0)
    i = tick = 0
    last_num: dict[int, int] = {}
    last_price: dict[int, int] = {}
    out = []
    for (di, dt, fp, d_fn, k, dp, q, b, s, bp, d_bn, sp, d_sn, bf, sf, cov, ncl, rb, rs, cb, cs) in zip(
            *(arr[c * n:(c + 1) * n] for c in range(_NCOL)), strict=True):
        i += di
        tick += dt
        fn = last_num[fp] = last_num.get(fp, 0) + d_fn
        bn = last_num[bp] = last_num.get(bp, 0) + d_bn
        sn = last_num[sp] = last_num.get(sp, 0) + d_sn
        p = last_price[k] = last_price.get(k, 0) + dp
        x = p * q
        out.append((run_id, branch_id, cycle, base + i, tick,
                    strings[fp] if fn < 0 else strings[fp] + str(fn), strings[k], p, q, strings[b], strings[s],
                    strings[bp] if bn < 0 else strings[bp] + str(bn),
                    strings[sp] if sn < 0 else strings[sp] + str(sn),
                    bf, sf, cov, q - ncl, rb, rs, cb + rb + x, cs + rs - x))
    return out


def write(conn, run_id: int, branch_id: int, cycle: int, rows: list[tuple],
          ids: tuple[str, dict[str, int]] | None = None) -> bool:
    """Store a batch's bg-vs-bg fill rows (seq order) as one packed row. False (nothing written) when a
    coded value leaves the 64-bit range (amounts near 2**62 cents): the caller writes them as rows."""
    try:
        data = pack(rows, ids)
    except OverflowError:
        return False
    conn.execute(INSERT, (run_id, branch_id, cycle, rows[0][3], rows[-1][3], len(rows), data))
    return True


# ------------------------------------------------------------------------------------------- reading
def batches(conn, branch_id: int, lo: int, hi: int, *, desc: bool = False):
    order = "DESC" if desc else ""
    for run_id, cycle, data in conn.execute(
            f"SELECT run_id, cycle, data FROM {TABLE} WHERE branch_id=? AND cycle BETWEEN ? AND ? "
            f"ORDER BY cycle {order}, seq_lo {order}", (branch_id, lo, hi)):
        yield unpack(run_id, branch_id, cycle, data)


def rows(conn, branch_id: int, lo: int, hi: int) -> list[tuple]:
    """Every fill of the branch's OWN rows with lo <= cycle <= hi, both layouts merged in seq order
    (21 columns each, `fills` order)."""
    plain = conn.execute(FILL_SQL + " WHERE seq BETWEEN ? AND ? ORDER BY seq",
                         fillkeys.cycles(branch_id, lo, hi)).fetchall()
    packed = [r for batch in batches(conn, branch_id, max(lo, 0), min(hi, fillkeys.MAX_CYCLE)) for r in batch]
    if not packed:
        return [tuple(r) for r in plain]
    if not plain:
        return packed
    return list(merge(map(tuple, plain), packed, key=lambda r: r[3]))


def unpacked_rows(conn):
    """Every packed fill of the file, as the 21 columns of a `fills` row (for raw-SQL users: the rows
    `fills` would hold besides its own; docs/ledger-schema.md)."""
    for run_id, b, cycle, data in conn.execute(
            f"SELECT run_id, branch_id, cycle, data FROM {TABLE} ORDER BY branch_id, cycle, seq_lo"):
        yield from unpack(run_id, b, cycle, data)


def last_seq(conn, branch_id: int, lo: int, hi: int) -> int | None:
    """The largest seq of a packed fill of the branch with lo <= cycle <= hi (None: none)."""
    (last,) = conn.execute(f"SELECT max(seq_hi) FROM {TABLE} WHERE branch_id=? AND cycle BETWEEN ? AND ?",
                           (branch_id, lo, hi)).fetchone()
    return last


def count(conn, branch_id: int) -> int:
    (n,) = conn.execute(f"SELECT coalesce(sum(n), 0) FROM {TABLE} WHERE branch_id=?", (branch_id,)).fetchone()
    return int(n)


def select(conn, lin: list[tuple[int, int]], columns: list[str], *, cycle: int | None = None,
           account: str | None = None, symbol: str | None = None, limit: int | None = None) -> list[dict]:
    """The fills visible on a lineage ([(branch, max cycle)], ledger/lineage.py) as dicts of `columns`,
    oldest first (cycle, then seq); with `limit`, the newest `limit` of them. Filters: cycle, account (either
    side), symbol. Both layouts merged, so the result is what `fills` alone gave before packing."""
    want = [COLUMNS.index(c) for c in columns]
    conds, params = [], []
    if cycle is not None:
        conds.append("cycle=?")
        params.append(cycle)
    if account is not None:
        conds.append("(buyer=? OR seller=?)")
        params += [account, account]
    if symbol is not None:
        conds.append("symbol=?")
        params.append(symbol)
    extra = "".join(f" AND {c}" for c in conds)
    lim = "" if limit is None else f" LIMIT {int(limit)}"
    found: list[tuple] = []
    for b, top in lin:  # cycles of different lineage entries do not overlap: the child's are above its fork
        lo, hi = fillkeys.upto(b, top)
        found += conn.execute(FILL_SQL + f" WHERE seq BETWEEN ? AND ?{extra} ORDER BY seq DESC{lim}",
                              [lo, hi, *params]).fetchall()
    if account is None or account.startswith(PREFIX):
        got = 0
        for b, top in lin:
            lo_c, hi_c = (cycle, cycle) if cycle is not None else (0, top)
            if cycle is not None and cycle > top:
                continue
            for batch in batches(conn, b, lo_c, min(hi_c, fillkeys.MAX_CYCLE), desc=True):
                keep = [r for r in reversed(batch) if (symbol is None or r[6] == symbol)
                        and (account is None or account in (r[9], r[10]))]
                found += keep
                got += len(keep)
                if limit is not None and got >= limit:
                    break
            if limit is not None and got >= limit:
                break
    found = sorted(map(tuple, found), key=lambda r: (r[2], r[3]))
    if limit is not None:
        found = found[-int(limit):] if limit > 0 else []
    return [{c: r[i] for c, i in zip(columns, want, strict=True)} for r in found]


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
