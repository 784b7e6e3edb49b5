"""Where SQLite and PostgreSQL differ, in one place: the ledger's only storage-dependent code.

The ledger talks to a DB-API-like connection with SQLite's `?` placeholders (`conn.execute(sql, params)`,
`conn.executemany`, cursors yielding tuples). On SQLite that connection is the `sqlite3.Connection`
itself, untouched, so the embedded default costs exactly what it did before this layer existed. On
PostgreSQL it is a `PgConnection` (pg_connection.py), which translates the placeholders once per
statement text and turns a plain multi-row INSERT into COPY.

Everything else that differs goes through `dialect_of(conn)`:
* table DDL: one table spec (`schema.TABLES`) rendered by sqlite-utils on SQLite (as before) and as
  `CREATE TABLE` with BIGINT/identity columns on PostgreSQL (SQLite's INTEGER is 64-bit, PostgreSQL's
  is 32-bit: cents and the `fills.seq` key need BIGINT);
* the raw DDL of the hot tables (WITHOUT ROWID is SQLite's clustered table; PostgreSQL has none);
* INSERT OR REPLACE / OR IGNORE (PostgreSQL: ON CONFLICT), the id of a new row (lastrowid / RETURNING);
* transactions: BEGIN IMMEDIATE / BEGIN DEFERRED (PostgreSQL: row locks, and REPEATABLE READ for a
  reader's snapshot);
* "did another connection commit?" (`PRAGMA data_version`; PostgreSQL: the ledger's write counter).
"""
from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

_PY_TYPES_PG = {int: "BIGINT", str: "TEXT", float: "DOUBLE PRECISION", bytes: "BYTEA"}
# single-column integer keys that SQLite fills in itself (INTEGER PRIMARY KEY is the rowid)
_AUTO_KEYS = {"seq", "run_id", "branch_id"}
# the tables whose key PostgreSQL generates (identity), and that key
_IDENTITY = {"runs": "run_id", "branches": "branch_id", "transfers": "seq", "releases": "seq", "orders": "seq",
             "traces": "seq", "messages": "seq"}


class SQLiteDialect:
    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"
    begin_read = "BEGIN DEFERRED"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def create_table(self, conn: Any, name: str, columns: dict[str, type], pk: str | tuple[str, ...]) -> None:
        from sqlite_utils import Database

        Database(conn).table(name).create(columns, pk=pk, if_not_exists=True)

    def schema_change(self, conn: Any) -> contextlib.AbstractContextManager:
        """Around a block of `CREATE ... IF NOT EXISTS`: SQLite's write lock already serializes them."""
        return contextlib.nullcontext()

    def create_index(self, conn: Any, table: str, columns: Sequence[str], *, unique: bool = False) -> None:
        from sqlite_utils import Database

        Database(conn).table(table).create_index(list(columns), unique=unique, if_not_exists=True)

    def raw_ddl(self, sql: str) -> str:
        return sql

    def create_view(self, name: str, select: str) -> str:
        return f"CREATE VIEW IF NOT EXISTS {name} AS\n{select}"

    def columns(self, conn: Any, table: str) -> set[str]:
        return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}

    def has_table(self, conn: Any, table: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None

    def insert_or_ignore(self, table: str, columns: str, key: str) -> str:
        n = columns.count(",") + 1
        return f"INSERT OR IGNORE INTO {table}({columns}) VALUES ({','.join('?' * n)})"

    def insert_or_replace(self, table: str, columns: str, key: str) -> str:
        n = columns.count(",") + 1
        return f"INSERT OR REPLACE INTO {table}({columns}) VALUES ({','.join('?' * n)})"

    def insert_id(self, conn: Any, sql: str, params: Sequence[Any], id_column: str) -> int:
        return int(conn.execute(sql, params).lastrowid)

    def data_version(self, conn: Any) -> Any:
        return conn.execute("PRAGMA data_version").fetchone()[0]

    def data_version_after_commit(self, before: Any, bumped: Any) -> Any:
        """`data_version` after this connection committed a ledger transaction that stored the write counter
        `bumped`, without asking: SQLite's does not move for the connection's own commits."""
        return before

    def rewind_ids(self, conn: Any, tables: Iterable[str]) -> None:
        """After deleting rows: the next generated key of each table is max(key) + 1 again. SQLite does
        that by itself (a rowid key without AUTOINCREMENT), so a truncated and replayed branch gets
        exactly the keys it had."""


class PostgresDialect(SQLiteDialect):
    name = "postgresql"
    begin_write = "BEGIN"
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self) -> None:
        import psycopg

        self.errors = (psycopg.Error,)

    def schema_change(self, conn: Any) -> contextlib.AbstractContextManager:
        """Around a block of `CREATE ... IF NOT EXISTS`: the database's schema-change lock, so that
        processes creating the same tables at once wait for each other instead of one failing."""
        from ledger.pg_connection import schema_change_lock

        return schema_change_lock(conn.raw)

    def create_table(self, conn: Any, name: str, columns: dict[str, type], pk: str | tuple[str, ...]) -> None:
        keys = (pk,) if isinstance(pk, str) else tuple(pk)
        cols = []
        for col, typ in columns.items():
            if len(keys) == 1 and col == keys[0] and typ is int and col in _AUTO_KEYS:
                cols.append(f"{col} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            elif len(keys) == 1 and col == keys[0]:
                cols.append(f"{col} {_PY_TYPES_PG[typ]} PRIMARY KEY")
            else:
                cols.append(f"{col} {_PY_TYPES_PG[typ]}")
        if len(keys) > 1:
            cols.append(f"PRIMARY KEY ({', '.join(keys)})")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})")

    def create_index(self, conn: Any, table: str, columns: Sequence[str], *, unique: bool = False) -> None:
        name = f"idx_{table}_{'_'.join(columns)}"  # sqlite-utils' naming
        conn.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")

    def raw_ddl(self, sql: str) -> str:
        sql = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                     sql, flags=re.I)
        sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
        sql = re.sub(r"\bBLOB\b", "BYTEA", sql)
        sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)  # SQLite's REAL is 8 bytes; PostgreSQL's is 4
        return re.sub(r"\)\s*WITHOUT ROWID\s*$", ")", sql.strip())

    def create_view(self, name: str, select: str) -> str:
        return f"CREATE OR REPLACE VIEW {name} AS\n{select}"

    def columns(self, conn: Any, table: str) -> set[str]:
        return {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?", (table,))}

    def has_table(self, conn: Any, table: str) -> bool:
        return conn.execute("SELECT to_regclass(?)", (table,)).fetchone()[0] is not None

    def insert_or_ignore(self, table: str, columns: str, key: str) -> str:
        n = columns.count(",") + 1
        return f"INSERT INTO {table}({columns}) VALUES ({','.join('?' * n)}) ON CONFLICT ({key}) DO NOTHING"

    def insert_or_replace(self, table: str, columns: str, key: str) -> str:
        n = columns.count(",") + 1
        keys = {k.strip() for k in key.split(",")}
        sets = ", ".join(f"{c} = excluded.{c}" for c in (c.strip() for c in columns.split(",")) if c not in keys)
        return (f"INSERT INTO {table}({columns}) VALUES ({','.join('?' * n)}) ON CONFLICT ({key}) "
                + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING"))

    def insert_id(self, conn: Any, sql: str, params: Sequence[Any], id_column: str) -> int:
        return int(conn.execute(f"{sql} RETURNING {id_column}", params).fetchone()[0])

    def rewind_ids(self, conn: Any, tables: Iterable[str]) -> None:
        """PostgreSQL's identity sequences never go back by themselves: set each to the table's max(key),
        as SQLite's rowid does (one writer per schema: the run's lease holder)."""
        for table in tables:
            key = _IDENTITY.get(table)
            if key:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                             f"coalesce((SELECT max({key}) FROM {table}), 0) + 1, false)")

    def data_version(self, conn: Any) -> Any:
        # No per-connection commit counter in PostgreSQL: the ledger's own write counter (meta) stands in.
        row = conn.execute("SELECT value FROM meta WHERE key='ledger_version'").fetchone()
        return row[0] if row else None

    def data_version_after_commit(self, before: Any, bumped: Any) -> Any:
        return bumped  # the write counter is the stand-in, and the commit just stored `bumped`


SQLITE = SQLiteDialect()
_POSTGRES: PostgresDialect | None = None


def postgres() -> PostgresDialect:
    global _POSTGRES
    if _POSTGRES is None:
        _POSTGRES = PostgresDialect()
    return _POSTGRES


def dialect_of(conn: Any) -> SQLiteDialect:
    """The dialect of a ledger connection: a `PgConnection` carries its own, anything else is SQLite."""
    return getattr(conn, "dialect", SQLITE)


def is_url(target: Any) -> bool:
    """A PostgreSQL URL (`postgresql://...` or `postgres://...`), as opposed to a SQLite path."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))

