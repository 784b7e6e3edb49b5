"""The run database: ONE SQLite file (or one PostgreSQL database, `--db postgresql://...`) holds the ledger, the books' history, the threads, the lease, the
control commands and LangGraph's checkpoints (tables `checkpoints` and `writes`).

One file means a copy, a move or a backup of `--db runs/floor.db` always carries a ledger with its own
checkpoints. Earlier versions kept the checkpoints in a second file beside it (`floor.checkpoints.db`);
such a pair is merged into the run database the first time a writer opens it (`merge_legacy_checkpoints`),
and the old file is renamed `*.checkpoints.db.merged`.

What still can go wrong is a file whose two halves disagree: checkpoints missing for a thread the ledger
knows (a file put together by hand, or tables dropped), or a checkpoint past the end of the ledger. Those
are refused when a session opens the file (`has_checkpoints`, `missing_checkpoints_message`) with a sentence
that points to `trading-floor doctor`, which checks every thread's checkpoint against the ledger.
"""
from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path
from typing import Any

from ledger.dialect import is_url
from ledger.store import use_wal

LEGACY_SUFFIX = ".checkpoints.db"
DEFAULT_DB = Path("runs/floor.db")  # the command line's run database (`--db`); floor.session names it too


class RunDatabaseError(RuntimeError):
    """The run database cannot be used as it is; the sentence says why and what to do."""


def run_database_exists(db_path: str | Path) -> bool:
    """A SQLite file is there, or a PostgreSQL URL's database (and `?schema=`) holds a ledger."""
    if not is_url(str(db_path)):
        return Path(db_path).exists()
    from ledger.pg_connection import connect

    conn = connect(str(db_path))
    try:
        return conn.dialect.has_table(conn, "runs")
    finally:
        conn.close()


def open_queue_connection(db_path: str) -> Any:
    """The connection the order-intent queue writes on (autocommit): sqlite3, or a pooled PgConnection."""
    if is_url(db_path):
        from ledger.pg_connection import connect

        return connect(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def legacy_checkpoint_path(db_path: str) -> Path:
    return Path(db_path).with_suffix(LEGACY_SUFFIX)


def checkpoint_schema(url: str) -> str:
    """Where LangGraph's PostgresSaver keeps a run's checkpoints: a schema of their own beside the ledger's
    (`<ledger schema>_checkpoints`, `checkpoints` for a ledger in the default schema), in the same database."""
    from urllib.parse import parse_qsl, urlsplit

    schema = dict(parse_qsl(urlsplit(url).query)).get("schema")
    return f"{schema}_checkpoints" if schema else "checkpoints"


def pg_run_schemas(url: str) -> list[str]:
    """The schemas a `?schema=` run database is made of (ledger and checkpoints) that exist on the server.
    Raises RunDatabaseError for a URL without `?schema=`: its tables share the database's default schema
    with whatever else lives there, so `reset` does not guess which to drop."""
    import psycopg

    from ledger.pg_connection import StorageUnavailable, describe, redact, split_schema

    base, schema = split_schema(url)
    if not schema:
        raise RunDatabaseError(
            f"reset drops a run's schemas, and {redact(url)} names none (its tables are in the database's default "
            "schema, beside anything else there): add `?schema=name` to the URL you run with, or drop the database "
            "itself with `dropdb`")
    wanted = [schema, checkpoint_schema(url)]
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
            found = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (wanted,))}
    except psycopg.Error as exc:
        raise StorageUnavailable(describe(exc, url)) from None
    return [s for s in wanted if s in found]


def drop_pg_run(url: str, schemas: list[str]) -> None:
    """Drop a run's schemas (ledger, threads, lease, commands, LLM cache, and checkpoints) in one transaction."""
    import psycopg

    from ledger.pg_connection import split_schema

    with psycopg.connect(split_schema(url)[0], connect_timeout=10) as conn, conn.transaction():
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def connect_pg_checkpoints(url: str):
    """A psycopg connection as PostgresSaver wants it (autocommit, no prepared statements, dict rows), with
    its search path on the run's checkpoint schema (created if missing). One sentence on failure."""
    import psycopg
    from psycopg.rows import dict_row

    from ledger.pg_connection import StorageUnavailable, describe, schema_change_lock, split_schema

    base, _ = split_schema(url)
    schema = checkpoint_schema(url)
    try:
        conn = psycopg.connect(base, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        raise StorageUnavailable(describe(exc, url)) from None
    with schema_change_lock(conn):
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def make_saver(conn, lock=None, *, readonly: bool = False):
    """LangGraph's checkpointer on a run database's checkpoint connection: SqliteSaver on SQLite,
    PostgresSaver on PostgreSQL (langgraph is imported here, when a graph is first compiled); values are
    compressed (floor/checkpoint_serde.py)."""
    from floor.checkpoint_serde import CompressedSerializer

    if not isinstance(conn, sqlite3.Connection):
        from langgraph.checkpoint.postgres import PostgresSaver

        saver = PostgresSaver(conn, serde=CompressedSerializer())
        _keep_put_writes_signature(saver)
        if not readonly:
            from ledger.pg_connection import schema_change_lock

            with schema_change_lock(conn):  # idempotent, but not against a concurrent setup
                saver.setup()  # its own migrations table
        return saver
    from floor.latest_checkpoint_saver import LatestCheckpointSaver

    saver = LatestCheckpointSaver(conn, serde=CompressedSerializer())
    _keep_put_writes_signature(saver)
    if lock is not None:
        saver.lock = lock
    if readonly:
        saver.is_setup = True  # its setup creates tables and sets WAL: a reader only reads them
    return saver


def _keep_put_writes_signature(saver) -> None:
    """LangGraph asks `inspect.signature(saver.put_writes)` at the start of every invoke (whether the saver
    takes `task_path`), and inspect works it out from the code each time: about 50 us, 0.3% of a rule
    cycle. The saver's `put_writes` becomes a function that calls the same bound method and carries the
    signature worked out once (`__signature__`, which inspect returns as it is)."""
    bound = saver.put_writes

    def put_writes(*args: Any, **kwargs: Any) -> Any:
        return bound(*args, **kwargs)

    put_writes.__signature__ = inspect.signature(bound)
    saver.put_writes = put_writes


def pair_commits(ledger_conn: Any, checkpoint_conn: Any) -> None:
    """A floor session on PostgreSQL: its ledger commits stop waiting for the disk; its checkpoints still do.

    Each cycle commits its ledger rows first and its checkpoint after them, on another session, with
    PostgreSQL's default `synchronous_commit = on`. Flushing the checkpoint's commit flushes all WAL written
    before it, the ledger's commits included; so a server crash can lose only ledger commits that no
    checkpoint follows yet (the cycle in progress, which the run does again from its last checkpoint, as
    after a killed process), and never leaves a checkpoint ahead of its ledger. What it saves: the second
    WAL flush per cycle, most of a settlement's time on a durable server (docs/scale.md). SQLite's
    synchronous=NORMAL in WAL mode (the ledger's) makes the same trade. A bare `Ledger.open(url)` keeps
    durable commits."""
    relax = getattr(ledger_conn, "commit_without_waiting", None)
    if relax is not None and not isinstance(checkpoint_conn, sqlite3.Connection):
        relax()


def connect_checkpoints(db_path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection for LangGraph's SqliteSaver on the run database itself (PostgreSQL: for PostgresSaver,
    in the run's checkpoint schema; see `connect_pg_checkpoints`)."""
    if is_url(db_path):
        return connect_pg_checkpoints(db_path)
    if db_path == ":memory:":
        return sqlite3.connect(":memory:", check_same_thread=False)
    if readonly:
        source = Path(db_path)
        legacy = legacy_checkpoint_path(db_path)
        if legacy.exists() and not _has_table(source, "checkpoints"):
            source = legacy  # an earlier version's pair, not merged yet (only a writer merges)
        conn = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, check_same_thread=False)
        use_wal(conn)  # as the ledger's writer
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _has_table(path: Path, table: str) -> bool:
    conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None
    finally:
        conn.close()


def merge_legacy_checkpoints(db_path: str) -> bool:
    """Move a `floor.checkpoints.db` left by an earlier version into the run database (once, atomically)."""
    if db_path == ":memory:" or is_url(db_path):
        return False
    legacy = legacy_checkpoint_path(db_path)
    if not legacy.exists():
        return False
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("ATTACH DATABASE ? AS legacy", (str(legacy),))
        tables = {r[0] for r in conn.execute("SELECT name FROM legacy.sqlite_master WHERE type = 'table'")}
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("checkpoints", "writes"):
                if table not in tables:
                    continue
                ddl = conn.execute("SELECT sql FROM legacy.sqlite_master WHERE name = ?", (table,)).fetchone()[0]
                conn.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
                conn.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM legacy.{table}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE legacy")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(legacy) + suffix).unlink(missing_ok=True)
    legacy.rename(str(legacy) + ".merged")
    return True


def has_checkpoints(conn: sqlite3.Connection, thread_id: str) -> bool:
    if not isinstance(conn, sqlite3.Connection):  # PostgreSQL (PostgresSaver's `checkpoints` table)
        import psycopg

        try:
            return conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (thread_id,)).fetchone() \
                is not None
        except psycopg.errors.UndefinedTable:
            return False
    try:
        return conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread_id,)).fetchone() \
            is not None
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False
        raise


def missing_checkpoints_message(db_path: str, thread_id: str) -> str:
    return (f"{db_path} has a ledger for thread {thread_id} but none of its checkpoints (was the database put "
            "together from parts, or copied without its old `.checkpoints.db` file?): refusing to start "
            "over on it; `trading-floor doctor --repair` rebuilds the checkpoint from the ledger")
