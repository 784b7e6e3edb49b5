"""The ledger's tests on both storage backends: SQLite (the embedded default) and PostgreSQL.

`ledger_backend` is a fixture parametrized over both. Its `open(...)` takes `Ledger.open`'s keywords and
gives a fresh, empty ledger each call: an in-memory SQLite database, or a schema of its own in one
PostgreSQL database of the test session (a schema is far cheaper than a database, which matters for
property tests that open a ledger per example). `target()` names a new persistent store (a file, or a
schema URL) for the tests that close and reopen it. Its value holds no per-test state, so hypothesis
may reuse it across examples.
"""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

from ledger.store import Ledger

BACKENDS = ("sqlite", "postgresql")


class Backend:
    def __init__(self, name: str, pg_url: str | None = None):
        self.name = name
        self.pg_url = pg_url

    def target(self) -> str:
        if self.name == "sqlite":
            return str(Path(tempfile.mkdtemp(prefix="tf-ledger-")) / "ledger.db")
        sep = "&" if "?" in self.pg_url else "?"
        return f"{self.pg_url}{sep}schema=l_{uuid.uuid4().hex[:16]}"

    def open(self, target: str | None = None, **kw) -> Ledger:
        if target is None:
            target = ":memory:" if self.name == "sqlite" else self.target()
        return Ledger.open(target, **kw)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="session")
def pg_ledger_url(pg_server):
    """One database for the session's ledger tests; each ledger gets a schema in it."""
    return pg_server.create_database()


@pytest.fixture(params=BACKENDS)
def ledger_backend(request) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite")
    return Backend("postgresql", request.getfixturevalue("pg_ledger_url"))
