"""Fill-id idempotency through per-batch id ranges (ledger/fillids.py) and the encoded fills key.

The fast path skips per-id lookups when no stored id range overlaps the batch; these tests drive the
other cases: retries of old cycles, ids that are not increasing, leading zeros, ids without digits,
forks, several settlements in one cycle, and the garbage collector being restored.
"""
from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import fillkeys
from ledger.errors import RejectCode
from ledger.fillids import split, summarize
from ledger.types import Fill


@pytest.fixture
def led(ledger_backend):
    led = ledger_backend.open(symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("a", cash=10**9)
    led.open_account("b", cash=10**9, holdings={"AAA": 10**6})
    yield led
    led.close()


def F(fid: str, cycle: int, qty: int = 1, price: int = 100) -> Fill:
    return Fill(fid, cycle, 0, "AAA", price, qty, "a", "b")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="T0123456789-x,é", max_size=8))
def test_split_is_a_bijection(fid):
    prefix, n = split(fid)
    assert (prefix + str(n) if n >= 0 else prefix) == fid
    if n >= 0:
        assert str(n) == fid[len(prefix):]  # canonical tail: no sign, no leading zero


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="T01239,", max_size=5), unique=True, min_size=1, max_size=20))
def test_summary_ranges_cover_every_id(ids):
    summary = summarize(ids)
    for fid in ids:
        prefix, n = split(fid)
        lo, hi = summary[prefix]
        assert lo <= n <= hi
    assert set(summary) == {split(i)[0] for i in ids}


def test_summary_fast_path_is_not_fooled_by_commas_or_prefixes():
    assert summarize(["T1", "T2,T3"]) == {"T": [1, 1], "T2,T": [3, 3]}
    assert summarize(["T5", "T10", "T7"]) == {"T": [5, 10]}
    assert summarize(["T5", "T05", "U5"]) == {"T": [5, 5], "T0": [5, 5], "U": [5, 5]}
    assert summarize(["9", "10"]) == {"": [9, 10]}


def test_retry_of_an_old_cycle_is_a_no_op_and_a_changed_one_conflicts(led):
    for c in (1, 2, 3):
        assert led.settle(c, [F(f"T{10 * c + i}", c) for i in range(3)]).settled == 3
    before = led.dump_state()
    res = led.settle(1, [F("T10", 1), F("T11", 1), F("T12", 1)])
    assert res.ok and res.settled == 0 and res.duplicates == 3
    assert led.dump_state() == before
    res = led.settle(4, [F("T40", 4), F("T21", 4)])  # T21 was settled in cycle 2
    assert res.rejection.code == RejectCode.DUPLICATE_ID_CONFLICT
    assert led.dump_state() == before
    res = led.settle(4, [F("T40", 4), F("T21", 2)])  # an exact retry mixed with a new fill
    assert res.rejection.code == RejectCode.CYCLE_MISMATCH  # a batch holds one cycle's fills
    res = led.settle(4, [F("T40", 4), F("T41", 4)])
    assert res.settled == 2
    assert len(led.fills(limit=None)) == 11


def test_ids_that_are_not_increasing_are_still_new(led):
    assert led.settle(1, [F("x100", 1), F("x300", 1)]).settled == 2
    # x200 lies inside the stored range [100, 300] but was never settled: it must be accepted
    res = led.settle(2, [F("x200", 2), F("x5", 2), F("x300", 2)])
    assert res.rejection.code == RejectCode.DUPLICATE_ID_CONFLICT  # x300 exists (cycle 1)
    res = led.settle(2, [F("x200", 2), F("x5", 2)])
    assert res.ok and res.settled == 2 and res.duplicates == 0
    assert led.settle(2, [F("x200", 2)]).duplicates == 1
    assert sorted(f["fill_id"] for f in led.fills(limit=None)) == ["x100", "x200", "x300", "x5"]


def test_leading_zeros_and_ids_without_digits_are_distinct_ids(led):
    ids = ["T7", "T007", "T07", "abc", "abc0", "", "7", "07"]
    assert led.settle(1, [F(i, 1) for i in ids]).settled == len(ids)
    assert led.settle(1, [F(i, 1) for i in ids]).duplicates == len(ids)
    res = led.settle(2, [F("T007", 2)])
    assert res.rejection.code == RejectCode.DUPLICATE_ID_CONFLICT
    assert led.settle(2, [F("T0007", 2), F("abcd", 2)]).settled == 2


def test_forked_branch_sees_parent_ids_up_to_the_fork_only(led):
    for c in (1, 2, 3):
        assert led.settle(c, [F(f"T{c}", c)]).settled == 1
    main = led.branch_id
    led.fork(2)
    res = led.settle(3, [F("T2", 3)])  # T2 is the parent's (cycle 2): same id, other content
    assert res.rejection.code == RejectCode.DUPLICATE_ID_CONFLICT
    res = led.settle(3, [F("T3", 3, qty=5)])  # T3 is the parent's future: not visible here
    assert res.ok and res.settled == 1
    assert [f["fill_id"] for f in led.fills(limit=None)] == ["T1", "T2", "T3"]
    led.use(led.run_id, main)
    assert [f["qty"] for f in led.fills(limit=None)] == [1, 1, 1]


def test_several_settlements_in_one_cycle_continue_the_key(led):
    assert led.settle(5, [F("T1", 5), F("T2", 5)]).settled == 2
    assert led.settle(5, [F("T3", 5)]).settled == 1
    seqs = [r[0] for r in led.conn.execute("SELECT seq FROM fills ORDER BY seq")]
    assert [fillkeys.decode(s) for s in seqs] == [(led.branch_id, 5, i) for i in range(3)]
    led.truncate_after(4)
    assert led.fills(limit=None) == []
    assert led.settle(5, [F("T1", 5)]).settled == 1  # the ids are free again after the truncation
    assert led.last_cycle() == 5


def test_out_of_range_cycles_are_rejected(led):
    for c in (-1, fillkeys.MAX_CYCLE + 1):
        res = led.settle(c, [F("T1", c)])
        assert res.rejection.code == RejectCode.CYCLE_MISMATCH


def test_the_garbage_collector_is_restored(led):
    assert gc.isenabled()
    led.settle(1, [F("T1", 1)])
    assert gc.isenabled()
    led.settle(1, [F("T2", 1, qty=10**9)])  # rejected: b cannot deliver
    assert gc.isenabled()
    gc.disable()
    try:
        led.settle(2, [F("T3", 2)])
        assert not gc.isenabled()
    finally:
        gc.enable()
