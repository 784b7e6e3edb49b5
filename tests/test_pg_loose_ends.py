"""The PostgreSQL backend's loose ends: `copy` refuses a destination holding any part of a run (checkpoints
included), `reset` drops a PostgreSQL run's schemas with the confirmation SQLite's reset asks (and stops a
process running it first), and the LLM answer cache lives in the PostgreSQL run database, so a run there
replays from it without a request."""
from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid

import psycopg
import pytest
from cli_processes import ENV, TRADING_FLOOR, tf, tf_bg
from floor_helpers import fast_config, ledger_fills, write_config
from llm_floor import llm_floor_config, offer_write_tools
from support.stub_process import StubProcess, calls, submit

from floor.copy_run import copy_run
from floor.session import FloorSession


def _floor(db: str, cycles: int = 3) -> None:
    s = FloorSession(db, fast_config())
    s.start(seed=4)
    s.run(cycles)
    s.close()


def _schemas(url: str) -> set[str]:
    base = url.split("&schema=")[0]
    with psycopg.connect(base) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}


def test_copy_refuses_a_destination_that_holds_checkpoints_but_no_ledger(pg_url, tmp_path):
    src = str(tmp_path / "src.db")
    _floor(src)
    dst = f"{pg_url}&schema=dst"
    copy_run(src, dst)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('DROP SCHEMA "dst" CASCADE')  # the ledger is gone, its checkpoints are still there
    with pytest.raises(ValueError, match="already holds checkpoints"):
        copy_run(src, dst)
    out = tf("copy", src, dst)
    assert out.returncode == 2 and "already holds checkpoints" in out.stdout and "Traceback" not in out.stdout

    back = str(tmp_path / "back.db")
    copy_run(src, back)
    conn = sqlite3.connect(back)
    conn.execute("DELETE FROM floor_threads")
    conn.execute("DELETE FROM runs")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="already holds checkpoints"):
        copy_run(src, back)
    fresh = str(tmp_path / "fresh.db")
    assert copy_run(src, fresh)["checkpoints"] > 0  # an empty destination still takes the copy


def test_reset_drops_a_postgresql_run_after_asking_and_a_new_run_starts_afresh(pg_url, tmp_path):
    db = f"{pg_url}&schema=floor_r"
    _floor(db)
    assert {"floor_r", "floor_r_checkpoints"} <= _schemas(db)
    kept = subprocess.run([*TRADING_FLOOR, "reset", "--db", db], input="n\n", capture_output=True, text=True,
                          timeout=60, env=ENV)
    assert kept.returncode == 1 and "drop schemas floor_r, floor_r_checkpoints" in kept.stdout
    assert {"floor_r", "floor_r_checkpoints"} <= _schemas(db)  # answered no: nothing dropped
    gone = tf("reset", "--db", db, "--yes")
    assert gone.returncode == 0 and "dropped 2 schema(s)" in gone.stdout
    assert not {"floor_r", "floor_r_checkpoints"} & _schemas(db)
    assert "no database at" in tf("status", "--db", db).stdout
    again = tf("run", "--db", db, "--cycles", "2", "--seed", "4")
    assert again.returncode == 0, again.stdout
    s = FloorSession(db, readonly=True)
    try:
        assert s.state()["run_id"] == 1 and s.state()["cycle"] == 2  # a new run 1, nothing of the old one
    finally:
        s.close()
    no_schema = tf("reset", "--db", pg_url, "--yes")
    assert no_schema.returncode == 2 and "names none" in no_schema.stdout and len(no_schema.stdout.splitlines()) == 1


def test_reset_of_a_postgresql_run_stops_the_process_running_it_first(pg_url, tmp_path):
    cfg = tmp_path / "fast.yaml"
    write_config(cfg, fast_config())
    db = f"{pg_url}&schema=busy_{uuid.uuid4().hex[:4]}"
    proc = tf_bg("run", "--db", db, "--cycles", "100000", "--config", str(cfg))
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
            st = tf("status", "--db", db)
            if "cycle" in st.stdout and "no database" not in st.stdout:
                break
            time.sleep(0.5)
        out = tf("reset", "--db", db, "--yes", "--timeout", "60")
        assert out.returncode == 0, out.stdout
        assert "stopped at cycle" in out.stdout and "dropped 2 schema(s)" in out.stdout
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


BUY = {"symbol": "AMZN", "side": "buy", "qty": 20, "order_type": "market", "tif": "ioc"}
SCRIPT = [calls(("place_order", BUY)), submit([BUY], "AMZN trend up"), submit([], "hold"), submit([], "hold")]


def test_the_llm_answer_cache_lives_in_the_postgresql_run_database(pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)
    offer_write_tools(monkeypatch)
    db = f"{pg_url}&schema=llm"
    with StubProcess(tmp_path) as stub:
        stub.enqueue({"queue": SCRIPT})
        cfg = llm_floor_config(stub.base_url, ("momentum",), use_cache=True)
        s = FloorSession(db, cfg)
        s.start(seed=2)
        s.run(3)
        assert s.floor.llm_cache.path == db and len(s.floor.llm_cache) == 4
        recorded = ledger_fills(s, (1, 2, 3))
        orders = [(o["cycle"], o["symbol"], o["qty"]) for o in s.floor.ledger.orders(account="momentum", limit=None)]
        s.close()
        assert len(stub.requests()) == 4
    assert not list(tmp_path.glob("*.llm-cache.db"))  # no SQLite file beside a PostgreSQL run
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM llm.llm_answers").fetchone()[0] == 4
    # the stub is gone: a new run of the same seed in another process' session replays from the table
    s = FloorSession(db, cfg)
    s.start(seed=2)
    s.run(3)
    try:
        assert s.floor.llm_cache.hits == 4 and s.floor.llm_cache.misses == 0
        assert ledger_fills(s, (1, 2, 3)) == recorded
        assert [(o["cycle"], o["symbol"], o["qty"]) for o in s.floor.ledger.orders(account="momentum", limit=None)
                ] == orders
    finally:
        s.close()


def test_a_floor_session_commits_its_ledger_without_waiting_and_its_checkpoints_durably(pg_url):
    from ledger.store import Ledger

    def setting(conn) -> tuple[str, str]:
        """(value, where it comes from): "session" for our own SET, else the server's configuration (the
        tests' server runs with synchronous_commit=off anyway; a real one with its default, on)."""
        row = conn.execute("SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'").fetchone()
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    db = f"{pg_url}&schema=commits"
    writer = FloorSession(db, fast_config())
    reader = FloorSession(db, readonly=True)
    bare = Ledger.open(db)
    try:
        assert setting(writer.floor.ledger.db.conn) == ("off", "session")  # made durable by the checkpoint after it
        assert setting(writer.conn)[1] != "session"  # the checkpoint session keeps the server's (flushed) commits
        assert setting(bare.conn)[1] != "session" and setting(reader.floor.ledger.db.conn)[1] != "session"
    finally:
        for x in (writer, reader, bare):
            x.close()
    again = Ledger.open(db)  # a pooled connection given back is reset: the next user commits durably
    try:
        assert setting(again.conn)[1] != "session"
    finally:
        again.close()


def test_readers_on_a_schema_that_holds_no_run_say_so_and_leave_no_schema_behind(pg_url, tmp_path):
    url = f"{pg_url}&schema=nobody_ran_here"
    for command in (("status",), ("history",), ("export", "--out", str(tmp_path / "out")), ("threads",),
                    ("doctor",)):
        out = tf(*command, "--db", url)
        assert out.returncode != 0, (command, out.stdout)
        assert "no database at" in out.stdout and "Traceback" not in out.stdout, (command, out.stdout)
    assert "nobody_ran_here" not in _schemas(pg_url)  # asking was read-only
    assert not (tmp_path / "out").exists()
