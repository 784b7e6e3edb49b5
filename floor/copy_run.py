"""Move a whole run database between SQLite and PostgreSQL (`trading-floor copy SRC DST`).

A run is three things, all copied:
* the ledger (`ledger/copy.py`: every table with the same keys, in one transaction on the destination);
* the floor's threads and its current-thread pointer (`floor_threads`, `floor_meta`);
* LangGraph's checkpoints and their pending writes, read from the source's saver and put into the
  destination's (SqliteSaver and PostgresSaver store them differently, so they go through the savers'
  own API, oldest first per thread, each with its parent).

Not copied: the lease and the control-command queue (they belong to the processes of the source), and
queued external orders that no cycle has taken yet.
The destination must be empty (no runs, no threads, no checkpoints): a SQLite file that does not exist
yet, or a PostgreSQL database or `?schema=` holding none of them.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from floor import database as run_database
from floor.threads import ThreadRegistry
from ledger.copy import copy_ledger
from ledger.dialect import is_url


def _ledger_conn(target: str, *, create: bool):
    """An autocommit connection to the ledger of `target` (what ledger/copy.py expects)."""
    if is_url(target):
        from ledger.pg_connection import connect

        return connect(target, pooled=False)
    if not create and not Path(target).exists():
        raise FileNotFoundError(f"no database at {target}")
    if create:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    mode = "rwc" if create else "ro"
    conn = sqlite3.connect(f"file:{Path(target).resolve()}?mode={mode}", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def copy_run(src: str, dst: str) -> dict[str, int]:
    """Copy the run database `src` into the empty `dst`; returns the rows copied per table (the threads
    and checkpoints included). Raises ValueError when `dst` already holds a run."""
    if not is_url(src) and Path(src).exists():
        run_database.merge_legacy_checkpoints(src)  # an earlier version's pair of files: one first
    source = _ledger_conn(src, create=False)
    dest = _ledger_conn(dst, create=True)
    try:
        _check_empty(dest, dst)
        counts = copy_ledger(source, dest)
        threads = ThreadRegistry(source, readonly=True)
        copied = ThreadRegistry(dest)
        current = threads.current()
        for ref in threads.all():
            copied.add(ref.thread_id, ref.run_id, ref.config, parent=ref.parent_thread, forked_at=ref.forked_at,
                       label=ref.label)
        if current is not None:
            copied.set_current(current.thread_id)
        counts["floor_threads"] = len(threads.all())
        counts["checkpoints"] = _copy_checkpoints(src, dst, [t.thread_id for t in threads.all()])
    finally:
        source.close()
        dest.close()
    return counts


def _check_empty(dest, dst: str) -> None:
    """Refuse a destination that holds any part of a run: ledger runs, threads or checkpoints (a copy into a
    database whose checkpoints belong to another run would give its threads a wrong past)."""
    d = dest.dialect if is_url(dst) else None
    has = (lambda t: d.has_table(dest, t)) if d else (lambda t: dest.execute(
        "SELECT 1 FROM sqlite_master WHERE name = ?", (t,)).fetchone() is not None)
    found = [what for what, table in (("runs", "runs"), ("threads", "floor_threads"))
             if has(table) and dest.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()]
    conn = run_database.connect_checkpoints(dst)
    try:
        if any_checkpoints(conn):
            found.append("checkpoints")
    finally:
        conn.close()
    if found:
        raise ValueError(f"the destination already holds {', '.join(found)}: copy into an empty database (or "
                         "schema)")


def any_checkpoints(conn) -> bool:
    """Whether LangGraph's `checkpoints` table of a run database's checkpoint connection holds any row."""
    if not isinstance(conn, sqlite3.Connection):
        row = conn.execute("SELECT to_regclass('checkpoints') IS NOT NULL AS present").fetchone()
        return bool(row["present"]) and conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'checkpoints'").fetchone() is None:
        return False
    return conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None


def _copy_checkpoints(src: str, dst: str, thread_ids: list[str]) -> int:
    src_conn = run_database.connect_checkpoints(src, readonly=True)
    dst_conn = run_database.connect_checkpoints(dst)
    try:
        reader, writer = run_database.make_saver(src_conn, readonly=True), run_database.make_saver(dst_conn)
        n = 0
        for thread_id in thread_ids:
            for tup in reversed(list(reader.list({"configurable": {"thread_id": thread_id}}))):
                conf = tup.config["configurable"]
                parent = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
                target = {"configurable": {"thread_id": thread_id, "checkpoint_ns": conf.get("checkpoint_ns", ""),
                                           **({"checkpoint_id": parent} if parent else {})}}
                saved = writer.put(target, tup.checkpoint, tup.metadata, dict(tup.checkpoint["channel_versions"]))
                by_task: dict[str, list] = {}
                for task_id, channel, value in tup.pending_writes or ():
                    by_task.setdefault(task_id, []).append((channel, value))
                for task_id, writes in by_task.items():
                    writer.put_writes(saved, writes, task_id)
                n += 1
        return n
    finally:
        src_conn.close()
        dst_conn.close()
