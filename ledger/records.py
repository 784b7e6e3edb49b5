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

from ledger import packed_history
from ledger.json_text import encode_with
from ledger.lineage import lineage, lineage_sql
from ledger.state import BranchState

# json.dumps(x, sort_keys=True, default=str, separators=(",", ":")) builds this same encoder on every call (and
# `.encode` its C encoder: json_text.py)
_dumps = encode_with(json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")))

ORDER_INSERT = ("INSERT INTO orders(run_id, branch_id, cycle, tick, order_id, account, side, symbol, order_type, "
                "qty, limit_price, status, reason, detail, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
TRACE_INSERT = "INSERT INTO traces(run_id, branch_id, cycle, agent, node, kind, payload) VALUES (?,?,?,?,?,?,?)"
MESSAGE_INSERT = ("INSERT INTO messages(run_id, branch_id, cycle, round, sender, recipients, text, sentiment, "
                  "topic) VALUES (?,?,?,?,?,?,?,?,?)")


def order_row(st: BranchState, cycle: int, *, order_id: str, account: str, side: str, symbol: str, qty: int,
              limit_price: int | None = None, order_type: str = "limit", status: str = "accepted", tick: int = 0,
              reason: str | None = None, detail: str | None = None,
              payload: Mapping[str, Any] | None = None) -> tuple:
    """The `orders` row of one order event (enum sides and types stored by value, the reason as text)."""
    return (st.run_id, st.branch_id, cycle, tick, order_id, account, str(getattr(side, "value", side)), symbol,
            str(getattr(order_type, "value", order_type)), qty, limit_price, status,
            None if reason is None else str(reason), detail, _dumps(dict(payload or {})))


def trace_row(st: BranchState, cycle: int, agent: str, node: str, kind: str, payload: Mapping[str, Any]) -> tuple:
    return (st.run_id, st.branch_id, cycle, agent, node, kind,
            _dumps(payload if type(payload) is dict else dict(payload)))


def message_row(st: BranchState, cycle: int, sender: str, text: str, *, recipients: Iterable[str] = (),
                sentiment: float | None = None, topic: str | None = None, round: int = 0) -> tuple:
    return (st.run_id, st.branch_id, cycle, round, sender, _dumps(list(recipients)), text, sentiment, topic)


def record_order(conn: sqlite3.Connection, st: BranchState, cycle: int, **order: Any) -> None:
    conn.execute(ORDER_INSERT, order_row(st, cycle, **order))


def record_orders(conn: sqlite3.Connection, st: BranchState, cycle: int, orders: Iterable[Mapping[str, Any]]) -> int:
    """Many order events in one statement; each item holds `order_row`'s keyword arguments. Returns the count."""
    rows = [order_row(st, cycle, **o) for o in orders]
    conn.executemany(ORDER_INSERT, rows)
    return len(rows)


_NO_ROWS = -(1 << 62)


def rows_may_exist(conn: sqlite3.Connection, st: BranchState, table: str, cycle: int) -> bool:
    """Whether the branch may already hold rows of `cycle` in `table`, about to be written: not when the cycle
    is past the newest the mirror knows of (`BranchState.hist_max`, read once per mirror with max(cycle)).
    Notes the write. A write that fails rolls back its transaction, which reloads the mirror; truncation
    only removes rows (the note then errs on the side of looking)."""
    known = st.hist_max.get(table)
    if known is None:
        (known,) = conn.execute(f"SELECT max(cycle) FROM {table} WHERE branch_id=?", (st.branch_id,)).fetchone()
        if known is None:
            known = _NO_ROWS
    st.hist_max[table] = cycle if cycle > known else known
    return cycle <= known


def _packed_write(conn: sqlite3.Connection, st: BranchState, table: str, cycle: int, rows: list[tuple]) -> int:
    if not rows:
        return 0
    fresh = not rows_may_exist(conn, st, packed_history.PACKED[table][0], cycle)
    return packed_history.write(conn, table, rows, fresh=fresh)


def record_trace(conn: sqlite3.Connection, st: BranchState, cycle: int, agent: str, node: str, kind: str,
                 payload: Mapping[str, Any], *, packed: bool = False) -> None:
    row = trace_row(st, cycle, agent, node, kind, payload)
    if packed:  # appended to the cycle's pack (packed_history.py)
        _packed_write(conn, st, "traces", cycle, [row])
    else:
        conn.execute(TRACE_INSERT, row)


def record_traces(conn: sqlite3.Connection, st: BranchState, cycle: int,
                  traces: Iterable[tuple[str, str, str, Mapping[str, Any]]], *, packed: bool = False) -> int:
    """Many traces in one statement: (agent, node, kind, payload) each, in order. Returns the count."""
    rows = [trace_row(st, cycle, agent, node, kind, payload) for agent, node, kind, payload in traces]
    if packed:
        return _packed_write(conn, st, "traces", cycle, rows)
    conn.executemany(TRACE_INSERT, rows)
    return len(rows)


def record_message(conn: sqlite3.Connection, st: BranchState, cycle: int, sender: str, text: str, *,
                   packed: bool = False, **kw: Any) -> None:
    row = message_row(st, cycle, sender, text, **kw)
    if packed:
        _packed_write(conn, st, "messages", cycle, [row])
    else:
        conn.execute(MESSAGE_INSERT, row)


def record_messages(conn: sqlite3.Connection, st: BranchState, cycle: int,
                    messages: Iterable[Mapping[str, Any]], *, packed: bool = False) -> int:
    """Many chat messages in one statement; each item holds `message_row`'s arguments by name
    (sender, text, recipients, sentiment, topic, round). Returns the count."""
    rows = [message_row(st, cycle, **m) for m in messages]
    if packed:
        return _packed_write(conn, st, "messages", cycle, rows)
    conn.executemany(MESSAGE_INSERT, rows)
    return len(rows)


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
    if rows_may_exist(conn, st, "snapshots", cycle):  # a cycle recorded again replaces its snapshot
        conn.execute("DELETE FROM snapshots WHERE branch_id=? AND cycle=?", (b, cycle))
    if rows_may_exist(conn, st, "marks", cycle):
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


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
