"""Idempotency of fill ids without a per-fill index: id ranges per batch (a zone map).

A per-fill unique index on `fill_id` costs a second B-tree insert for every fill (measured about a
quarter of the settlement time). Exchange trade ids are a prefix plus an increasing number
("T{seq}", seq strictly increasing across the exchange), so each batch is summarised instead by one
row per prefix in `fill_ids`: (prefix, lo, hi) = the smallest and largest number among the batch's
ids with that prefix. An id is split as prefix + canonical decimal tail (no sign, no leading zero),
which is a bijection; an id without a numeric tail is its own prefix with lo = hi = -1.

* If no stored range on the branch's lineage overlaps the new batch's ranges, no id of the batch was
  settled before: the batch needs no per-id lookup (one index probe per prefix).
* If a range overlaps (a retry, or ids that are not increasing), the fills of the overlapping
  ranges' cycles are read back through their `seq` ranges and compared id by id. This is exact;
  only its cost depends on how the ids were chosen.
"""
from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence

from ledger import background_fills
from ledger.lineage import lineage

_SPLIT = re.compile(r"(.*?)(0|[1-9][0-9]*)", re.S)
_DIGIT_OR_COMMA = re.compile(r"[0-9,]")
_NUM = "(?:0|[1-9][0-9]*)"


@functools.lru_cache(maxsize=64)
def _ids_pattern(prefix: str) -> re.Pattern:
    p = re.escape(prefix) + _NUM
    return re.compile(f"(?:{p},)*{p}", re.S)
INSERT = "INSERT INTO fill_ids(run_id, branch_id, cycle, prefix, lo, hi) VALUES (?,?,?,?,?,?)"


def split(fill_id: str) -> tuple[str, int]:
    m = _SPLIT.fullmatch(fill_id)
    return (m[1], int(m[2])) if m else (fill_id, -1)


def numbered(ids: Sequence[str]) -> tuple[str, list[int]] | None:
    """(prefix, the ids' numbers in order) when every id is one `prefix` (non-empty, without digit or comma)
    followed by a canonical number, as the exchange's trade ids are; else None. C-level passes: one regex
    over the joined ids checks them all; removing the prefix then leaves exactly the numbers."""
    if not ids:
        return None
    prefix, _ = split(ids[0])
    if prefix and not _DIGIT_OR_COMMA.search(prefix):
        joined = ",".join(ids)
        if joined.count(",") == len(ids) - 1 and _ids_pattern(prefix).fullmatch(joined):
            return prefix, list(map(int, joined.replace(prefix, "").split(",")))
    return None


_ASK = object()


def summarize(ids: Sequence[str], found: tuple[str, list[int]] | None | object = _ASK) -> dict[str, list[int]]:
    """{prefix: [lo, hi]} of the given (distinct) ids. `found`: `numbered(ids)` when the caller has it."""
    if not ids:
        return {}
    fast = numbered(ids) if found is _ASK else found
    if fast is not None:
        prefix, nums = fast
        return {prefix: [min(nums), max(nums)]}
    out: dict[str, list[int]] = {}
    for i in ids:
        p, n = split(i)
        r = out.get(p)
        if r is None:
            out[p] = [n, n]
        elif n < r[0]:
            r[0] = n
        elif n > r[1]:
            r[1] = n
    return out


def overlapping(conn: sqlite3.Connection, branch_id: int, summary: dict[str, list[int]], *,
                ancestors_only: bool = False, first: bool = False,
                lin: list[tuple[int, int]] | None = None) -> set[tuple[int, int]]:
    """(branch, cycle) of stored ranges on the lineage that overlap the summary's ranges. `lin`: the branch's
    lineage when the caller has it."""
    found: set[tuple[int, int]] = set()
    if lin is None:
        lin = lineage(conn, branch_id)
    q = ("SELECT branch_id, cycle FROM fill_ids WHERE branch_id=? AND prefix=? AND hi>=? AND lo<=? AND +cycle<=?"
         + (" LIMIT 1" if first else ""))
    for b, max_cycle in (lin[1:] if ancestors_only else lin):
        for prefix, (lo, hi) in summary.items():
            found.update(conn.execute(q, (b, prefix, lo, hi, max_cycle)))
            if first and found:
                return found
    return found


def stored_fills(conn: sqlite3.Connection, where: set[tuple[int, int]], ids: set[str]) -> dict[str, tuple]:
    """Stored content (Fill.key order) of those `ids` found in the given (branch, cycle) batches."""
    out: dict[str, tuple] = {}
    for b, c in sorted(where):
        for r in background_fills.rows(conn, b, c, c):  # both layouts (background_fills.py)
            if r[5] in ids:
                out.setdefault(r[5], (r[5], r[2], r[4], *r[6:13]))
    return out


def record(conn: sqlite3.Connection, run_id: int, branch_id: int, cycle: int, summary: dict[str, list[int]]) -> None:
    conn.executemany(INSERT, [(run_id, branch_id, cycle, p, lo, hi) for p, (lo, hi) in summary.items()])


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
