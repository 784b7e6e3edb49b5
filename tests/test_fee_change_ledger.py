"""The fee in force as a function of (branch, cycle) in the ledger, on SQLite and PostgreSQL: charged
exactly from the change's cycle, reservations re-held, rollback and fork across the change exact."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.invariants import check_ledger
from ledger.types import Fill

PRICE = 1_003  # cents: fees round up, so a price that does not divide evenly shows the rounding


def ceil_fee(notional: int, bps: int) -> int:
    return -(-notional * bps // 10_000)


def held(qty: int, limit: int, bps: int) -> int:
    return qty * (limit + ceil_fee(limit, bps))


def _ledger(backend, fee=10):
    led = backend.open(fee_bps=fee, symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("a", cash=100_000)
    led.open_account("b", cash=0, holdings={"AAA": 1_000})
    return led


def _trade(led, cycle: int, n: int, qty: int = 7) -> None:
    """a buys `qty` AAA from b at PRICE through a reserved order, in `cycle`."""
    oid = f"a-c{cycle}-{n}"
    assert led.reserve(order_id=oid, account="a", side="buy", symbol="AAA", qty=qty, limit_price=PRICE,
                       cycle=cycle) is None
    res = led.settle(cycle, [Fill(f"f{cycle}-{n}", cycle, 1, "AAA", PRICE, qty, "a", "b", oid, "")])
    assert res.ok, res.rejection


def _fees(led, cycle: int) -> list[tuple[int, int]]:
    return [(f["buyer_fee"], f["seller_fee"]) for f in led.fills(cycle=cycle, limit=None)]


def _sqlite_only(backend):
    if backend.name != "sqlite":
        pytest.skip("the invariant checker (doctor) reads SQLite files")


def test_fills_are_charged_the_fee_in_force_at_their_cycle_and_open_buys_are_reheld(ledger_backend):
    led = _ledger(ledger_backend, fee=10)
    _trade(led, 1, 0)
    assert led.reserve(order_id="a-open", account="a", side="buy", symbol="AAA", qty=20, limit_price=PRICE,
                       cycle=1) is None
    assert led.reserved_cash("a") == held(20, PRICE, 10)
    led.change_fee(3, 45)
    assert (led.branch_fee_bps, led.fee_bps_now, led.fee_changes()) == (10, 45, [(3, 45)])
    assert led.reserved_cash("a") == held(20, PRICE, 45)
    _trade(led, 3, 0)
    assert _fees(led, 1) == [(ceil_fee(7 * PRICE, 10),) * 2]
    assert _fees(led, 3) == [(ceil_fee(7 * PRICE, 45),) * 2]
    assert [led.fee_at(c) for c in (0, 2, 3, 9)] == [10, 10, 45, 45]
    # the open order fills at the new fee and gives back exactly what it holds
    res = led.settle(4, [Fill("f4", 4, 1, "AAA", PRICE - 3, 20, "a", "b", "a-open", "")])
    assert res.ok and led.reserved_cash("a") == 0
    fees = ceil_fee(7 * PRICE, 10) + ceil_fee(7 * PRICE, 45) + ceil_fee(20 * (PRICE - 3), 45)
    assert led.cash("a") == 100_000 - 7 * PRICE * 2 - 20 * (PRICE - 3) - fees
    if ledger_backend.name == "sqlite":
        assert check_ledger(led.conn) == []


def test_a_change_is_refused_for_a_bad_fee_a_settled_cycle_and_an_unaffordable_reservation(ledger_backend):
    led = _ledger(ledger_backend, fee=0)
    for bad in (-1, 1001, 2.5):
        with pytest.raises(LedgerError, match="a fee must be 0 to 1000 basis points"):
            led.change_fee(2, bad)
    _trade(led, 2, 0)
    with pytest.raises(LedgerError, match="settled fills or a fee change at cycle 2"):
        led.change_fee(2, 5)
    # a has 100,000 - 7,021 cents; two buys hold nearly all of it at 0 bps
    cash = led.cash("a")
    big = cash // PRICE - 3
    for oid, q in (("a-c3-0", 3), ("a-c3-1", big - 3)):
        assert led.reserve(order_id=oid, account="a", side="buy", symbol="AAA", qty=q, limit_price=PRICE,
                           cycle=3) is None
    assert led.orders_over_budget(0) == []
    assert led.orders_over_budget(1000) == [("a-c3-1", "a")]  # the newest goes first, until the rest fits
    before = led.dump_state()
    with pytest.raises(LedgerError, match="a's open buy orders would hold .* cancel them before the fee changes"):
        led.change_fee(4, 1000)
    assert led.dump_state() == before and led.fee_changes() == []
    led.release("a-c3-1", cycle=4)
    led.change_fee(4, 1000)
    assert led.reserved_cash("a") == held(3, PRICE, 1000)
    with pytest.raises(LedgerError, match="fee change at cycle 4"):
        led.change_fee(4, 5)


def test_a_rollback_across_the_change_restores_the_old_fee_and_a_rerun_gives_identical_rows(ledger_backend):
    led = _ledger(ledger_backend, fee=10)

    def play(start: int) -> None:
        for c in range(start, 6):
            if c == 3:
                led.change_fee(3, 60)
            _trade(led, c, 0)
            assert led.reserve(order_id=f"a-c{c}-open", account="a", side="buy", symbol="AAA", qty=2,
                               limit_price=PRICE, cycle=c) is None

    play(1)
    state, fills = led.dump_state(), [led.fills(cycle=c, limit=None) for c in range(1, 6)]
    led.truncate_after(2)
    assert (led.fee_bps_now, led.fee_changes()) == (10, [])
    assert led.reserved_cash("a") == 2 * held(2, PRICE, 10)  # the two open buys of cycles 1 and 2, at 10 bps
    if ledger_backend.name == "sqlite":
        assert check_ledger(led.conn) == []
    play(3)
    assert led.dump_state() == state
    assert [led.fills(cycle=c, limit=None) for c in range(1, 6)] == fills
    assert led.fee_changes() == [(3, 60)]


def test_a_fork_before_the_change_keeps_the_old_fee_and_one_after_it_carries_the_new_one(ledger_backend):
    led = _ledger(ledger_backend, fee=10)
    main = led.branch_id
    for c in range(1, 5):
        if c == 3:
            led.change_fee(3, 60)
        _trade(led, c, 0)
    assert led.reserve(order_id="a-open", account="a", side="buy", symbol="AAA", qty=5, limit_price=PRICE,
                       cycle=4) is None
    before = led.fork(2, name="before")
    assert (led.branch_fee_bps, led.fee_bps_now, led.fee_changes()) == (10, 10, [])
    _trade(led, 3, 1)
    assert _fees(led, 3) == [(ceil_fee(7 * PRICE, 10),) * 2]  # the parent's change is not the fork's
    led.use(led.run_id, main)
    after = led.fork(4, name="after")
    assert (led.branch_fee_bps, led.fee_bps_now, led.fee_changes()) == (10, 60, [(4, 60)])
    assert led.reserved_cash("a") == held(5, PRICE, 60)
    _trade(led, 5, 0)
    assert _fees(led, 5) == [(ceil_fee(7 * PRICE, 60),) * 2]
    assert [led.fee_at(c) for c in (1, 3, 4, 5)] == [10, 60, 60, 60]
    # the fork rolled back before its own fork cycle is rebuilt from its parent's state at that cycle
    led.truncate_after(2)
    assert (led.fee_bps_now, led.fee_changes(), led.reserved_cash("a")) == (10, [], 0)
    assert before != after
    if ledger_backend.name == "sqlite":
        assert check_ledger(led.conn) == []


# ---- a property: any fee schedule, rolled back anywhere, equals the straight run up to there ----------------
# (a fee change at the start of the cycle in bps, or none; buys (qty, filled)): small buys mostly left open,
# so the open reservations reach the account's cash and fee rises need cancellations
CYCLE = st.tuples(st.none() | st.integers(0, 1000),
                  st.lists(st.tuples(st.integers(1, 12), st.integers(0, 3)), max_size=6))


def _play(led, cycles, upto: int | None = None) -> None:
    """Cycle by cycle, as the floor does: cancel what the new fee cannot hold, change the fee, then buys
    (each reserved at PRICE, partly filled at PRICE - 1, the rest left open)."""
    for c, (fee, buys) in enumerate(cycles, 1):
        if upto is not None and c > upto:
            return
        if fee is not None:
            for oid, _ in led.orders_over_budget(fee):
                assert led.release(oid, cycle=c) is None
            led.change_fee(c, fee)
        fills = []
        for n, (qty, filled) in enumerate(buys):
            oid = f"a-c{c}-{n}"
            if led.reserve(order_id=oid, account="a", side="buy", symbol="AAA", qty=qty, limit_price=PRICE,
                           cycle=c) is None and min(filled, qty):
                fills.append(Fill(f"f{c}-{n}", c, 1, "AAA", PRICE - 1, min(filled, qty), "a", "b", oid, ""))
        assert led.settle(c, fills).ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cycles=st.lists(CYCLE, min_size=1, max_size=6), cut=st.integers(0, 6))
def test_any_fee_schedule_rolled_back_anywhere_equals_the_straight_run_and_holds_the_invariants(cycles, cut):
    from ledger_backends import Backend

    cut = min(cut, len(cycles))
    full, straight = _ledger(Backend("sqlite"), fee=7), _ledger(Backend("sqlite"), fee=7)
    _play(full, cycles)
    assert check_ledger(full.conn) == []
    full.truncate_after(cut)
    _play(straight, cycles, upto=cut)
    assert full.dump_state() == straight.dump_state()
    assert (full.fee_bps_now, full.fee_changes()) == (straight.fee_bps_now, straight.fee_changes())
    assert check_ledger(full.conn) == []
    if cut:
        expected = next((f for f, _ in reversed(cycles[:cut]) if f is not None), 7)
        assert full.fee_bps_now == expected
