"""The batch writers give what the single-row ones give: same rows, same order, same read-back.

Covers `record_orders`, `record_traces`, `record_messages`, `settle_rows` (fills as plain tuples) and a
transaction opened with `savepoints=False` (the settle node's mode), including its failure path.
"""
from __future__ import annotations

from enum import Enum

import pytest

from ledger.errors import LedgerError, RejectCode
from ledger.store import Ledger
from ledger.types import Fill, fill_row

TABLES = ("orders", "traces", "messages", "fills", "fill_ids", "lots", "balances", "positions", "reservations",
          "releases", "snapshots", "marks")


class Side(Enum):  # an enum side is stored by value, as record_order does
    BUY = "buy"


def _ledger(backend) -> Ledger:
    led = backend.open(symbols=["AAA", "BBB"])
    led.start_run(config={"k": 1}, seed=3, name="batch")
    led.open_account("a", cash=100_000, holdings={"AAA": 50}, cost={"AAA": 90})
    led.open_account("b", cash=100_000, holdings={"AAA": 20, "BBB": 10})
    return led


def _rows(led: Ledger) -> dict[str, list[tuple]]:
    out = {}
    for t in TABLES:
        if led.dialect.name == "postgresql":  # no rowid: the generated key, else every column, gives the order
            cols = led.dialect.columns(led.conn, t)
            order = "seq" if "seq" in cols and t != "fills" else ", ".join(str(i) for i in range(1, len(cols) + 1))
            out[t] = [tuple(r) for r in led.conn.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall()]
            continue
        try:
            out[t] = led.conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall()
        except Exception:  # WITHOUT ROWID tables: primary-key order
            out[t] = led.conn.execute(f"SELECT * FROM {t}").fetchall()
    return out


ORDERS = [
    dict(order_id="o1", account="a", side="buy", symbol="AAA", qty=5, limit_price=100, order_type="limit",
         status="submitted", reason=None, detail=None, payload={"tif": "day", "source": "rule"}),
    dict(order_id="o2", account="b", side=Side.BUY, symbol="BBB", qty=2, status="rejected",
         reason=RejectCode.INSUFFICIENT_CASH, detail="not enough cash"),
    dict(order_id="o3", account="a", side="", symbol="AAA", qty=0, status="cancelled", tick=7),
]
TRACES = [
    ("a", "decide", "decision", {"action": "BUY", "why": "momentum", "z": [1, 2], "nested": {"b": 1, "a": 2}}),
    ("market", "market_tick", "market_moved", {"AAA": 101.5}),
    ("b", "settle", "fill", {"trade_id": "T9", "side": "sell", "enum": RejectCode.OVERFILL}),
]
MESSAGES = [
    dict(sender="a", text="AAA looks strong @b", recipients=["b"], sentiment=0.6, topic="AAA", round=1),
    dict(sender="b", text="not convinced", recipients=("a",)),
    dict(sender="a", text="fine", sentiment=None, topic=None, round=2),
]


def _record_singly(led: Ledger, cycle: int) -> None:
    for o in ORDERS:
        led.record_order(cycle=cycle, **o)
    for agent, node, kind, payload in TRACES:
        led.record_trace(cycle, agent, node, kind, payload)
    for m in MESSAGES:
        led.record_message(cycle, m["sender"], m["text"], **{k: v for k, v in m.items() if k not in ("sender", "text")})


def _record_batched(led: Ledger, cycle: int) -> None:
    assert led.record_orders(cycle, ORDERS) == len(ORDERS)
    assert led.record_traces(cycle, TRACES) == len(TRACES)
    assert led.record_messages(cycle, MESSAGES) == len(MESSAGES)


@pytest.mark.parametrize("savepoints", [True, False])
def test_batch_records_equal_single_rows(ledger_backend, savepoints):
    single, batch = _ledger(ledger_backend), _ledger(ledger_backend)
    for cycle in (1, 2):
        with single.transaction():
            _record_singly(single, cycle)
        with batch.transaction(savepoints=savepoints):
            _record_batched(batch, cycle)
    assert _rows(batch) == _rows(single)
    expected = [TRACES[0][3], TRACES[1][3], {"trade_id": "T9", "side": "sell", "enum": "overfill"}]
    for led in (single, batch):  # read back through the ordinary read APIs
        assert [t["payload"] for t in led.traces(cycle=2)] == expected
    assert batch.traces(limit=None) == single.traces(limit=None)
    assert batch.messages(limit=None) == single.messages(limit=None)
    assert batch.orders(limit=None) == single.orders(limit=None)
    o2 = batch.orders(cycle=1, account="b")[0]
    assert (o2["side"], o2["reason"], o2["payload"]) == ("buy", "insufficient_cash", {})
    assert [m["recipients"] for m in batch.messages(cycle=1)] == [["b"], ["a"], []]


def test_empty_batches_write_nothing(ledger_backend):
    led = _ledger(ledger_backend)
    before = _rows(led)
    assert led.record_orders(1, []) == 0 and led.record_traces(1, iter(())) == 0 and led.record_messages(1, []) == 0
    assert _rows(led) == before


def test_a_bad_item_fails_the_whole_batch_before_anything_is_written(ledger_backend):
    led = _ledger(ledger_backend)
    before = _rows(led)
    with pytest.raises(TypeError):
        led.record_orders(1, [ORDERS[0], dict(ORDERS[1], colour="red")])
    with pytest.raises(TypeError):
        led.record_messages(1, [MESSAGES[0], dict(sender="a")])  # `text` is missing
    assert _rows(led) == before


def _fills(cycle: int) -> list[Fill]:
    return [Fill("T1", cycle, 1, "AAA", 100, 5, "b", "a", "", ""),
            Fill("T2", cycle, 2, "AAA", 101, 10, "b", "a", "", ""),
            Fill("T3", cycle, 3, "BBB", 50, 4, "a", "b", "", ""),
            Fill("T4", cycle, 4, "AAA", 99, 10, "a", "b", "", "")]


def test_settle_rows_equals_settle_with_fills(ledger_backend):
    by_fill, by_row = _ledger(ledger_backend), _ledger(ledger_backend)
    for cycle in (1, 2):
        fills = [Fill(f"{f.fill_id}-{cycle}", *f.key()[1:]) for f in _fills(cycle)]
        assert fill_row(fills[0]) == fills[0].key()
        r1 = by_fill.settle(cycle, fills)
        r2 = by_row.settle_rows(cycle, [f.key() for f in fills])
        assert r1 == r2 and r1.ok and r1.settled == 4
    assert _rows(by_row) == _rows(by_fill)
    assert by_row.dump_state() == by_fill.dump_state()
    assert by_row.fills(limit=None) == by_fill.fills(limit=None)
    assert by_row.lots("b") == by_fill.lots("b") and by_row.realized_pnl("a") == by_fill.realized_pnl("a")
    # an exact retry is recognised, a conflicting one refused, the same way
    again = [(f"{f.fill_id}-2", *f.key()[1:]) for f in _fills(2)]
    r1, r2 = by_fill.settle(2, [Fill(*r) for r in again]), by_row.settle_rows(2, again)
    assert r1 == r2 and (r1.settled, r1.duplicates) == (0, 4)
    bad = [(again[0][0], 2, 1, "AAA", 100, 6, "b", "a", "", "")]
    r1, r2 = by_fill.settle(2, [Fill(*bad[0])]), by_row.settle_rows(2, bad)
    assert r1 == r2 and r1.rejection.code == RejectCode.DUPLICATE_ID_CONFLICT


@pytest.mark.parametrize("bad, code", [
    (("X", 1, 0, "AAA", 100, 0, "b", "a", "", ""), RejectCode.NON_POSITIVE_QTY),
    (("X", 1, 0, "AAA", 100, 1, "zz", "a", "", ""), RejectCode.UNKNOWN_ACCOUNT),
    (("X", 1, 0, "ZZZ", 100, 1, "b", "a", "", ""), RejectCode.UNKNOWN_SYMBOL),
    (("X", 2, 0, "AAA", 100, 1, "b", "a", "", ""), RejectCode.CYCLE_MISMATCH),
    (("X", 1, 0, "AAA", 10**6, 1, "b", "a", "", ""), RejectCode.INSUFFICIENT_CASH),
])
def test_settle_rows_rejections_match_settle(ledger_backend, bad, code):
    led_f, led_r = _ledger(ledger_backend), _ledger(ledger_backend)
    r1, r2 = led_f.settle(1, [Fill(*bad)]), led_r.settle_rows(1, [bad])
    assert r1 == r2 and r1.rejection.code == code
    assert led_r.dump_state() == led_f.dump_state() and led_r.fills() == []


def test_flat_transaction_writes_the_same_rows_as_the_default(ledger_backend):
    ref, flat = _ledger(ledger_backend), _ledger(ledger_backend)
    for led, sp in ((ref, True), (flat, False)):
        with led.transaction(savepoints=sp):
            assert led.reserve(order_id="r1", account="a", side="buy", symbol="BBB", qty=3, limit_price=60,
                               cycle=1) is None
            assert led.settle(1, [Fill("T1", 1, 1, "BBB", 55, 2, "a", "b", "r1", "")]).ok
            assert led.release("r1", cycle=1) is None
            _record_batched(led, 1)
            led.record_snapshot(1, {"AAA": 100, "BBB": 55})
    assert _rows(flat) == _rows(ref)
    assert flat.dump_state() == ref.dump_state()


def test_a_refused_settlement_dooms_a_flat_transaction(ledger_backend):
    led = _ledger(ledger_backend)
    before, cash = _rows(led), led.cash("a")
    with pytest.raises(LedgerError) as err, led.transaction(savepoints=False):
        led.record_traces(1, TRACES)
        assert led.settle_rows(1, [("T1", 1, 1, "AAA", 100, 5, "b", "a", "", "")]).ok  # applied in memory
        res = led.settle_rows(1, [("T2", 1, 2, "AAA", 10**6, 1, "b", "a", "", "")])
        assert res.rejection.code == RejectCode.INSUFFICIENT_CASH  # the caller ignores it: no commit
    assert err.value.code == RejectCode.ABORTED
    assert _rows(led) == before and led.cash("a") == cash and led.traces() == []
    # the ledger is usable afterwards, and a default transaction still undoes just the refused request
    with led.transaction():
        assert not led.settle_rows(1, [("T2", 1, 2, "AAA", 10**6, 1, "b", "a", "", "")]).ok
        assert led.settle_rows(1, [("T1", 1, 1, "AAA", 100, 5, "b", "a", "", "")]).ok
    assert led.cash("a") == cash + 500 and [f["fill_id"] for f in led.fills()] == ["T1"]


def test_an_exception_inside_a_flat_transaction_rolls_everything_back(ledger_backend):
    led = _ledger(ledger_backend)
    before, state = _rows(led), led.dump_state()
    with pytest.raises(RuntimeError, match="boom"), led.transaction(savepoints=False):
        assert led.settle_rows(1, [("T1", 1, 1, "AAA", 100, 5, "b", "a", "", "")]).ok
        _record_batched(led, 1)
        raise RuntimeError("boom")
    assert _rows(led) == before and led.dump_state() == state and led.cash("b") == 100_000
