"""The single-writer lease of a run database: exactly one process advances its cycles at a time.

The lease is one row of `floor_lease` in the run database itself, so it travels with the file and every
surface sees it: the command line, the chat UI, `langgraph dev` and the event server's cycle runner.

- **Acquire** is atomic (`BEGIN IMMEDIATE`): read the row, and write ours only when the row is empty,
  ours, or its holder is dead. The holder is recorded: pid, host, command line, since, heartbeat.
- **Dead holders** are taken over safely. On this host a holder is dead when its pid is gone or now
  belongs to another process (the process start time is recorded beside the pid). A holder on another
  host is dead when its heartbeat is older than `STALE_AFTER_S`.
- **Heartbeat**: a daemon thread renews it every `HEARTBEAT_S` on a connection of its own, so a cycle
  that waits minutes for an LLM keeps its lease.
- **Fencing**: every takeover increments `epoch`. The settle node checks, inside the cycle's own write
  transaction, that the row still carries our token (`assert_held`), so a writer that lost its lease can
  never commit a cycle over its successor's.

On PostgreSQL (`--db postgresql://...`) the lock itself is a session-level advisory lock, taken by the
lease's own connection and held for as long as that connection lives: the server frees it the moment the
holder's process dies (kill -9, a dropped socket), with no pid or heartbeat guessing. The `floor_lease`
row is still written, in the same schema as the run's ledger, so every surface can name the holder, and
fencing (`assert_held`) works unchanged. The heartbeat connection is the lock's connection; if it breaks
(the server restarted), the lock is gone, so the lease counts as lost.

Inside one process the lease is shared: sessions of one process on one database (two chat tabs, a test
with two sessions) hold it together, counted, and serialise among themselves as they always have.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ledger.dialect import dialect_of, is_url

HEARTBEAT_S = 5.0
STALE_AFTER_S = 30.0  # a holder on another host whose heartbeat is older than this is presumed dead
_PG_LOCK_CLASS = 0x7466  # "tf": the first key of trading-floor's advisory locks

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    proc_start TEXT,
    host TEXT NOT NULL,
    command TEXT NOT NULL,
    accepts_commands INTEGER NOT NULL,
    since REAL NOT NULL,
    heartbeat REAL NOT NULL
)
"""


class LeaseHeld(RuntimeError):
    """Another live process owns the run database."""

    def __init__(self, holder: Holder, db_path: str) -> None:
        self.holder, self.db_path = holder, db_path
        super().__init__(f"{db_path} is in use: {holder.describe()} is advancing its cycles; "
                         "wait for it to finish, pause it (`trading-floor pause`), or retry with --wait")


class LeaseLost(RuntimeError):
    """This process no longer holds the lease (a successor took it over): it must stop writing."""


@dataclass(frozen=True)
class Holder:
    token: str
    epoch: int
    pid: int
    proc_start: str | None
    host: str
    command: str
    accepts_commands: bool
    since: float
    heartbeat: float

    def describe(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{where} (`{self.command}`, since {since})"

    def alive(self, now: float | None = None) -> bool:
        if self.host == socket.gethostname():
            return _process_alive(self.pid, self.proc_start)
        return (now if now is not None else time.time()) - self.heartbeat < STALE_AFTER_S


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), which tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, proc_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process, but alive
    if proc_start is None:
        return True
    now_start = _proc_start(pid)
    if now_start is None:
        return True  # no /proc: trust the pid
    # a zombie (killed, not yet reaped by its parent) has exited: it writes nothing any more
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return now_start == proc_start and state != "Z"


def command_line() -> str:
    """How the running process was started, for the lease's holder record: `trading-floor run --cycles 60`."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("trading-floor", "cli.py", "__main__.py"):
        argv[0] = "trading-floor"
    text = " ".join(argv) or "python"
    return text if len(text) <= 200 else text[:197] + "..."


def _connect(db_path: str) -> sqlite3.Connection:
    """A connection of the lease's own to an existing run database (never creates one: a `reset` that
    deleted the file must not see it come back when the lease is released). On PostgreSQL: a connection
    of its own (not pooled: it holds the advisory lock for the lease's whole life)."""
    if is_url(db_path):
        from ledger.pg_connection import connect

        return connect(db_path, pooled=False)
    conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=rw", uri=True, isolation_level=None,
                           check_same_thread=False, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    d = dialect_of(conn)
    with d.schema_change(conn):
        conn.execute(d.raw_ddl(SCHEMA))


def _pg_lock_key(conn) -> tuple[int, int]:
    """The advisory lock of this run database: (a constant for trading-floor, a hash of the schema the
    run's tables live in), so floors in other schemas of the same database never contend."""
    (schema,) = conn.execute("SELECT current_schema()").fetchone()
    digest = hashlib.blake2b(str(schema).encode(), digest_size=4).digest()
    return _PG_LOCK_CLASS, int.from_bytes(digest, "big", signed=True)


def _pg_lock_held(conn) -> bool:
    """Does any session hold this run database's advisory lock (its holder is then alive)?"""
    k1, k2 = _pg_lock_key(conn)
    return conn.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = ? "
                        "AND objid::bigint = ? AND objsubid = 2 AND granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())",
                        (k1 & 0xFFFFFFFF, k2 & 0xFFFFFFFF)).fetchone() is not None


def read_holder(conn: sqlite3.Connection) -> Holder | None:
    try:
        row = conn.execute("SELECT token, epoch, pid, proc_start, host, command, accepts_commands, since, "
                           "heartbeat FROM floor_lease WHERE id = 1").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    except dialect_of(conn).errors as exc:  # PostgreSQL: no such table
        if "does not exist" in str(exc):
            return None
        raise
    return None if row is None else Holder(*row[:6], bool(row[6]), *row[7:])


def live_holder(conn: sqlite3.Connection) -> Holder | None:
    """The current holder if it is alive, else None (a dead holder's row may still be there)."""
    holder = read_holder(conn)
    if holder is not None and dialect_of(conn).name == "postgresql":
        return holder if _pg_lock_held(conn) else None
    return holder if holder is not None and holder.alive() else None


class Lease:
    """This process's hold on one run database. Use `acquire_lease(db_path)`; release when done."""

    def __init__(self, db_path: str, key: str, holder: Holder, conn=None) -> None:
        self.db_path, self.key, self.holder = db_path, key, holder
        self.users = 1
        self.lost: str | None = None
        self._stop = threading.Event()
        self._pg = conn is not None  # PostgreSQL: `conn` holds the advisory lock and beats the heart
        self._conn_lock = threading.Lock()
        self._conn = conn or _connect(db_path)  # the heartbeat's own connection, opened before anything can go
        self._thread = threading.Thread(target=self._beat, name="floor-lease-heartbeat", daemon=True)
        self._thread.start()

    @property
    def token(self) -> str:
        return self.holder.token

    def _beat(self) -> None:
        conn = self._conn
        try:
            while not self._stop.wait(HEARTBEAT_S):
                try:
                    with self._conn_lock:
                        n = conn.execute("UPDATE floor_lease SET heartbeat = ? WHERE id = 1 AND token = ?",
                                         (time.time(), self.token)).rowcount
                except sqlite3.Error:  # a busy or vanished file: try again at the next beat
                    continue
                except Exception:  # noqa: BLE001 - PostgreSQL: the lock's connection broke, the lock is gone
                    if self._pg:
                        self.lost = "the connection holding this run's PostgreSQL lock broke"
                        return
                    raise
                if n == 0:
                    self.lost = "another process took over this run database's lease"
                    return
        finally:
            if not self._pg:
                conn.close()

    def assert_held(self, conn: sqlite3.Connection) -> None:
        """Inside the caller's write transaction: raise LeaseLost unless the row still carries our token."""
        row = conn.execute("SELECT token FROM floor_lease WHERE id = 1").fetchone()
        if row is None or row[0] != self.token:
            self.lost = "another process took over this run database's lease"
            raise LeaseLost(f"{self.db_path}: {self.lost}; this process stops writing")

    def release(self) -> None:
        with _REGISTRY_LOCK:
            self.users -= 1
            if self.users > 0:
                return
            _REGISTRY.pop(self.key, None)
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_S + 1)
        if self._pg:
            self._release_pg()
            return
        try:
            conn = _connect(self.db_path)
        except sqlite3.Error:
            return  # the file went away (reset): its lease went with it
        try:
            conn.execute("DELETE FROM floor_lease WHERE id = 1 AND token = ?", (self.token,))
        except sqlite3.Error:
            pass  # cannot be written now: the row names this pid, and a dead pid frees the lease anyway
        finally:
            conn.close()


    def _release_pg(self) -> None:
        conn = self._conn
        try:
            conn.execute("DELETE FROM floor_lease WHERE id = 1 AND token = ?", (self.token,))
            conn.execute("SELECT pg_advisory_unlock(?, ?)", _pg_lock_key(conn))
        except Exception:  # noqa: BLE001 - a broken connection: the server already dropped the lock
            pass
        finally:
            conn.close()


class PrivateLease:
    """The lease of a ":memory:" database, which only its own connection can see."""

    token = "private"

    def assert_held(self, conn: sqlite3.Connection) -> None:
        pass

    def release(self) -> None:
        pass


_REGISTRY: dict[str, Lease] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(db_path: str) -> str:
    return db_path if is_url(db_path) else str(Path(db_path).resolve())


def held_here(db_path: str) -> Lease | None:
    """The lease this process holds on `db_path`, if any."""
    if db_path == ":memory:":
        return PrivateLease()
    with _REGISTRY_LOCK:
        return _REGISTRY.get(_key(db_path))


def acquire_lease(db_path: str, *, command: str | None = None, accepts_commands: bool = True,
                  wait: float = 0.0, poll: float = 0.2, on_wait=None) -> Lease:
    """Take the run database's lease, or raise LeaseHeld naming the live holder.

    `wait` > 0 queues: retry until the lease is free or `wait` seconds have passed (`float('inf')` waits
    for ever); `on_wait(holder)` is told once who is being waited for.
    """
    if db_path == ":memory:":
        return PrivateLease()  # a private in-memory database has no other writer to keep out
    key = _key(db_path)
    with _REGISTRY_LOCK:
        mine = _REGISTRY.get(key)
        if mine is not None:
            mine.users += 1
            return mine
    deadline = time.monotonic() + wait
    told = False
    conn = _connect(db_path)
    if dialect_of(conn).name == "postgresql":
        return _acquire_pg(conn, db_path, key, command or command_line(), accepts_commands, deadline, poll, on_wait)
    try:
        ensure_schema(conn)
        while True:
            try:
                holder = _try_acquire(conn, command or command_line(), accepts_commands)
            except LeaseHeld as held:
                if time.monotonic() >= deadline:
                    raise LeaseHeld(held.holder, db_path) from None
                if on_wait is not None and not told:
                    on_wait(held.holder)
                    told = True
                time.sleep(poll)
                continue
            break
    finally:
        conn.close()
    lease = Lease(db_path, key, holder)
    with _REGISTRY_LOCK:
        _REGISTRY[key] = lease
    return lease


def _acquire_pg(conn, db_path: str, key: str, command: str, accepts_commands: bool, deadline: float,
                poll: float, on_wait) -> Lease:
    """The PostgreSQL lease: the advisory lock, then our holder row (written while we hold the lock)."""
    told = False
    try:
        ensure_schema(conn)
        k1, k2 = _pg_lock_key(conn)
        while not conn.execute("SELECT pg_try_advisory_lock(?, ?)", (k1, k2)).fetchone()[0]:
            holder = read_holder(conn) or Holder("?", 0, 0, None, "?", "another process", False, 0.0, 0.0)
            if time.monotonic() >= deadline:
                raise LeaseHeld(holder, db_path)
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(poll)
        d = dialect_of(conn)
        conn.execute(d.begin_write)
        try:
            current = read_holder(conn)
            now, pid = time.time(), os.getpid()
            holder = Holder(uuid.uuid4().hex, (current.epoch if current else 0) + 1, pid, _proc_start(pid),
                            socket.gethostname(), command, accepts_commands, now, now)
            conn.execute(d.insert_or_replace("floor_lease", "id, token, epoch, pid, proc_start, host, command, "
                                             "accepts_commands, since, heartbeat", "id"),
                         (1, holder.token, holder.epoch, holder.pid, holder.proc_start, holder.host, holder.command,
                          int(holder.accepts_commands), holder.since, holder.heartbeat))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except BaseException:
        conn.close()  # closing the session frees the advisory lock, if it was taken
        raise
    lease = Lease(db_path, key, holder, conn)
    with _REGISTRY_LOCK:
        _REGISTRY[key] = lease
    return lease


def _try_acquire(conn: sqlite3.Connection, command: str, accepts_commands: bool) -> Holder:
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = read_holder(conn)
        if current is not None and current.alive():
            raise LeaseHeld(current, "the run database")
        now = time.time()
        pid = os.getpid()
        holder = Holder(uuid.uuid4().hex, (current.epoch if current else 0) + 1, pid, _proc_start(pid),
                        socket.gethostname(), command, accepts_commands, now, now)
        conn.execute("INSERT OR REPLACE INTO floor_lease (id, token, epoch, pid, proc_start, host, command, "
                     "accepts_commands, since, heartbeat) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (holder.token, holder.epoch, holder.pid, holder.proc_start, holder.host, holder.command,
                      int(holder.accepts_commands), holder.since, holder.heartbeat))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return holder
