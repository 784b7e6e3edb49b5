"""The order-intent queue: orders and cancels placed from outside the cycle (the MCP accounts server).

Why a queue and not a direct call: the exchange lives in the process that runs the cycle graph, and every
order must pass the same pre-trade risk checks as a trader's own. So the accounts server only *submits*
an intent into a small table of the run database (`external_orders`); the next cycle's risk node *takes*
the trader's pending intents, appends them to that trader's Decision (after its own orders, so its own
cash and position usage are counted first) and runs `floor.risk.check_decision` on the whole. Nothing
reaches the exchange except through that check and the execution node's ledger reservation.

Lifecycle of an intent: `pending` -> `taken` (claimed by cycle N on branch B) -> `accepted` | `rejected`
(with the risk reason and sentence). A pending intent can be `withdrawn` by its submitter. A re-run of
the same (cycle, branch) takes that cycle's intents again (a crash before settle, or the risk node
re-running when an approval interrupt is resumed); a cycle that settled is never re-run on its branch
(alignment forks instead), and after a rollback the re-run is on another branch and does not. External intents are, by nature, outside
the seeded determinism of a run: a run with intents replays identically only if the same intents are
queued at the same cycles.

The table lives in the ledger's SQLite file (one run database). Writes from the server's own connection
make the floor's ledger reload its in-memory mirror once; intents are rare, so that cost is accepted.
Wall-clock time is stored as metadata only.
"""
from __future__ import annotations

import json
import sqlite3
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ledger.dialect import dialect_of
from tools.order_intents import ProposedOrder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS external_orders (
    intent_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    trader TEXT NOT NULL,
    kind TEXT NOT NULL,              -- 'order' | 'cancel'
    payload TEXT NOT NULL,           -- ProposedOrder JSON (cents) or {"order_id": ...}
    status TEXT NOT NULL DEFAULT 'pending',
    submitted_wall REAL,             -- metadata only
    taken_cycle INTEGER,
    taken_branch INTEGER,
    reason TEXT,
    message TEXT
);
CREATE INDEX IF NOT EXISTS external_orders_pending ON external_orders (run_id, trader, status);
"""

MAX_PENDING_PER_TRADER = 20  # a flood of intents cannot grow one decision without bound


@dataclass(frozen=True)
class Intent:
    intent_id: int
    trader: str
    kind: str
    order: ProposedOrder | None
    cancel_order_id: str | None


# PostgreSQL connections known to have the table: a failed query would abort the cycle's transaction there,
# so `take` asks the catalog first, once per connection
_HAS_TABLE: weakref.WeakSet = weakref.WeakSet()
# ... and those found without it, with the (branch, cycle) asked for: the risk node asks once per trader in a
# cycle, and a table another process creates mid-cycle is seen from the next cycle on (as its intents are)
_MISSING_FOR: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensure_schema(conn: sqlite3.Connection) -> None:
    d = dialect_of(conn)
    with d.schema_change(conn):
        conn.executescript(d.raw_ddl(_SCHEMA))


def _table_missing(conn: Any, asked_for: tuple | None = None) -> bool:
    """PostgreSQL only (SQLite answers a query on a missing table with an error that changes nothing).
    `asked_for`: the (branch, cycle) a floor asks for; a missing table is not asked about again for it."""
    dialect = dialect_of(conn)
    if dialect.name == "sqlite" or conn in _HAS_TABLE:
        return False
    if asked_for is not None and _MISSING_FOR.get(conn) == asked_for:
        return True
    if dialect.has_table(conn, "external_orders"):
        _HAS_TABLE.add(conn)
        return False
    if asked_for is not None:
        _MISSING_FOR[conn] = asked_for
    return True


def _submit(conn: sqlite3.Connection, run_id: int, trader: str, kind: str, payload: dict) -> int:
    ensure_schema(conn)
    pending = conn.execute("SELECT COUNT(*) FROM external_orders WHERE run_id=? AND trader=? AND status='pending'",
                           (run_id, trader)).fetchone()[0]
    if pending >= MAX_PENDING_PER_TRADER:
        raise ValueError(f"{trader} already has {pending} pending intents (limit {MAX_PENDING_PER_TRADER}); "
                         "wait for the next cycle")
    intent_id = dialect_of(conn).insert_id(
        conn, "INSERT INTO external_orders (run_id, trader, kind, payload, submitted_wall) VALUES (?,?,?,?,?)",
        (run_id, trader, kind, json.dumps(payload, sort_keys=True), time.time()), "intent_id")
    if conn.in_transaction and getattr(conn, "isolation_level", None) is not None:
        conn.commit()
    return intent_id


def submit_order(conn: sqlite3.Connection, run_id: int, trader: str, order: ProposedOrder) -> int:
    """Queue an order intent for `trader`; returns its intent id."""
    return _submit(conn, run_id, trader, "order", order.model_dump(mode="json"))


def submit_cancel(conn: sqlite3.Connection, run_id: int, trader: str, order_id: str) -> int:
    """Queue the cancellation of one of `trader`'s live orders; returns its intent id."""
    return _submit(conn, run_id, trader, "cancel", {"order_id": order_id})


def withdraw(conn: sqlite3.Connection, intent_id: int, trader: str) -> bool:
    """Withdraw a still-pending intent of `trader`; False when it was already taken (or is not theirs)."""
    ensure_schema(conn)
    cur = conn.execute("UPDATE external_orders SET status='withdrawn' WHERE intent_id=? AND trader=? AND status='pending'",
                       (intent_id, trader))
    return cur.rowcount == 1


def _row_to_intent(row: tuple) -> Intent:
    intent_id, trader, kind, payload = row
    data = json.loads(payload)
    if kind == "order":
        return Intent(intent_id, trader, kind, ProposedOrder.model_validate(data), None)
    return Intent(intent_id, trader, kind, None, str(data["order_id"]))


# What `take` claims for (cycle, branch): pending intents, and any this same (cycle, branch) took before.
# Re-taking what this same (cycle, branch) already took makes the node safe to run again: after a crash
# before settle, and when LangGraph re-runs the risk node on resuming the approval interrupt.
_TO_TAKE = "(status='pending' OR (status IN ('taken', 'accepted', 'rejected') AND taken_cycle=? AND taken_branch=?))"


def any_to_take(conn: sqlite3.Connection, run_id: int, branch_id: int, cycle: int) -> bool:
    """Whether `take` would find intents for any trader of the run this cycle: one look for the floor
    instead of one query per trader, since almost no cycle has any (the table does not even exist until an
    intent is queued)."""
    return bool(_select(conn, "SELECT 1 FROM external_orders WHERE run_id=? AND " + _TO_TAKE + " LIMIT 1",
                        (run_id, cycle, branch_id), (branch_id, cycle)))


def take(conn: sqlite3.Connection, run_id: int, branch_id: int, trader: str, cycle: int) -> list[Intent]:
    """Claim the trader's pending intents for `cycle` (and any this same cycle claimed before a crash)."""
    rows = _select(conn, "SELECT intent_id, trader, kind, payload FROM external_orders WHERE run_id=? AND "
                   "trader=? AND " + _TO_TAKE + " ORDER BY intent_id", (run_id, trader, cycle, branch_id),
                   (branch_id, cycle))
    if not rows:
        return []
    ids = [r[0] for r in rows]
    conn.execute(f"UPDATE external_orders SET status='taken', taken_cycle=?, taken_branch=? "
                 f"WHERE intent_id IN ({','.join('?' * len(ids))})", (cycle, branch_id, *ids))
    return [_row_to_intent(r) for r in rows]


# SQLite connections `_select` has seen the table on or without: {id(conn): (conn, None if the table was there,
# else the file's schema version when it was not)}. A query on the missing table fails in SQLite's parser (about
# four times the cost of a PRAGMA), and the floor asks every cycle; the table can only appear by a schema change,
# which moves `PRAGMA schema_version`, so while that stays put the answer is known. The version is read before the
# failing query, so a table created after it is seen by the next call. The entry holds its connection, so the id
# is not reused while it lives (sqlite3 connections take no weak reference); the map is kept small.
_SQLITE_SEEN: dict[int, tuple[Any, int | None]] = {}


def _select(conn: sqlite3.Connection, sql: str, args: tuple, asked_for: tuple) -> list:
    """`sql`'s rows, or none when the table does not exist yet (nobody ever queued an intent here)."""
    if _table_missing(conn, asked_for):  # PostgreSQL: a failed query would abort the cycle's transaction
        return []
    version = None
    if isinstance(conn, sqlite3.Connection):
        seen = _SQLITE_SEEN.get(id(conn))
        if seen is None or seen[0] is not conn or seen[1] is not None:  # not known to have the table
            version = conn.execute("PRAGMA schema_version").fetchone()[0]
            if seen is not None and seen[0] is conn and seen[1] == version:
                return []  # missing, and no schema change since
    try:
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:  # SQLite: the error changes nothing
        if version is not None and "no such table" in str(exc):
            _remember(conn, version)
        else:
            _SQLITE_SEEN.pop(id(conn), None)
        return []
    if version is not None:
        _remember(conn, None)
    return rows


def _remember(conn: sqlite3.Connection, version: int | None) -> None:
    if len(_SQLITE_SEEN) >= 16 and id(conn) not in _SQLITE_SEEN:
        _SQLITE_SEEN.clear()
    _SQLITE_SEEN[id(conn)] = (conn, version)


def record_outcome(conn: sqlite3.Connection, intents: list[Intent], result: Any) -> list[int]:
    """Mark each taken intent accepted or rejected from the `RiskResult`; return the accepted order intents' ids.

    A rejection is matched to its intent by object identity (check_decision rejects the very ProposedOrder
    object it was given), or, for a market order it turned into an IOC limit first, by symbol, side and qty.
    """
    rejected = list(result.rejected)
    used: set[int] = set()
    accepted_ids: list[int] = []
    for intent in intents:
        if intent.kind == "cancel":
            ok = intent.cancel_order_id in result.cancels
            _set(conn, intent.intent_id, "accepted" if ok else "rejected", None if ok else "not_open_order",
                 None if ok else f"{intent.cancel_order_id} is not an open order of {intent.trader}")
            continue
        match = next((k for k, r in enumerate(rejected) if k not in used and r.order is intent.order), None)
        if match is None and intent.order.order_type == "market":
            o = intent.order
            match = next((k for k, r in enumerate(rejected) if k not in used and r.order.tif == "ioc" and
                          (r.order.symbol, r.order.side, r.order.qty) == (o.symbol, o.side, o.qty)), None)
        if match is None:
            _set(conn, intent.intent_id, "accepted", None, "passed the risk check; sent to the exchange")
            accepted_ids.append(intent.intent_id)
        else:
            used.add(match)
            _set(conn, intent.intent_id, "rejected", str(rejected[match].reason), rejected[match].message)
    return accepted_ids


def _set(conn: sqlite3.Connection, intent_id: int, status: str, reason: str | None, message: str | None) -> None:
    conn.execute("UPDATE external_orders SET status=?, reason=?, message=? WHERE intent_id=?",
                 (status, reason, message, intent_id))


def intents(conn: sqlite3.Connection, run_id: int, trader: str | None = None, limit: int = 50) -> list[dict]:
    """The latest intents (newest first) with their status, for the accounts server."""
    if _table_missing(conn):
        return []
    try:
        rows = conn.execute(
            "SELECT intent_id, trader, kind, payload, status, taken_cycle, taken_branch, reason, message "
            "FROM external_orders WHERE run_id=? AND (CAST(? AS TEXT) IS NULL OR trader=?) "
            "ORDER BY intent_id DESC LIMIT ?",
            (run_id, trader, trader, limit)).fetchall()
    except sqlite3.OperationalError:
        return []
    keys = ("intent_id", "trader", "kind", "payload", "status", "taken_cycle", "taken_branch", "reason", "message")
    out = []
    for r in rows:
        d = dict(zip(keys, r, strict=True))
        d["payload"] = json.loads(d["payload"])
        out.append(d)
    return out
