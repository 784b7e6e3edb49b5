"""The throwaway PostgreSQL server of the tests (tests/pg_server.py): unix socket only, not root,
and gone at the end of a session even when that session failed or was killed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]


def test_server_is_postgres_15_on_a_socket_only(pg_url):
    with psycopg.connect(pg_url) as c:
        assert c.execute("SHOW server_version").fetchone()[0].startswith("15")
        assert c.execute("SHOW listen_addresses").fetchone()[0] == ""
        assert c.execute("SELECT inet_server_addr()").fetchone()[0] is None  # a unix-socket connection
        if os.geteuid() == 0:  # the server refuses to run as root: it runs as another user
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            assert os.stat(f"/proc/{pid}").st_uid != 0


def test_each_test_gets_its_own_database(pg_server):
    a, b = pg_server.create_database(), pg_server.create_database()
    with psycopg.connect(a) as ca:
        ca.execute("CREATE TABLE t (x int)")
    with psycopg.connect(b) as cb:
        assert cb.execute("SELECT to_regclass('t')").fetchone()[0] is None


def _postmasters(root_prefix: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "postgres -D" in line and root_prefix in line]


def _inner_session(tmp_path: Path, body: str) -> subprocess.Popen:
    (tmp_path / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n"
                                          "from pg_server import pg_server, pg_url  # noqa\n")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(body))
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_server_stops_after_a_failed_session(tmp_path):
    proc = _inner_session(tmp_path, """
        def test_fails(pg_url, pg_server):
            open({!r}, "w").write(str(pg_server.root))
            assert False, "on purpose"
    """.format(str(tmp_path / "root.txt")))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    root = (tmp_path / "root.txt").read_text()
    assert not _postmasters(root)
    deadline = time.monotonic() + 30
    while Path(root).exists() and time.monotonic() < deadline:  # its files go in the background
        time.sleep(0.1)
    assert not Path(root).exists()


def test_server_stops_after_the_session_is_killed(tmp_path):
    marker = tmp_path / "root.txt"
    proc = _inner_session(tmp_path, f"""
        import time
        def test_hangs(pg_url, pg_server):
            open({str(marker)!r}, "w").write(str(pg_server.root))
            time.sleep(600)
    """)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    root = marker.read_text()
    assert _postmasters(root)
    proc.kill()  # SIGKILL: no atexit, no fixture teardown; the watchdog stops the server
    proc.wait()
    deadline = time.monotonic() + 30
    while _postmasters(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postmasters(root)
