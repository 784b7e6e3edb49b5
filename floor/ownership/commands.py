"""Control of a run that another process owns: a command queue in the run database.

`rollback`, `fork`, `pause` and `reset` may be asked for from any window while another process advances
the run. The caller either becomes the owner itself (the lease was free, or its holder is dead) and acts
directly, or posts a command to `floor_commands` and waits: the owner takes it at its next cycle
boundary (`claim` makes taking it atomic against the caller giving up), applies it and answers with a
result or a refusal. The caller reports exactly that answer. A command that is never taken is withdrawn
by its caller (atomically, only while still pending) and reported as not delivered: nothing the user
asked for is "done" and then lost.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from floor.ownership.lease import (
    Holder,
    Lease,
    LeaseHeld,
    _connect,
    acquire_lease,
    command_line,
    read_holder,
)
from ledger.dialect import dialect_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    args TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',  -- pending, applying, done, refused, withdrawn
    result TEXT,
    answered_at REAL
)
"""
KINDS = ("rollback", "fork", "pause", "reset")
DEFAULT_TIMEOUT_S = 60.0


class ControlRefused(RuntimeError):
    """The owner refused the command, or it could not be delivered: nothing was changed."""


@dataclass(frozen=True)
class Command:
    id: int
    kind: str
    args: dict
    requested_by: str


def ensure_schema(conn: sqlite3.Connection) -> None:
    d = dialect_of(conn)
    with d.schema_change(conn):
        conn.execute(d.raw_ddl(SCHEMA))  # PostgreSQL: an identity key, BIGINT, DOUBLE PRECISION


def pending(conn: sqlite3.Connection) -> list[Command]:
    """Commands waiting for the owner, oldest first (cheap: called at every cycle boundary)."""
    dialect = dialect_of(conn)
    try:
        rows = conn.execute("SELECT id, kind, args, requested_by FROM floor_commands WHERE status = 'pending' "
                            "ORDER BY id").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    except dialect.errors:  # PostgreSQL: no table yet (an autocommit connection: nothing to roll back)
        if not dialect.has_table(conn, "floor_commands"):
            return []
        raise
    return [Command(i, k, json.loads(a), r) for i, k, a, r in rows]


def claim(conn: sqlite3.Connection, command: Command) -> bool:
    """The owner takes a pending command (False: its caller withdrew it first)."""
    return conn.execute("UPDATE floor_commands SET status = 'applying' WHERE id = ? AND status = 'pending'",
                        (command.id,)).rowcount == 1


def answer(conn: sqlite3.Connection, command: Command, *, result: dict | None = None,
           refusal: str | None = None) -> None:
    status, payload = ("refused", {"message": refusal}) if refusal is not None else ("done", result or {})
    conn.execute("UPDATE floor_commands SET status = ?, result = ?, answered_at = ? WHERE id = ?",
                 (status, json.dumps(payload, sort_keys=True), time.time(), command.id))


def take(conn: sqlite3.Connection) -> list[Command]:
    """The owner, at a cycle boundary: claim every pending command, oldest first. Each must then be
    answered (`answer`) with its result or a refusal."""
    return [c for c in pending(conn) if claim(conn, c)]


def serve(conn: sqlite3.Connection, apply: Callable[[Command], dict]) -> None:
    """Take, apply and answer every pending command in order. `apply` returns the result, or raises an
    error whose sentence becomes the refusal (the owner goes on)."""
    for command in take(conn):
        try:
            result = apply(command)
        except Exception as exc:  # noqa: BLE001 - the caller is told why, the owner goes on
            answer(conn, command, refusal=str(exc) or type(exc).__name__)
        else:
            answer(conn, command, result=result)


def _post(conn: sqlite3.Connection, kind: str, args: dict) -> int:
    return dialect_of(conn).insert_id(
        conn, "INSERT INTO floor_commands (kind, args, requested_by, requested_at) VALUES (?, ?, ?, ?)",
        (kind, json.dumps(args, sort_keys=True), command_line(), time.time()), "id")


def _withdraw(conn: sqlite3.Connection, command_id: int) -> bool:
    return conn.execute("UPDATE floor_commands SET status = 'withdrawn', answered_at = ? "
                        "WHERE id = ? AND status = 'pending'", (time.time(), command_id)).rowcount == 1


def _status(conn: sqlite3.Connection, command_id: int) -> tuple[str, dict | None]:
    status, result = conn.execute("SELECT status, result FROM floor_commands WHERE id = ?",
                                  (command_id,)).fetchone()
    return status, (json.loads(result) if result else None)


def own_or_deliver(db_path: str, kind: str, args: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT_S,
                   on_deliver: Callable[[Holder], None] | None = None, poll: float = 0.05) -> Lease | dict:
    """Become the run's owner (returns the Lease: apply the command yourself, then release it), or have
    the live owner apply it (returns the owner's result). Raises ControlRefused with a sentence when the
    owner refuses, takes no commands, or does not reach a cycle boundary within `timeout` seconds."""
    if kind not in KINDS:
        raise ValueError(f"unknown command {kind!r}")
    while True:
        try:
            return acquire_lease(db_path)
        except LeaseHeld as held:
            holder = held.holder
        if not holder.accepts_commands:
            raise ControlRefused(f"not done: {holder.describe()} owns this run and takes no {kind} requests; "
                                 "use its own controls, or stop it first")
        if on_deliver is not None:
            on_deliver(holder)
        outcome = _deliver(db_path, kind, args, holder, timeout, poll)
        if outcome is not None:
            return outcome
        # the owner went away without taking the command (withdrawn): take the lease ourselves


def _deliver(db_path: str, kind: str, args: dict, holder: Holder, timeout: float, poll: float) -> dict | None:
    conn = _connect(db_path)
    try:
        ensure_schema(conn)
        command_id = _post(conn, kind, args)
        deadline = time.monotonic() + timeout
        while True:
            status, result = _status(conn, command_id)
            if status == "done":
                return result
            if status == "refused":
                raise ControlRefused(f"refused by {holder.describe()}: {result['message']}")
            if status == "withdrawn":
                return None  # withdrawn by someone else (doctor --repair): try to own the run instead
            current = read_holder(conn)
            owner_gone = current is None or current.token != holder.token or not current.alive()
            if status == "pending" and owner_gone and _withdraw(conn, command_id):
                return None
            if status == "applying" and owner_gone:
                raise ControlRefused(f"{holder.describe()} stopped while applying the {kind}: check the run "
                                     "with `trading-floor status` (or `trading-floor doctor`)")
            if time.monotonic() > deadline and status == "pending" and _withdraw(conn, command_id):
                raise ControlRefused(
                    f"not delivered: {holder.describe()} owns this run and did not reach a cycle boundary "
                    f"within {timeout:.0f} s (a cycle may be waiting for approval or a slow LLM); "
                    "nothing was changed")
            time.sleep(poll)
    finally:
        conn.close()
