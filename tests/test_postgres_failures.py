"""What goes wrong with a PostgreSQL ledger, and what the user sees: one sentence, and no half cycle.

A wrong URL, a refused connection (no server on the socket), a missing database: `Ledger.open` raises
`StorageUnavailable` whose message is one line naming the problem and the URL (never the password).
A server killed (SIGKILL) in the middle of a run: the writer's next call fails; once the server is back,
a reopened ledger holds exactly the cycles committed before, and the run goes on from there.
"""
from __future__ import annotations

import tempfile
import uuid

import pytest
from pg_server import PgServer, find_bin

from ledger.pg_connection import StorageUnavailable
from ledger.store import Ledger
from ledger.types import Fill


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_missing_database_is_one_sentence(pg_server):
    url = pg_server.url("no_such_db")
    with pytest.raises(StorageUnavailable) as err:
        Ledger.open(url)
    assert _one_line(err.value).startswith("PostgreSQL database missing at") and "no_such_db" in str(err.value)


def test_refused_connection_is_one_sentence():
    empty = tempfile.mkdtemp()  # a socket directory with no server in it
    with pytest.raises(StorageUnavailable) as err:
        Ledger.open(f"postgresql://postgres@/floor?host={empty}")
    assert _one_line(err.value).startswith("PostgreSQL server not reachable at")


def test_malformed_url_and_password_never_shown(pg_server):
    with pytest.raises(StorageUnavailable) as err:
        Ledger.open("postgresql://postgres:s3cret@/floor?host=/nonexistent&sslmode=bogus")
    assert "s3cret" not in _one_line(err.value)


def _batch(c: int) -> list[Fill]:
    return [Fill(f"F{c}-{i}", c, i, "AAA", 100 + c % 5, 1 + i % 3, "a", "b") for i in range(200)]


def test_server_killed_mid_run_then_back_resumes_from_the_last_committed_cycle():
    server = PgServer(find_bin(), durable=True).start()  # a server of its own: this test kills it
    try:
        url = f"{server.create_database('crash')}&schema=s_{uuid.uuid4().hex[:6]}"
        led = Ledger.open(url, symbols=["AAA"])
        led.start_run(config={}, seed=1)
        led.open_account("a", cash=10**10)
        led.open_account("b", cash=0, holdings={"AAA": 10**7})
        for c in (1, 2, 3):
            assert led.settle(c, _batch(c)).settled == 200
        # psycopg's own error for a dropped server; the server dies before the cycle commits
        with pytest.raises(Exception) as err, led.transaction():  # noqa: PT011
            assert led.settle(4, _batch(4)).settled == 200
            server.kill()
        assert "server" in str(err.value).lower() or "connection" in str(err.value).lower()
        with pytest.raises(StorageUnavailable):  # while it is down: one sentence, not a traceback
            Ledger.open(url)
        server.restart()
        again = Ledger.open(url)
        assert again.last_cycle() == 3  # cycle 4 never committed: absent, not half there
        (n,) = again.conn.execute("SELECT count(*) FROM fills").fetchone()
        assert n == 600
        assert again.settle(4, _batch(4)).settled == 200  # the run goes on from the last complete cycle
        assert again.settle(3, _batch(3)).duplicates == 200
        paid = sum(f.price * f.qty for c in (1, 2, 3, 4) for f in _batch(c))
        assert again.cash("b") == paid and again.cash("a") == 10**10 - paid
        again.close()
    finally:
        server.stop()
        assert server.proc is None
