"""Records the other layers write and read back: orders, traces, chat messages, value snapshots.

All rows carry run, branch and cycle; reads follow the branch lineage (a fork sees its parent's rows
up to the fork cycle). Payloads are JSON text, so the sqlite3 CLI and Datasette can read them with
json_extract.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.lineage import lineage, lineage_sql
from ledger.state import BranchState


def _dumps(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str, separators=(",", ":"))


def record_order(conn: sqlite3.Connection, st: BranchState, *, cycle: int, order_id: str, account: str,
                 side: str, symbol: str, qty: int, limit_price: int | None, order_type: str, status: str,
                 tick: int = 0, reason: str | None = None, detail: str | None = None,
                 payload: Mapping[str, Any] | None = None) -> None:
    conn.execute("INSERT INTO orders(run_id, branch_id, cycle, tick, order_id, account, side, symbol, order_type, "
                 "qty, limit_price, status, reason, detail, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 (st.run_id, st.branch_id, cycle, tick, order_id, account, side, symbol, order_type, qty,
                  limit_price, status, reason, detail, _dumps(dict(payload or {}))))


def record_trace(conn: sqlite3.Connection, st: BranchState, cycle: int, agent: str, node: str, kind: str,
                 payload: Mapping[str, Any]) -> None:
    conn.execute("INSERT INTO traces(run_id, branch_id, cycle, agent, node, kind, payload) VALUES (?,?,?,?,?,?,?)",
                 (st.run_id, st.branch_id, cycle, agent, node, kind, _dumps(dict(payload))))


def record_message(conn: sqlite3.Connection, st: BranchState, cycle: int, sender: str, text: str, *,
                   recipients: Iterable[str] = (), sentiment: float | None = None, topic: str | None = None,
                   round: int = 0) -> None:
    conn.execute("INSERT INTO messages(run_id, branch_id, cycle, round, sender, recipients, text, sentiment, topic) "
                 "VALUES (?,?,?,?,?,?,?,?,?)",
                 (st.run_id, st.branch_id, cycle, round, sender, _dumps(list(recipients)), text, sentiment, topic))


def portfolio_values(st: BranchState, marks: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """{account: (cash, holdings value)} for every non-system account, valued at `marks`."""
    hv: dict[str, int] = {a: 0 for a, c in st.accounts.items() if c.kind != "system"}
    for (acct, sym), q in st.shares.items():
        if q and acct in hv:
            if sym not in marks:
                raise KeyError(f"no mark for {sym}")
            hv[acct] += q * marks[sym]
    return {a: (st.cash.get(a, 0), v) for a, v in hv.items()}


def record_snapshot(conn: sqlite3.Connection, st: BranchState, cycle: int, marks: Mapping[str, int]) -> None:
    r, b = st.run_id, st.branch_id
    conn.execute("DELETE FROM snapshots WHERE branch_id=? AND cycle=?", (b, cycle))
    conn.execute("DELETE FROM marks WHERE branch_id=? AND cycle=?", (b, cycle))
    conn.executemany("INSERT INTO snapshots(run_id, branch_id, cycle, account, cash, holdings_value, value) "
                     "VALUES (?,?,?,?,?,?,?)",
                     [(r, b, cycle, a, c, h, c + h) for a, (c, h) in portfolio_values(st, marks).items()])
    conn.executemany("INSERT INTO marks(run_id, branch_id, cycle, symbol, price) VALUES (?,?,?,?,?)",
                     [(r, b, cycle, s, int(p)) for s, p in sorted(marks.items())])


def select(conn: sqlite3.Connection, branch_id: int, table: str, columns: str, *, where: str = "",
           params: Iterable[Any] = (), order: str = "cycle, seq", limit: int | None = None,
           newest: bool = False) -> list[dict[str, Any]]:
    """Rows of a history table visible on the branch (lineage), as dicts, oldest first.

    With `newest`, the last `limit` rows are returned (still oldest first).
    """
    lin_where, lin_params = lineage_sql(lineage(conn, branch_id), table=table)
    sql = f"SELECT {columns} FROM {table} WHERE {lin_where}"
    if where:
        sql += f" AND {where}"
    desc = ", ".join(f"{c.strip()} DESC" for c in order.split(","))
    sql += f" ORDER BY {desc if newest else order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cur = conn.execute(sql, [*lin_params, *params])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur]
    return rows[::-1] if newest else rows


def decode(rows: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    for row in rows:
        for f in fields:
            if row.get(f) is not None:
                row[f] = json.loads(row[f])
    return rows
