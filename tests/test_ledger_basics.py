"""Behaviour of the ledger on hand-made cases: validation, reservations, fees, FIFO, records, runs."""
from __future__ import annotations

from collections import defaultdict

import pytest

from ledger.errors import LedgerError, RejectCode
from ledger.store import Ledger
from ledger.types import EXTERNAL, FEES, Fill


@pytest.fixture
def led(ledger_backend):
    led = ledger_backend.open(symbols=["AAA", "BBB"])
    led.start_run(config={"k": 1}, seed=42, name="t")
    led.open_account("a", theory="momentum", cash=100_000, holdings={"AAA": 50}, cost={"AAA": 90})
    led.open_account("b", theory="value", cash=100_000, holdings={"AAA": 20, "BBB": 10})
    yield led
    led.close()


def F(i, cycle, sym, price, qty, buyer, seller, bo="", so="", tick=0):
    return Fill(str(i), cycle, tick, sym, price, qty, buyer, seller, bo, so)


def test_reserve_rejections_write_nothing(led):
    before = led.dump_state()
    cases = [
        (dict(account="a", side="buy", symbol="AAA", qty=0, limit_price=100), RejectCode.NON_POSITIVE_QTY),
        (dict(account="a", side="buy", symbol="AAA", qty=-3, limit_price=100), RejectCode.NON_POSITIVE_QTY),
        (dict(account="a", side="buy", symbol="AAA", qty=1, limit_price=0), RejectCode.NON_POSITIVE_PRICE),
        (dict(account="zz", side="buy", symbol="AAA", qty=1, limit_price=10), RejectCode.UNKNOWN_ACCOUNT),
        (dict(account="a", side="buy", symbol="ZZZ", qty=1, limit_price=10), RejectCode.UNKNOWN_SYMBOL),
        (dict(account="a", side="hold", symbol="AAA", qty=1, limit_price=10), RejectCode.BAD_SIDE),
        (dict(account="a", side="buy", symbol="AAA", qty=1001, limit_price=100), RejectCode.INSUFFICIENT_CASH),
        (dict(account="a", side="sell", symbol="BBB", qty=1, limit_price=100), RejectCode.INSUFFICIENT_SHARES),
    ]
    for i, (kw, code) in enumerate(cases):
        rej = led.reserve(order_id=f"o{i}", cycle=1, **kw)
        assert rej is not None and rej.code == code and rej.message
    assert led.dump_state() == before
    assert led.orders(limit=None) == [] and led.last_cycle() == 0


def test_two_orders_cannot_spend_the_same_cash_or_shares(led):
    assert led.reserve(order_id="o1", account="a", side="buy", symbol="AAA", qty=600, limit_price=100, cycle=1) is None
    assert led.available_cash("a") == 40_000
    rej = led.reserve(order_id="o2", account="a", side="buy", symbol="BBB", qty=401, limit_price=100, cycle=1)
    assert rej.code == RejectCode.INSUFFICIENT_CASH
    assert led.reserve(order_id="o3", account="b", side="sell", symbol="AAA", qty=15, limit_price=90, cycle=1) is None
    rej = led.reserve(order_id="o4", account="b", side="sell", symbol="AAA", qty=6, limit_price=90, cycle=1)
    assert rej.code == RejectCode.INSUFFICIENT_SHARES
    assert led.reserve(order_id="o1", account="b", side="sell", symbol="AAA", qty=1, limit_price=90,
                       cycle=1).code == RejectCode.DUPLICATE_ORDER
    # an unreserved fill cannot take cash held for an open order
    res = led.settle(1, [F("x", 1, "BBB", 100, 401, "a", "b")])
    assert res.rejection.code == RejectCode.INSUFFICIENT_CASH


def test_fill_better_than_limit_releases_the_difference_and_partial_release(led):
    led.reserve(order_id="B", account="a", side="buy", symbol="AAA", qty=10, limit_price=120, cycle=1)
    led.reserve(order_id="S", account="b", side="sell", symbol="AAA", qty=10, limit_price=100, cycle=1)
    assert led.reserved_cash("a") == 1200
    res = led.settle(1, [F(1, 1, "AAA", 110, 4, "a", "b", "B", "S")])
    assert res.ok and res.settled == 1
    assert led.cash("a") == 100_000 - 440
    assert led.reserved_cash("a") == 6 * 120 and led.available_cash("a") == 100_000 - 440 - 720
    assert led.available_shares("b", "AAA") == 20 - 4 - 6
    assert led.release("B", 2, cycle=1) is None
    assert led.reserved_for("B") == (4, 480)
    assert led.release("B", 5, cycle=1).code == RejectCode.OVERFILL
    assert led.release("S", cycle=1) is None and led.reserved_for("S") is None
    assert led.available_shares("b", "AAA") == 16
    assert led.release("S").code == RejectCode.UNKNOWN_ORDER
    # overfill and price beyond limit are refused
    assert led.settle(2, [F(2, 2, "AAA", 110, 5, "a", "b", "B")]).rejection.code == RejectCode.OVERFILL
    assert led.settle(2, [F(3, 2, "AAA", 121, 1, "a", "b", "B")]).rejection.code == RejectCode.PRICE_BEYOND_LIMIT


def test_settle_batch_is_all_or_nothing_and_idempotent(led):
    before = led.dump_state()
    good = [F(1, 1, "AAA", 100, 5, "b", "a"), F(2, 1, "AAA", 101, 5, "b", "a")]
    for bad, code in [(F(3, 1, "AAA", 100, 0, "b", "a"), RejectCode.NON_POSITIVE_QTY),
                      (F(3, 1, "AAA", -1, 1, "b", "a"), RejectCode.NON_POSITIVE_PRICE),
                      (F(3, 1, "ZZZ", 100, 1, "b", "a"), RejectCode.UNKNOWN_SYMBOL),
                      (F(3, 1, "AAA", 100, 1, "b", "nobody"), RejectCode.UNKNOWN_ACCOUNT),
                      (F(3, 1, "AAA", 100, 1, "a", "a"), RejectCode.SELF_TRADE),
                      (F(3, 2, "AAA", 100, 1, "b", "a"), RejectCode.CYCLE_MISMATCH),
                      (F(3, 1, "BBB", 100, 11, "a", "b"), RejectCode.INSUFFICIENT_SHARES),
                      (F(3, 1, "AAA", 10**6, 1, "a", "b"), RejectCode.INSUFFICIENT_CASH),
                      (F(1, 1, "AAA", 100, 6, "b", "a"), RejectCode.DUPLICATE_ID_CONFLICT)]:
        res = led.settle(1, [*good, bad])
        assert res.rejection.code == code and res.settled == 0
        assert led.dump_state() == before and led.fills() == []
    assert led.settle(1, good).settled == 2
    after = led.dump_state()
    res = led.settle(1, good)
    assert res.ok and res.settled == 0 and res.duplicates == 2 and led.dump_state() == after
    assert led.settle(1, [F(1, 1, "AAA", 100, 5, "b", "a", tick=9)]).rejection.code == RejectCode.DUPLICATE_ID_CONFLICT
    assert len(led.fills()) == 2


def test_fifo_realized_and_unrealized(led):
    led.open_account("c", cash=10_000)
    led.settle(1, [F(1, 1, "AAA", 100, 10, "c", "a"), F(2, 1, "AAA", 110, 5, "c", "a")])
    led.settle(2, [F(3, 2, "AAA", 120, 12, "b", "c")])
    assert led.realized_pnl("c") == 10 * 20 + 2 * 10
    (pos,) = led.positions("c", {"AAA": 130})
    assert (pos.qty, pos.cost_basis, pos.avg_cost, pos.unrealized_pnl) == (3, 330, 110.0, 3 * 130 - 330)
    assert [(lot.qty, lot.price) for lot in led.lots("c")] == [(3, 110)]
    # the seller's endowment lots (cost 90) are consumed first
    assert led.realized_pnl("a") == 10 * 10 + 5 * 20
    assert led.unrealized_pnl("a", {"AAA": 100}) == 35 * 100 - 35 * 90


def test_shorting_with_a_limit_and_covering(ledger_backend):
    led = ledger_backend.open(allow_short=True, short_limit=8, symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("s", cash=10_000)
    led.open_account("m", cash=10**6, holdings={"AAA": 100})
    assert led.reserve(order_id="x", account="s", side="sell", symbol="AAA", qty=9, limit_price=1,
                       cycle=1).code == RejectCode.SHORT_LIMIT
    assert led.settle(1, [F(1, 1, "AAA", 100, 5, "m", "s")]).ok
    assert led.holdings("s") == {"AAA": -5}
    assert led.settle(2, [F(2, 2, "AAA", 100, 4, "m", "s")]).rejection.code == RejectCode.SHORT_LIMIT
    assert led.settle(2, [F(3, 2, "AAA", 90, 7, "s", "m")]).ok  # covers 5 (realized 50), opens long 2
    assert led.realized_pnl("s") == 50
    assert [(lot.side, lot.qty, lot.price) for lot in led.lots("s")] == [(1, 2, 90)]


def test_credit_limit_and_per_account_override(ledger_backend):
    led = ledger_backend.open(credit_limit=500, symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("a", cash=1000)
    led.open_account("bg:mm", kind="background", cash=0, holdings={"AAA": 10}, allow_short=True, short_limit=100,
                     credit_limit=0)
    assert led.reserve(order_id="o", account="a", side="buy", symbol="AAA", qty=15, limit_price=100, cycle=1) is None
    assert led.cash("a") == 1000 and led.reserved_cash("a") == 1500
    assert led.settle(1, [F(1, 1, "AAA", 100, 15, "a", "bg:mm", "o")]).ok
    assert led.cash("a") == -500 and led.holdings("bg:mm") == {"AAA": -5}


def test_fees_go_to_the_fee_account_and_journal_balances(ledger_backend):
    led = ledger_backend.open(fee_bps=25, symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("a", cash=100_000)
    led.open_account("b", cash=0, holdings={"AAA": 100})
    led.reserve(order_id="o", account="a", side="buy", symbol="AAA", qty=10, limit_price=1001, cycle=1)
    assert led.reserved_cash("a") == 10 * (1001 + 3)  # fee cap per share: ceil(1001 * 25 / 10000)
    led.settle(1, [F(1, 1, "AAA", 999, 7, "a", "b", "o")])
    fee = -(-999 * 7 * 25 // 10000)
    assert led.cash("a") == 100_000 - 6993 - fee and led.cash("b") == 6993 - fee
    assert led.cash(FEES) == 2 * fee
    net = defaultdict(int)
    for e in led.journal():
        assert e.amount > 0 and e.debit != e.credit
        net[(e.debit, e.asset)] -= e.amount
        net[(e.credit, e.asset)] += e.amount
    assert net[(EXTERNAL, "$")] == -100_000 and net[("a", "$")] == led.cash("a")
    assert sum(v for (_, asset), v in net.items() if asset == "$") == 0
    assert {e.transfer_id for e in led.transactions("b")} >= {"1:cash", "1:shares", "1:fee:seller", "open:b:AAA"}


def test_transfers_are_idempotent_by_id(led):
    assert led.deposit("a", 500, transfer_id="d1", cycle=1) is None
    assert led.deposit("a", 500, transfer_id="d1", cycle=1) is None  # exact retry
    assert led.cash("a") == 100_500
    assert led.deposit("a", 600, transfer_id="d1", cycle=1).code == RejectCode.DUPLICATE_ID_CONFLICT
    assert led.deposit("a", 0, transfer_id="d2", cycle=1).code == RejectCode.NON_POSITIVE_AMOUNT
    assert led.withdraw("a", 10**9, transfer_id="w1", cycle=1).code == RejectCode.INSUFFICIENT_CASH
    assert led.deposit("nobody", 5, transfer_id="d3", cycle=1).code == RejectCode.UNKNOWN_ACCOUNT
    assert led.cash("a") == 100_500


def test_open_account_validation(led):
    for kw, code in [(dict(name="a", cash=1), RejectCode.DUPLICATE_ACCOUNT),
                     (dict(name="@x", cash=1), RejectCode.UNKNOWN_ACCOUNT),
                     (dict(name="n", cash=-1), RejectCode.NON_POSITIVE_AMOUNT),
                     (dict(name="n", cash=1, holdings={"AAA": -1}), RejectCode.NON_POSITIVE_QTY)]:
        with pytest.raises(LedgerError) as e:
            led.open_account(**kw)
        assert e.value.code == code
    assert [a.name for a in led.accounts()] == ["a", "b"]


def test_accounts_from_range_are_seeded_and_bounded(ledger_backend):
    def make(seed):
        led = ledger_backend.open(symbols=["AAA", "BBB"])
        led.start_run(config={}, seed=seed)
        out = led.open_accounts_from_range({"x": "momentum", "y": "value"}, seed=seed, cash=(500_00, 2000_00),
                                           stocks=(5, 20))
        return led, out
    l1, o1 = make(7)
    _, o2 = make(7)
    _, o3 = make(8)
    assert o1 == o2 and o1 != o3
    for c, h in o1.values():
        assert 500_00 <= c <= 2000_00 and all(5 <= q <= 20 for q in h.values()) and set(h) == {"AAA", "BBB"}
    assert l1.cash("x") == o1["x"][0] and l1.holdings("y") == o1["y"][1]
    led = ledger_backend.open(symbols=["AAA"])
    led.start_run(config={}, seed=1)
    assert led.open_accounts_from_range(["p"], seed=1, cash=1000, stocks=3) == {"p": (1000, {"AAA": 3})}


def test_snapshots_endowment_leaderboard(led):
    led.settle(1, [F(1, 1, "AAA", 100, 10, "a", "b")])
    marks = {"AAA": 120, "BBB": 50}
    led.record_snapshot(1, marks)
    assert led.value_history("a") == [(1, 100_000 - 1000 + 60 * 120)]
    e = led.endowment("a", marks)
    assert e["initial_value"] == 100_000 + 50 * 120 and e["current_value"] == 99_000 + 60 * 120
    assert e["change"] == 200
    board = led.leaderboard(marks)
    assert [r["account"] for r in board] == ["a", "b"] and board[0]["rank"] == 1
    with pytest.raises(LedgerError):
        led.record_snapshot(2, {"AAA": 1})  # no mark for BBB, which b holds


def test_traces_messages_orders_are_filterable(led):
    led.record_trace(1, "a", "decide", "decision", {"action": "BUY", "why": "momentum"})
    led.record_trace(2, "b", "risk", "rejection", {"reason": "cash"})
    led.record_message(1, "a", "AAA looks strong @b", recipients=["b"], sentiment=0.6, topic="AAA", round=1)
    led.record_order(cycle=1, order_id="o1", account="a", side="buy", symbol="AAA", qty=5, limit_price=100,
                     status="rejected", reason="insufficient_cash", detail="not enough cash")
    assert [t["kind"] for t in led.traces()] == ["decision", "rejection"]
    assert led.traces(agent="a")[0]["payload"] == {"action": "BUY", "why": "momentum"}
    assert led.traces(cycle=2, kind="rejection")[0]["agent"] == "b"
    m = led.messages(cycle=1)[0]
    assert (m["recipients"], m["sentiment"], m["topic"], m["round"]) == (["b"], 0.6, "AAA", 1)
    assert led.orders(status="rejected")[0]["reason"] == "insufficient_cash"
    assert led.last_cycle() == 2


def test_runs_branches_reset_and_wal(ledger_backend):
    target = ledger_backend.target()
    led = Ledger.open(target, symbols=["AAA"])
    if ledger_backend.name == "sqlite":
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    r1 = led.start_run(config={"a": 1}, seed=1, name="first")
    led.open_account("a", cash=5)
    r2 = led.start_run(config={"a": 2}, seed=2)
    assert r2.run_id != r1.run_id and led.accounts() == []
    led.use(r1.run_id, r1.branch_id)
    assert led.cash("a") == 5
    assert [(r.name, r.seed, r.config) for r in led.list_runs()] == [("first", 1, {"a": 1}), (None, 2, {"a": 2})]
    led.close()
    led = Ledger.open(target)  # reopening resumes the last active branch
    assert led.ref == r1 and led.cash("a") == 5
    led.reset()
    assert led.list_runs() == []
    with pytest.raises(LedgerError):
        led.cash("a")
    assert led.start_run(config={}, seed=3) == r1  # after a reset, ids start again from 1 (on both backends)
    led.close()


def test_fill_ids_follow_the_branch_lineage(led):
    led.settle(1, [F("p1", 1, "AAA", 100, 1, "a", "b")])
    led.settle(2, [F("p2", 2, "AAA", 100, 1, "a", "b")])
    led.fork(1)
    assert led.settle(2, [F("p1", 1, "AAA", 100, 1, "a", "b")]).rejection.code == RejectCode.CYCLE_MISMATCH
    assert led.settle(2, [F("p1", 2, "AAA", 100, 1, "a", "b")]).rejection.code == RejectCode.DUPLICATE_ID_CONFLICT
    res = led.settle(2, [F("p2", 2, "AAA", 100, 1, "a", "b")])  # p2 exists only after the fork point
    assert res.ok and res.settled == 1
    assert [f["fill_id"] for f in led.fills()] == ["p1", "p2"]


def test_a_second_connection_sees_committed_writes(ledger_backend):
    target = ledger_backend.target()
    writer = Ledger.open(target, symbols=["AAA"])
    writer.start_run(config={}, seed=1)
    writer.open_account("a", cash=1000)
    writer.open_account("b", cash=0, holdings={"AAA": 5})
    reader = Ledger.open(target)
    assert reader.cash("a") == 1000
    with writer.transaction():
        writer.settle(1, [F(1, 1, "AAA", 100, 2, "a", "b")])
        assert reader.cash("a") == 1000  # not committed yet
    assert reader.cash("a") == 800 and reader.holdings("a") == {"AAA": 2}
    with reader.pinned():  # a block of reads looks for other commits once, on entry
        writer.settle(2, [F(2, 2, "AAA", 100, 1, "a", "b")])
        assert reader.cash("a") == 800
    assert reader.cash("a") == 700 and reader.holdings("a") == {"AAA": 3}
    writer.close()
    reader.close()
