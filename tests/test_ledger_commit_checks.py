"""How the ledger looks for other connections' commits, and what it no longer asks for.

The mirror of the active branch is checked against the file (`PRAGMA data_version`, then the ledger's write
counter) before a public read or write; a ledger's own commit needs no such look afterwards, and naming the
active branch (`ref`, `run_id`, `branch_id`) needs none at all. These tests pin both the savings and the
correctness they must keep: another connection's ledger commit is still seen, on both backends.
"""
from __future__ import annotations

import sqlite3

from ledger.store import Ledger


def _two(ledger_backend) -> tuple[Ledger, Ledger]:
    target = ledger_backend.target()
    a = ledger_backend.open(target, symbols=["AAA"])
    a.start_run(config={}, seed=1)
    a.open_account("x", theory="t", cash=10_000, holdings={"AAA": 5}, cost={"AAA": 100})
    a.open_account("y", theory="t", cash=10_000, holdings={"AAA": 5}, cost={"AAA": 100})
    b = ledger_backend.open(target, symbols=["AAA"])
    b.use(a.run_id, a.branch_id, remember=False)
    return a, b


def test_foreign_commit_seen_by_next_read(ledger_backend):
    a, b = _two(ledger_backend)
    try:
        assert a.available_cash("x") == 10_000
        assert b.reserve(order_id="o1", account="x", side="buy", symbol="AAA", qty=10, limit_price=100,
                         cycle=1) is None
        assert a.available_cash("x") == 10_000 - 1000
        # and a's own write after b's sees b's reservation (its order id is taken)
        assert a.reserve(order_id="o1", account="x", side="buy", symbol="AAA", qty=1, limit_price=100,
                         cycle=1) is not None
        assert a.reserve(order_id="o2", account="x", side="buy", symbol="AAA", qty=10, limit_price=100,
                         cycle=1) is None
        assert b.available_cash("x") == 10_000 - 2000
    finally:
        a.close()
        b.close()


def test_foreign_commit_inside_own_transaction_reloads_after_commit(ledger_backend):
    """b commits between a's last look and a's transaction (a's reads inside it trust the mirror): a's
    commit finds the write counter moved by more than its own bump and reloads, so a's mirror is the file."""
    a, b = _two(ledger_backend)
    try:
        assert a.available_cash("x") == 10_000  # a has looked
        assert b.reserve(order_id="o1", account="x", side="buy", symbol="AAA", qty=10, limit_price=100,
                         cycle=1) is None
        with a.transaction():
            a.record_message(1, "x", "hello")
        assert a._st.rcash.get("x") == 1000  # reloaded at the commit, with no look since
        assert a.available_cash("x") == 10_000 - 1000
    finally:
        a.close()
        b.close()


def _count_pragmas(led: Ledger) -> list[str]:
    seen: list[str] = []
    led.conn.set_trace_callback(lambda s: seen.append(s) if "data_version" in s or "ledger_version" in s else None)
    return seen


def test_own_commit_and_ref_ask_nothing(tmp_path):
    led = Ledger.open(tmp_path / "l.db", symbols=["AAA"])
    try:
        led.start_run(config={}, seed=1)
        led.open_account("x", theory="t", cash=10_000)
        seen = _count_pragmas(led)
        for _ in range(5):
            assert led.run_id and led.branch_id and led.ref
        assert seen == []
        assert led.reserve(order_id="o1", account="x", side="buy", symbol="AAA", qty=1, limit_price=100,
                           cycle=1) is None
        # one look before the write, and the write counter's bump: no look after the own commit
        assert [s for s in seen if s.startswith("PRAGMA")] == ["PRAGMA data_version"]
        assert sum(s.startswith("SELECT") for s in seen) == 0
    finally:
        led.close()


def test_foreign_non_ledger_commit_costs_no_reload(tmp_path):
    """A commit by another connection that is not the ledger's (checkpoints, the lease, commands) is told
    apart by the write counter: the mirror is kept."""
    path = tmp_path / "l.db"
    led = Ledger.open(path, symbols=["AAA"])
    try:
        led.start_run(config={}, seed=1)
        led.open_account("x", theory="t", cash=10_000)
        st = led._st
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("CREATE TABLE IF NOT EXISTS elsewhere (x)")
        other.execute("INSERT INTO elsewhere VALUES (1)")
        other.close()
        assert led.available_cash("x") == 10_000
        assert led._st is st
    finally:
        led.close()
