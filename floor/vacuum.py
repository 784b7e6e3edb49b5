"""`trading-floor vacuum`, the floor's half: the threads and checkpoints of dropped branches, the database's
size, and giving the freed pages back (SQLite VACUUM; PostgreSQL VACUUM FULL of the tables touched).
The ledger's rows are ledger/vacuum.py's.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.dialect import is_url

SQLITE_CHECKPOINT_TABLES = ("checkpoints", "writes")  # LangGraph's SqliteSaver, in the run database itself
PG_CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")  # PostgresSaver's schema


def drop_threads(ledger_conn, db: str, thread_ids: list[str]) -> int:
    """Forget threads: their registry rows (on the ledger's connection, inside its transaction) and their
    checkpoints and pending writes (SQLite: the same file and transaction; PostgreSQL: the run's checkpoint
    schema, after it). Returns the checkpoint rows deleted."""
    if not thread_ids:
        return 0
    marks = ",".join("?" * len(thread_ids))
    ledger_conn.execute(f"DELETE FROM floor_threads WHERE thread_id IN ({marks})", thread_ids)
    if not is_url(db):
        return sum(ledger_conn.execute(f"DELETE FROM {t} WHERE thread_id IN ({marks})", thread_ids).rowcount
                   for t in SQLITE_CHECKPOINT_TABLES if _sqlite_has(ledger_conn, t))
    from floor.database import connect_pg_checkpoints

    conn = connect_pg_checkpoints(db)
    try:
        n = 0
        with conn.transaction():
            for t in PG_CHECKPOINT_TABLES:
                n += conn.execute(f"DELETE FROM {t} WHERE thread_id = ANY(%s)", (thread_ids,)).rowcount
        return n
    finally:
        conn.close()


def _sqlite_has(conn, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None


def database_bytes(db: str) -> int:
    """The run database's size: SQLite, its file after a WAL checkpoint (the WAL folded in and emptied);
    PostgreSQL, its ledger and checkpoint schemas' tables with their indexes and TOAST."""
    if not is_url(db):
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return sum(p.stat().st_size for p in (Path(db), Path(db + "-wal")) if p.exists())
    import psycopg

    from floor.database import checkpoint_schema
    from ledger.pg_connection import split_schema

    base, schema = split_schema(db)
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        (n,) = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY(%s)",
            ([schema or "public", checkpoint_schema(db)],)).fetchone()
    return int(n)


def give_back(db: str, tables: list[str], checkpoints_touched: bool) -> None:
    """Return the freed pages to the file system: SQLite VACUUM of the whole file; PostgreSQL VACUUM FULL of
    the ledger tables touched (and the checkpoint tables, if threads went). The caller holds the run's lease."""
    if not is_url(db):
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        try:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return
    import psycopg

    from floor.database import checkpoint_schema
    from ledger.pg_connection import split_schema

    base, schema = split_schema(db)
    names = [f'"{schema}"."{t}"' if schema else f'"{t}"' for t in tables]
    if checkpoints_touched:
        names += [f'"{checkpoint_schema(db)}"."{t}"' for t in PG_CHECKPOINT_TABLES]
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        for name in names:
            conn.execute(f"VACUUM FULL {name}")


def table_bytes(db: str) -> dict[str, int]:
    """Bytes per table (with its indexes where the backend says so): SQLite's dbstat pages (empty when the
    SQLite build has no dbstat), PostgreSQL's pg_total_relation_size in the ledger's schema."""
    if not is_url(db):
        conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True, timeout=30)
        try:
            return {name: int(n) for name, n in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")}
        except sqlite3.OperationalError:  # no dbstat in this build
            return {}
        finally:
            conn.close()
    import psycopg

    from ledger.pg_connection import split_schema

    base, schema = split_schema(db)
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        return {name: int(n) for name, n in conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = %s", (schema or "public",))}
