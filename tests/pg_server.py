"""A throwaway PostgreSQL 15 server for the tests: `initdb` in a temporary directory, unix socket only.

* As root (CI containers), `initdb` and `postgres` refuse to run, so both run as an unprivileged user
  (`postgres` from the Debian package if it exists, else `nobody`) through `setpriv`/`runuser`; the
  temporary directory is handed to that user.
* `listen_addresses=''`: no TCP port at all; clients connect through the socket in the data directory
  (`postgresql://postgres@/db?host=<dir>`).
* fsync, full_page_writes and synchronous_commit are off: the data is thrown away at the end, and
  the tests measure behaviour, not durability of the test server (`kill -9` tests kill our clients).
  The benchmarks start it with `durable=True` (PostgreSQL's defaults) for honest figures.
* `PgServer.stop()` runs at the end of the session, and also from `atexit`, so the server goes away
  even when pytest is interrupted; `stop` is a fast shutdown, then SIGKILL of the postmaster if
  it has not gone within 10 s.

`make test` makes sure the Debian package is there (Makefile target `postgres`). When the binaries
are missing, `find_bin()` returns None and the fixture fails with that sentence (never skips).
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def find_bin() -> Path | None:
    env = os.environ.get("TRADING_FLOOR_PG_BIN")
    for d in ((env,) if env else PG_BIN_DIRS):
        if d and (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists():
            return Path(d)
    return None


def _run_as() -> tuple[list[str], str | None]:
    """(command prefix, user name) to run the server as a non-root user; ([], None) when not root."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("setpriv"):
            pw = pwd.getpwnam(name)
            return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"], name
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], name
    raise RuntimeError("running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


class PgServer:
    """One server in a fresh temporary directory; `url(db)` for a database on it."""

    def __init__(self, bin_dir: Path, *, durable: bool = False):
        self.bin = bin_dir
        self.durable = durable  # the benchmarks measure with PostgreSQL's default durability
        self.root = Path(tempfile.mkdtemp(prefix="tf-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.proc: subprocess.Popen | None = None
        self.prefix, self.user = _run_as()
        self.log = self.root / "server.log"
        self._watched = False

    def _as_user(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, *cmd], check=True, capture_output=True, text=True, **kw)

    def start(self) -> PgServer:
        self.sock.mkdir()
        if self.user:
            pw = pwd.getpwnam(self.user)
            for p in (self.root, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self.root.chmod(0o755)
        self._as_user([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"])
        return self._launch()

    def kill(self) -> None:
        """The server goes away at once (SIGKILL of the postmaster and its backends): clients see
        their connections drop. Its data directory stays, for `restart()`."""
        proc, self.proc = self.proc, None
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for f in self.sock.glob(".s.PGSQL.*"):
            f.unlink(missing_ok=True)

    def restart(self) -> PgServer:
        """The server back on the same data directory (crash recovery replays its WAL)."""
        return self._launch()

    def _launch(self) -> PgServer:
        log = open(self.log, "ab")  # noqa: SIM115 - the server writes it for its whole life
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.log, pw.pw_uid, pw.pw_gid)
        self.proc = subprocess.Popen(
            [*self.prefix, str(self.bin / "postgres"), "-D", str(self.data), "-k", str(self.sock),
             "-c", "listen_addresses=", "-c", "max_connections=200", "-c", "shared_buffers=128MB",
             *(() if self.durable else ("-c", "fsync=off", "-c", "full_page_writes=off",
                                        "-c", "synchronous_commit=off"))],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not self._watched:
            self._watched = True
            atexit.register(self.stop)
            self._watch()
        return self._wait_ready()

    def _watch(self) -> None:
        # A watchdog outlives a pytest killed with SIGKILL (no atexit then): it stops the server when
        # this process is gone (the postmaster of the moment, from its pid file: a restart changes it).
        pidfile = self.data / "postmaster.pid"
        subprocess.Popen(["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                          f"pm=$(head -1 '{pidfile}' 2>/dev/null); [ -n \"$pm\" ] && kill -QUIT $pm 2>/dev/null; "
                          f"sleep 10; [ -n \"$pm\" ] && kill -KILL $pm 2>/dev/null; rm -rf '{self.root}'"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def _wait_ready(self) -> PgServer:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start: {self.log.read_text()[-2000:]}")
            if (self.sock / ".s.PGSQL.5432").exists() and self._ready():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not start within 30 s: {self.log.read_text()[-2000:]}")

    def _ready(self) -> bool:
        r = subprocess.run([str(self.bin / "pg_isready"), "-h", str(self.sock), "-U", "postgres", "-q"],
                           capture_output=True)
        return r.returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.sock}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown: the data is thrown away anyway
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        # thousands of small files (a schema per property-test example): removed in the background, so the
        # session ends now; the watchdog would remove them too
        subprocess.Popen(["rm", "-rf", str(self.root)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)


# ---------------------------------------------------------------- pytest fixtures (tests/conftest.py imports them)
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server, started on first use and stopped at the end (even after failures)."""
    bin_dir = find_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL 15 binaries are missing (/usr/lib/postgresql/15/bin): run `make postgres`")
    server = PgServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh empty database on the session's server, dropped after the test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1].split("?")[0])
