"""The risk node asks every cycle whether order intents wait (`external_orders.any_to_take`). Until an intent is
ever queued the table does not exist; the answer is then kept while the file's schema is unchanged (one PRAGMA
instead of a query SQLite's parser refuses), and an intent queued from another connection is still seen by the
very next call, as before."""
from __future__ import annotations

import sqlite3

from tools import external_orders
from tools.order_intents import ProposedOrder


def _conn(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
    return conn


def _order() -> ProposedOrder:
    return ProposedOrder(symbol="MSFT", side="buy", qty=5, order_type="limit", limit_price=10000)


def test_missing_table_then_intent_from_another_connection(tmp_path):
    path = str(tmp_path / "run.db")
    floor = _conn(path)
    statements: list[str] = []
    floor.set_trace_callback(statements.append)
    for cycle in range(1, 5):
        assert not external_orders.any_to_take(floor, 1, 1, cycle)
    assert statements.count("PRAGMA schema_version") == 4
    server = _conn(path)  # the accounts server's own connection
    iid = external_orders.submit_order(server, 1, "alice", _order())
    assert external_orders.any_to_take(floor, 1, 1, 5)  # seen by the next call
    taken = external_orders.take(floor, 1, 1, "alice", 5)
    assert [i.intent_id for i in taken] == [iid]
    assert external_orders.any_to_take(floor, 1, 1, 5)  # this (cycle, branch) took it: taken again on a re-run
    assert not external_orders.any_to_take(floor, 1, 1, 6)
    statements.clear()
    assert not external_orders.any_to_take(floor, 1, 1, 7)
    assert "PRAGMA schema_version" not in statements  # the table is known to exist: the query alone
    iid2 = external_orders.submit_order(server, 1, "bob", _order())
    assert external_orders.any_to_take(floor, 1, 1, 7)
    assert [i.intent_id for i in external_orders.take(floor, 1, 1, "bob", 7)] == [iid2]
    floor.close()
    server.close()


def test_unrelated_schema_change_and_same_connection_submit(tmp_path):
    path = str(tmp_path / "run.db")
    floor = _conn(path)
    assert not external_orders.any_to_take(floor, 1, 1, 1)
    other = _conn(path)
    other.execute("CREATE TABLE something_else (x)")  # a schema change without the table: asked again, still none
    assert not external_orders.any_to_take(floor, 1, 1, 2)
    assert not external_orders.any_to_take(floor, 1, 1, 3)
    external_orders.submit_order(floor, 1, "alice", _order())  # queued on the floor's own connection
    assert external_orders.any_to_take(floor, 1, 1, 4)
    floor.close()
    other.close()


def test_many_connections_keep_the_memo_small(tmp_path):
    conns = [_conn(str(tmp_path / f"r{i}.db")) for i in range(40)]
    for c in conns:
        assert not external_orders.any_to_take(c, 1, 1, 1)
    assert len(external_orders._SQLITE_SEEN) <= 16
    external_orders.submit_order(conns[0], 1, "alice", _order())
    assert external_orders.any_to_take(conns[0], 1, 1, 2)
    for c in conns:
        c.close()
