"""A PostgreSQL server for the benchmarks: $TRADING_FLOOR_BENCH_PG if set, else a throwaway local one
(the tests' own: initdb in a temporary directory, unix socket only; tests/pg_server.py), stopped on exit."""
from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server() -> Iterator[str | None]:
    """The URL of a database to use, or None when there is no server and no binaries to start one."""
    url = os.environ.get("TRADING_FLOOR_BENCH_PG")
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from pg_server import PgServer, find_bin
    finally:
        sys.path.pop(0)
    bin_dir = find_bin()
    if bin_dir is None:
        yield None
        return
    srv = PgServer(bin_dir, durable=True).start()
    try:
        yield srv.create_database("bench")
    finally:
        srv.stop()


def fresh_schema(url: str) -> str:
    """`url` with a new schema of its own (the ledger creates it)."""
    return f"{url}{'&' if '?' in url else '?'}schema=b_{uuid.uuid4().hex[:12]}"
