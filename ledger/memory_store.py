"""Traders' episodic memory in the run's ledger: tables `memories` and `memory_outcomes` (schema.py).

One `memories` row per (trader, symbol, decision cycle): the situation the theory saw as a float32 vector
(`vec`, `dim` numbers, layout `fmt`), the parameter arm it used (`arm`) and a JSON summary of the decision.
The outcome (markout in basis points after k cycles, realized PnL in cents) is a `memory_outcomes` row
written at the cycle it became known, not an update of the memory: both are history rows under the
run/branch/cycle versioning of the other history tables, so `truncate_after` forgets a discarded
future's memories and outcomes exactly, and a fork sees its parent's rows up to the fork cycle only.

A vector of another layout version, or whose byte length does not match its `dim`, is refused with
`MemoryFormatError` rather than read as garbage.
"""
from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ledger.lineage import lineage, lineage_sql

VECTOR_FORMAT = 1  # little-endian float32, `dim` numbers
_DTYPE = np.dtype("<f4")

MEMORY_INSERT = ("INSERT INTO memories(run_id, branch_id, cycle, trader, symbol, fmt, dim, vec, arm, decision) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?)")
OUTCOME_INSERT = ("INSERT INTO memory_outcomes(run_id, branch_id, cycle, trader, symbol, decided_cycle, markout_bp, "
                  "realized_pnl) VALUES (?,?,?,?,?,?,?,?)")


class MemoryFormatError(ValueError):
    """A stored memory this code cannot read (another layout version, or a corrupt vector)."""


@dataclass(frozen=True)
class Memory:
    cycle: int
    trader: str
    symbol: str
    vector: np.ndarray        # float32, shape (dim,)
    arm: str
    decision: dict[str, Any]
    markout_bp: float | None  # None: not known yet on this line
    realized_pnl: int | None


def encode_vector(values: Sequence[float]) -> tuple[int, int, bytes]:
    """(format, dim, bytes) of a situation vector; non-finite numbers are refused."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise MemoryFormatError(f"a situation vector must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise MemoryFormatError("a situation vector must hold finite numbers only")
    return VECTOR_FORMAT, int(arr.size), arr.astype(_DTYPE).tobytes()


def decode_vector(fmt: int, dim: int, blob: bytes, *, where: str = "") -> np.ndarray:
    at = f" ({where})" if where else ""
    if fmt != VECTOR_FORMAT:
        raise MemoryFormatError(f"memory vector of format version {fmt}{at}; this code reads version "
                                f"{VECTOR_FORMAT}: start a new run database or re-record the memories")
    blob = bytes(blob)  # PostgreSQL may hand back a memoryview
    if dim <= 0 or len(blob) != dim * _DTYPE.itemsize:
        raise MemoryFormatError(f"corrupt memory vector{at}: {len(blob)} bytes for dim {dim} "
                                f"(expected {max(dim, 0) * _DTYPE.itemsize})")
    arr = np.frombuffer(blob, dtype=_DTYPE).copy()
    if not np.all(np.isfinite(arr)):
        raise MemoryFormatError(f"corrupt memory vector{at}: it holds non-finite numbers")
    return arr


def record_memories(conn: sqlite3.Connection, run_id: int, branch_id: int, cycle: int,
                    items: Iterable[Mapping[str, Any]]) -> int:
    """Write the cycle's memories: each item has trader, symbol, vector, arm and decision (a JSON-able dict)."""
    rows = []
    for it in items:
        fmt, dim, blob = encode_vector(it["vector"])
        rows.append((run_id, branch_id, cycle, it["trader"], it["symbol"], fmt, dim, blob, str(it.get("arm", "")),
                     json.dumps(dict(it.get("decision", {})), sort_keys=True, separators=(",", ":"))))
    if rows:
        conn.executemany(MEMORY_INSERT, rows)
    return len(rows)


def record_outcomes(conn: sqlite3.Connection, run_id: int, branch_id: int, cycle: int,
                    items: Iterable[Mapping[str, Any]]) -> int:
    """Write outcomes known at `cycle`: trader, symbol, decided_cycle, markout_bp and realized_pnl each."""
    rows = []
    for it in items:
        m = float(it["markout_bp"])
        if not math.isfinite(m):
            raise MemoryFormatError("a markout must be a finite number")
        rows.append((run_id, branch_id, cycle, it["trader"], it["symbol"], int(it["decided_cycle"]), m,
                     int(it.get("realized_pnl", 0))))
    if rows:
        conn.executemany(OUTCOME_INSERT, rows)
    return len(rows)


def load_memories(conn: sqlite3.Connection, branch_id: int, trader: str | None = None, *,
                  upto: int | None = None) -> list[Memory]:
    """The memories visible on the branch's line (oldest first), each with its outcome if that is visible
    too; `upto`: only rows (and outcomes) of cycles <= upto. Raises MemoryFormatError on a bad vector."""
    lin = lineage(conn, branch_id)
    if upto is not None:
        lin = [(b, min(c, upto)) for b, c in lin]
    where, params = lineage_sql(lin)
    cond = " AND trader=?" if trader is not None else ""
    extra = [trader] if trader is not None else []
    outcomes: dict[tuple[str, str, int], tuple[float, int]] = {}
    for tr, sym, dc, mk, pnl in conn.execute(
            f"SELECT trader, symbol, decided_cycle, markout_bp, realized_pnl FROM memory_outcomes WHERE {where}{cond} "
            "ORDER BY cycle, trader, symbol, decided_cycle", [*params, *extra]):
        outcomes[(tr, sym, dc)] = (mk, pnl)
    out = []
    for cyc, tr, sym, fmt, dim, blob, arm, dec in conn.execute(
            f"SELECT cycle, trader, symbol, fmt, dim, vec, arm, decision FROM memories WHERE {where}{cond} "
            "ORDER BY cycle, trader, symbol", [*params, *extra]):
        vec = decode_vector(fmt, dim, blob, where=f"trader {tr}, {sym}, cycle {cyc}")
        mk, pnl = outcomes.get((tr, sym, cyc), (None, None))
        out.append(Memory(cyc, tr, sym, vec, arm, json.loads(dec), mk, pnl))
    return out


def memories_at(conn: sqlite3.Connection, branch_id: int, cycle: int, trader: str) -> list[Memory]:
    """The trader's memories decided at `cycle` on the branch's line (outcomes not joined)."""
    where, params = lineage_sql(lineage(conn, branch_id))
    out = []
    for cyc, tr, sym, fmt, dim, blob, arm, dec in conn.execute(
            f"SELECT cycle, trader, symbol, fmt, dim, vec, arm, decision FROM memories WHERE {where} AND cycle=? "
            "AND trader=? ORDER BY symbol", [*params, cycle, trader]):
        vec = decode_vector(fmt, dim, blob, where=f"trader {tr}, {sym}, cycle {cyc}")
        out.append(Memory(cyc, tr, sym, vec, arm, json.loads(dec), None, None))
    return out


def rows_of_cycle(conn: sqlite3.Connection, branch_id: int, cycle: int,
                  lin: list[tuple[int, int]] | None = None) -> tuple[list[Memory], list[tuple]]:
    """What cycle `cycle` of the branch's line added: its memories (outcome None) and its outcome rows
    (trader, symbol, decided_cycle, markout_bp, realized_pnl), for a reader that keeps memories incrementally.
    `lin`: the branch's lineage (ledger/lineage.py), if the reader keeps it (it never changes)."""
    lin = lineage(conn, branch_id) if lin is None else lin
    where, params = lineage_sql([(b, c) for b, c in lin if c >= cycle] or lin[:1])
    mems = []
    for cyc, tr, sym, fmt, dim, blob, arm, dec in conn.execute(
            f"SELECT cycle, trader, symbol, fmt, dim, vec, arm, decision FROM memories WHERE {where} AND cycle=? "
            "ORDER BY trader, symbol", [*params, cycle]):
        vec = decode_vector(fmt, dim, blob, where=f"trader {tr}, {sym}, cycle {cyc}")
        mems.append(Memory(cyc, tr, sym, vec, arm, json.loads(dec), None, None))
    outs = conn.execute(f"SELECT trader, symbol, decided_cycle, markout_bp, realized_pnl FROM memory_outcomes "
                        f"WHERE {where} AND cycle=? ORDER BY trader, symbol, decided_cycle",
                        [*params, cycle]).fetchall()
    return mems, [tuple(r) for r in outs]


# ----- lessons: an LLM trader's reflections, with the vector of their text ------------------------------

LESSON_INSERT = ("INSERT INTO lessons(run_id, branch_id, cycle, trader, text, embedder, fmt, dim, vec) "
                 "VALUES (?,?,?,?,?,?,?,?,?)")


@dataclass(frozen=True)
class Lesson:
    cycle: int
    trader: str
    text: str
    embedder: str        # "lexical" (hashed bag of words) or "openai:<model>"
    vector: np.ndarray   # float32


def record_lessons(conn: sqlite3.Connection, run_id: int, branch_id: int, cycle: int,
                   items: Iterable[Mapping[str, Any]]) -> int:
    """Write lessons learned at `cycle`: trader, text, embedder and vector each."""
    rows = []
    for it in items:
        fmt, dim, blob = encode_vector(it["vector"])
        rows.append((run_id, branch_id, cycle, it["trader"], str(it["text"]), str(it["embedder"]), fmt, dim, blob))
    if rows:
        conn.executemany(LESSON_INSERT, rows)
    return len(rows)


def load_lessons(conn: sqlite3.Connection, branch_id: int, trader: str | None = None) -> list[Lesson]:
    """The lessons visible on the branch's line, oldest first. Raises MemoryFormatError on a bad vector."""
    where, params = lineage_sql(lineage(conn, branch_id))
    cond, extra = (" AND trader=?", [trader]) if trader is not None else ("", [])
    out = []
    for cyc, tr, text, emb, fmt, dim, blob in conn.execute(
            f"SELECT cycle, trader, text, embedder, fmt, dim, vec FROM lessons WHERE {where}{cond} "
            "ORDER BY cycle, trader", [*params, *extra]):
        out.append(Lesson(cyc, tr, text, emb, decode_vector(fmt, dim, blob, where=f"lesson of {tr}, cycle {cyc}")))
    return out
