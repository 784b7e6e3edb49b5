"""Dropping discarded branches' ledger rows (`trading-floor vacuum`): what a branch holds, what can go, and the
deletes themselves. Pure ledger code: the threads and checkpoints are floor/vacuum.py's, the command cli/vacuum.py.

A branch is either
* dropped whole: every row of it in every per-branch table (`schema.ALL_BRANCH_TABLES` and the books' tables,
  `market_history.TABLES`) and its `branches` row. Allowed when no kept branch reads it (a fork reads its
  parent's history rows up to its fork cycle, `lineage.py`);
* or trimmed: a line that no thread continues any more but that a kept branch reads up to cycle c (a rollback's
  discarded future: the rollback continued on a child forked at c) keeps what its readers see and loses its
  rows after c, exactly as a rollback of it to c would (`branches.truncate_after`), so it stays a consistent
  branch (doctor checks it like any other).
A branch that a thread continues and that a kept branch reads is refused: dropping it would break the reader.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ledger import fillkeys
from ledger.branches import truncate_after
from ledger.dialect import dialect_of
from ledger.market_history import TABLES as MARKET_TABLES
from ledger.schema import ALL_BRANCH_TABLES
from ledger.state import load_state


@dataclass(frozen=True)
class BranchInfo:
    branch_id: int
    run_id: int
    parent_id: int | None
    fork_cycle: int | None
    first_cycle: int | None  # the branch's own rows' cycle range (None: it has none)
    last_cycle: int | None
    readers: tuple[tuple[int, int], ...]  # (child branch, its fork cycle): who reads this branch's rows
    rows: int


@dataclass
class Plan:
    drop: list[int] = field(default_factory=list)  # whole branches
    trim: dict[int, int] = field(default_factory=dict)  # branch -> the cycle it keeps rows up to
    refused: dict[int, str] = field(default_factory=dict)  # branch -> one-line reason

    @property
    def touched(self) -> list[int]:
        return sorted([*self.drop, *self.trim])


def branch_tables(conn) -> list[str]:
    """Every per-branch table present in this database (the ledger's and the books')."""
    d = dialect_of(conn)
    return [t for t in (*ALL_BRANCH_TABLES, *MARKET_TABLES) if d.has_table(conn, t)]


def _where(table: str, branch_id: int, after: int | None) -> tuple[str, list[int]]:
    if table == "fills":  # keyed by seq ranges (fillkeys.py)
        lo, hi = fillkeys.branch(branch_id) if after is None else fillkeys.after(branch_id, after)
        return "seq BETWEEN ? AND ?", [lo, hi]
    if after is None:
        return "branch_id=?", [branch_id]
    return "branch_id=? AND cycle>?", [branch_id, after]


def count_rows(conn, branch_id: int, tables: list[str], after: int | None = None) -> dict[str, int]:
    """Rows per table the branch holds (with `after`: only those with cycle > after)."""
    out = {}
    for t in tables:
        where, params = _where(t, branch_id, after)
        out[t] = conn.execute(f"SELECT count(*) FROM {t} WHERE {where}", params).fetchone()[0]
    return out


def branches(conn, tables: list[str] | None = None) -> list[BranchInfo]:
    """Every branch of the database with its readers and how many rows it holds, oldest first."""
    tables = branch_tables(conn) if tables is None else tables
    rows = conn.execute("SELECT branch_id, run_id, parent_id, fork_cycle FROM branches ORDER BY branch_id").fetchall()
    children: dict[int, list[tuple[int, int]]] = {}
    for b, _, parent, fork_cycle in rows:
        if parent is not None:
            children.setdefault(parent, []).append((b, fork_cycle))
    history = [t for t in tables if t not in ("accounts", "lots")]  # tables whose rows carry the cycle they belong to
    out = []
    for b, run_id, parent, fork_cycle in rows:
        lo = hi = None
        for t in history:
            where, params = _where(t, b, None)
            mn, mx = conn.execute(f"SELECT min(cycle), max(cycle) FROM {t} WHERE {where}", params).fetchone()
            if mn is not None:
                lo = mn if lo is None else min(lo, mn)
                hi = mx if hi is None else max(hi, mx)
        out.append(BranchInfo(b, run_id, parent, fork_cycle, lo, hi, tuple(children.get(b, ())),
                              sum(count_rows(conn, b, tables).values())))
    return out


def plan(infos: list[BranchInfo], asked: set[int], continued: dict[int, list[str]]) -> Plan:
    """What dropping the branches `asked` does. `continued`: branch -> the threads whose line ends on it."""
    known = {i.branch_id: i for i in infos}
    out = Plan()
    for b in sorted(asked - known.keys()):
        out.refused[b] = f"branch {b}: no such branch"
    whole = {b for b in asked if b in known}
    changed = True
    while changed:  # a branch goes whole only if every branch reading it goes too
        changed = False
        for b in sorted(whole):
            if any(child not in whole for child, _ in known[b].readers):
                whole.discard(b)
                changed = True
    for b in sorted(asked & known.keys()):
        info = known[b]
        if b in whole:
            out.drop.append(b)
            continue
        kept = [(child, c) for child, c in info.readers if child not in whole]
        child, upto = max(kept, key=lambda r: r[1])
        if continued.get(b):
            out.refused[b] = (f"branch {b}: branch {child} reads its rows up to cycle {upto} and thread "
                              f"{continued[b][0]} continues it; drop branch {child} too, or keep both")
        elif info.last_cycle is not None and info.last_cycle > upto:
            out.trim[b] = upto
        else:
            out.refused[b] = f"branch {b}: branch {child} reads all its rows (up to cycle {upto}): nothing to drop"
    return out


def discarded(infos: list[BranchInfo], continued: dict[int, list[str]]) -> set[int]:
    """The branches no thread continues (a rollback's discarded futures and their like) that hold rows
    nobody reads."""
    out = set()
    for i in infos:
        if continued.get(i.branch_id) or i.rows == 0:
            continue
        upto = max((c for _, c in i.readers), default=None)
        if upto is None or (i.last_cycle is not None and i.last_cycle > upto):
            out.add(i.branch_id)
    return out


def drop_branch(conn, branch_id: int, tables: list[str]) -> int:
    """Delete every row of the branch and the branch itself (inside the caller's transaction); rows deleted."""
    n = 0
    for t in tables:
        where, params = _where(t, branch_id, None)
        n += conn.execute(f"DELETE FROM {t} WHERE {where}", params).rowcount
    conn.execute("DELETE FROM branches WHERE branch_id=?", (branch_id,))
    return n + 1


def trim_branch(conn, branch_id: int, keep_upto: int, tables: list[str]) -> int:
    """Undo the branch's rows after `keep_upto`, as a rollback of it there would (inside the caller's
    transaction): its state tables then hold its state at `keep_upto`. Returns the rows deleted."""
    before = sum(count_rows(conn, branch_id, tables).values())
    truncate_after(conn, load_state(conn, branch_id), keep_upto)
    for t in MARKET_TABLES:
        if t in tables:
            conn.execute(f"DELETE FROM {t} WHERE branch_id=? AND cycle>?", (branch_id, keep_upto))
    conn.execute("UPDATE branches SET cycle=? WHERE branch_id=? AND cycle>?", (keep_upto, branch_id, keep_upto))
    return before - sum(count_rows(conn, branch_id, tables).values())
