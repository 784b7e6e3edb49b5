"""Branch lineage: which (branch, max cycle) pairs make up a branch's visible history.

A fork at cycle c of branch P does not copy P's history rows (fills, transfers, orders, traces,
messages, snapshots); the new branch sees P's rows with cycle <= c, and P's own lineage below that.
State tables (balances, positions, open lots, open reservations, accounts) are copied at fork time.
"""
from __future__ import annotations

import sqlite3

from ledger import fillkeys
from ledger.schema import JOURNAL_ARMS, journal_union

INF = 1 << 62


def lineage(conn: sqlite3.Connection, branch_id: int) -> list[tuple[int, int]]:
    """[(branch_id, max_cycle), ...] from the branch itself up to its root."""
    out: list[tuple[int, int]] = []
    limit = INF
    b: int | None = branch_id
    while b is not None:
        out.append((b, limit))
        parent, fork_cycle = conn.execute(
            "SELECT parent_id, fork_cycle FROM branches WHERE branch_id=?", (b,)).fetchone()
        if parent is not None:
            limit = min(limit, fork_cycle)
        b = parent
    return out


def state_lineage(conn: sqlite3.Connection, st) -> list[tuple[int, int]]:
    """`lineage` of a mirror's branch (`state.BranchState`), read once per mirror: the settlement's and the
    reservations' checks ask for it on every write."""
    lin = st.lin
    if lin is None:
        lin = st.lin = lineage(conn, st.branch_id)
    return lin


def lineage_sql(lin: list[tuple[int, int]], alias: str = "", *, table: str = "") -> tuple[str, list[int]]:
    """A WHERE fragment selecting the rows visible on a branch, with its parameters.

    For `fills` the fragment is a set of `seq` (rowid) ranges, which is how that table is keyed."""
    p = f"{alias}." if alias else ""
    parts, params = [], []
    if table == "fills":
        for b, c in lin:
            parts.append(f"({p}seq BETWEEN ? AND ?)")
            params += fillkeys.upto(b, c)
        return "(" + " OR ".join(parts) + ")", params
    for b, c in lin:
        parts.append(f"({p}branch_id=? AND {p}cycle<=?)")
        params += [b, c]
    return "(" + " OR ".join(parts) + ")", params


def journal_sql(lin: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """A subquery with the `journal` view's rows visible on a branch, each arm using its table's key."""
    tw, tp = lineage_sql(lin)
    fw, fp = lineage_sql(lin, table="fills")
    params: list[int] = []
    for _, table, _ in JOURNAL_ARMS:
        params += tp if table == "transfers" else fp
    return "(" + journal_union({"transfers": tw, "fills": fw}) + ") AS journal_rows", params  # PostgreSQL needs the alias
