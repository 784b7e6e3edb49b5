"""Backup and restore of a PostgreSQL run with the documented `pg_dump` use (docs/scale.md): the run's two
schemas dumped as plain SQL, loaded with `psql` into another database, and the restored run goes on exactly
as the original does."""
from __future__ import annotations

import subprocess
from urllib.parse import parse_qs, urlsplit

from floor_helpers import fast_config, ledger_fills, trader_orders

from floor.session import FloorSession


def _session(db: str) -> FloorSession:
    s = FloorSession(db, fast_config())
    s.own()
    return s


def test_pg_dump_of_a_run_restores_with_psql_and_the_run_goes_on_identically(pg_server, tmp_path):
    src = f"{pg_server.create_database()}&schema=floor_a"
    s = _session(src)
    s.start(seed=21)
    s.run(6)
    s.close()
    dbname = urlsplit(src).path.lstrip("/")
    host = parse_qs(urlsplit(src).query)["host"][0]
    dump = tmp_path / "floor_a.sql"
    conn_args = ["-h", host, "-U", "postgres"]
    subprocess.run([str(pg_server.bin / "pg_dump"), *conn_args, "--schema=floor_a", "--schema=floor_a_checkpoints",
                    "-f", str(dump), dbname], check=True, capture_output=True, timeout=120)
    restored_url = pg_server.create_database()
    restored_db = urlsplit(restored_url).path.lstrip("/")
    subprocess.run([str(pg_server.bin / "psql"), *conn_args, "-v", "ON_ERROR_STOP=1", "-q", "-f", str(dump),
                    restored_db], check=True, capture_output=True, timeout=120)
    restored = f"{restored_url}&schema=floor_a"

    rows = {}
    for name, db in (("original", src), ("restored", restored)):
        s = _session(db)
        try:
            assert s.state()["cycle"] == 6  # the restored database has the run, its thread and its checkpoints
            s.run(4)
            rows[name] = (ledger_fills(s, range(1, 11)), trader_orders(s, range(1, 11)), s.leaderboard())
        finally:
            s.close()
    assert rows["restored"] == rows["original"] and rows["original"][0]
