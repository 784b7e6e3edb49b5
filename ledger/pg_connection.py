"""The ledger's connection on PostgreSQL: psycopg 3 behind the small sqlite3-like surface the ledger uses.

* `execute(sql, params)` / `executemany(sql, rows)` take SQLite's `?` placeholders; each statement text is
  translated once (cached) to psycopg's `%s` (a literal `%` doubled), skipping quoted strings.
* `executemany` of a plain `INSERT INTO t [(cols)] VALUES (...)` (no ON CONFLICT, no RETURNING) with
  more than a few rows is sent as one `COPY t (cols) FROM STDIN`: settlement's fills and lot chunks.
  Other statements use psycopg's `executemany`, which pipelines them (one round trip per batch).
* The connection is in autocommit mode: the ledger opens and ends its transactions itself (BEGIN,
  SAVEPOINT, COMMIT), as it does on SQLite with `isolation_level=None`.
* Connections come from one `psycopg_pool.ConnectionPool` per URL in this process (`close()` gives the
  connection back), so the floor's readers (UI, MCP, event stream) do not pay a new login each.

`connect()` turns what can go wrong into one sentence (`StorageUnavailable`): a refused connection, a
missing database, bad credentials, a malformed URL.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ledger.dialect import postgres

COPY_MIN_ROWS = 8
_INSERT = re.compile(r"\s*INSERT\s+INTO\s+(\w+)\s*(\(([^)]*)\))?\s*VALUES\s*\(([^)]*)\)\s*$", re.I | re.S)
_pools: dict[str, Any] = {}
# psycopg and its pool report a lost server as warnings too; without a logging setup they would reach stderr beside
# the one sentence the caller gets (an application that configures logging still sees them)
logging.getLogger("psycopg").addHandler(logging.NullHandler())
_pools_lock = threading.Lock()


# the advisory lock that serializes schema changes in a database (a class of its own: the run lease uses another)
_DDL_LOCK = (29799, 0)


@contextlib.contextmanager
def schema_change_lock(raw: Any, poll: float = 0.02) -> Iterator[None]:
    """Hold the database's schema-change lock around `CREATE ... IF NOT EXISTS` statements (`raw`: a
    psycopg connection). PostgreSQL's IF NOT EXISTS is not safe against a concurrent identical CREATE: of
    two processes creating one table at once, the second fails on the catalog's unique index
    (`pg_type_typname_nsp_index`) instead of finding it there.

    Outside a transaction the lock is the session's and a waiter polls for it between short statements:
    a holder running LangGraph's `CREATE INDEX CONCURRENTLY` waits for every open transaction, so a
    waiter blocked inside one would deadlock with it. Inside a transaction the lock is the transaction's
    (it then covers the DDL until COMMIT)."""
    if raw.info.transaction_status != 0:  # in a transaction: held until it ends
        raw.execute("SELECT pg_advisory_xact_lock(%s, %s)", _DDL_LOCK)
        yield
        return
    from psycopg.rows import tuple_row

    with raw.cursor(row_factory=tuple_row) as cur:  # the checkpoint connection's rows are dicts
        while not cur.execute("SELECT pg_try_advisory_lock(%s, %s)", _DDL_LOCK).fetchone()[0]:
            time.sleep(poll)
    try:
        yield
    finally:
        if not raw.closed:
            raw.execute("SELECT pg_advisory_unlock(%s, %s)", _DDL_LOCK)


class StorageUnavailable(RuntimeError):
    """The PostgreSQL server or database cannot be used; the message is one sentence saying why."""


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (a literal `%` doubled); quoted text is left alone."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            j = sql.index(ch, i + 1) + 1 if ch in sql[i + 1:] else n
            out.append(sql[i:j].replace("%", "%%"))
            i = j
            continue
        out.append("%s" if ch == "?" else "%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=256)
def copy_target(sql: str) -> tuple[str, str] | None:
    """(table, column list) of a plain multi-row INSERT that COPY can replace, else None."""
    m = _INSERT.match(sql)
    if m is None or set(m[4].replace(",", " ").split()) != {"?"}:
        return None
    return m[1], (m[3] or "").strip()


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def split_schema(url: str) -> tuple[str, str | None]:
    """Our own `schema=` query parameter (the run's namespace in a shared database) split off the URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(rest))), schema


def describe(exc: BaseException, url: str) -> str:
    """One sentence for a failed connection."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = redact(url)
    low = text.lower()
    if "does not exist" in low and "database" in low:
        return f"PostgreSQL database missing at {where}: {text} (create it with `createdb`)"
    if "connection refused" in low or "no such file or directory" in low or "could not connect" in low:
        return f"PostgreSQL server not reachable at {where}: {text}"
    if "password" in low or "authentication" in low or "role" in low:
        return f"PostgreSQL refused the login at {where}: {text}"
    if "invalid" in low or "missing" in low:
        return f"not a usable PostgreSQL URL ({where}): {text}"
    return f"PostgreSQL at {where} failed: {text}"


def _pool(url: str):
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            # `check`: a connection idle in the pool is tested before it is handed out, so one left over
            # from before a server restart is replaced instead of failing the first query
            pool = ConnectionPool(url, min_size=0, max_size=16, kwargs={"autocommit": True}, open=True,
                                  timeout=10, reconnect_timeout=5, name="trading-floor-ledger",
                                  check=ConnectionPool.check_connection)
            _pools[url] = pool
        return pool


def connect(url: str, *, pooled: bool = True, timeout: float = 10.0, create_schema: bool = True) -> PgConnection:
    """A ledger connection to `url` (`?schema=name` puts the ledger's tables in that schema, created if
    missing unless `create_schema` is False: a reader asking whether a run is there leaves no empty schema
    behind). Raises StorageUnavailable with one sentence when the server or the database is not usable."""
    import psycopg

    base, schema = split_schema(url)
    try:
        if pooled and base not in _pools:  # a first connection says at once what is wrong (the pool would
            psycopg.connect(base, autocommit=True, connect_timeout=max(1, int(timeout))).close()  # retry)
        if pooled:
            pool = _pool(base)
            raw = pool.getconn(timeout=min(timeout, 3.0))
        else:
            pool = None
            raw = psycopg.connect(base, autocommit=True, connect_timeout=max(1, int(timeout)))
    except psycopg.ProgrammingError as exc:  # a malformed URL
        raise StorageUnavailable(describe(exc, url)) from None
    except Exception as exc:  # noqa: BLE001 - psycopg.OperationalError, psycopg_pool.PoolTimeout
        cause = exc
        if pooled:  # the pool only says it timed out: ask once directly for the server's own reason
            try:
                psycopg.connect(base, autocommit=True, connect_timeout=2).close()
            except Exception as direct:  # noqa: BLE001
                cause = direct
        raise StorageUnavailable(describe(cause, url)) from None
    conn = PgConnection(raw, pool, url)
    if schema:
        if create_schema:
            with schema_change_lock(raw):
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
    return conn


class PgConnection:
    """A psycopg connection with the sqlite3 subset the ledger calls (see the module docstring)."""

    def __init__(self, raw: Any, pool: Any, url: str):
        self.raw = raw
        self.pool = pool
        self.url = url
        self.dialect = postgres()

    def execute(self, sql: str, params: Sequence[Any] | None = ()) -> Any:
        if params:
            return self.raw.execute(translate(sql), params)
        return self.raw.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return None
        target = copy_target(sql) if len(rows) >= COPY_MIN_ROWS else None
        cur = self.raw.cursor()
        if target is None:
            cur.executemany(translate(sql), rows)
            return cur
        table, cols = target
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN" if cols else f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return cur

    def commit_without_waiting(self) -> None:
        """From now on, this session's commits return before their WAL reaches the disk
        (`synchronous_commit = off`: a server crash may lose the last ones, never half of one). Only for a
        writer whose every commit is followed by a synchronous commit on another session that makes it
        durable (floor/database.py `pair_commits`); the pool resets it when the connection goes back."""
        self.raw.execute("SET synchronous_commit = off")

    def executescript(self, sql: str) -> None:
        self.raw.execute(sql)

    def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is None:
            return
        if self.pool is None:
            raw.close()
            return
        try:
            if raw.info.transaction_status != 0:  # not idle: end what was left open before pooling it
                raw.rollback()
            raw.execute("RESET ALL")
        except Exception:  # noqa: BLE001 - a broken connection: the pool replaces it
            pass
        self.pool.putconn(raw)

    def __del__(self) -> None:  # a Ledger dropped without close(): its connection goes back to the pool
        try:  # noqa: SIM105 - at interpreter shutdown even `contextlib` may be gone
            self.close()
        except Exception:  # noqa: BLE001
            pass

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != 0
