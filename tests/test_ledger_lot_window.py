"""The ledger's in-memory lot queues hold at most `lots.LOT_WINDOW` open lots per stream (issue 13).

The rest of a stream's open lots stay in the `lots` table and are read back as FIFO consumption reaches
them. None of that may change a row: the same fills give the same fills, lots, positions and balances
rows, and the same realized PnL, whatever the window. The window is shrunk here to 1 or 2 lots so that
every path (spilling, refilling from stored chunks and from the batch's unwritten chunk, rollback and
fork of a spilled stream, reloading the mirror) runs on small scripts.
"""
from __future__ import annotations

import random
from contextlib import contextmanager

import pytest
import test_ledger_properties as props
import test_ledger_versioning as versioning

from ledger import lots
from ledger.store import Ledger
from ledger.types import Fill


@contextmanager
def window(n: int):
    keep = lots.LOT_WINDOW
    lots.LOT_WINDOW = n
    try:
        yield
    finally:
        lots.LOT_WINDOW = keep


# The property re-runs stay on SQLite: the window's logic is the same on both backends, and its reads of
# spilled lots on PostgreSQL are covered below (a small window, rollback, replay and fork of spilled streams).
@pytest.mark.parametrize("ledger_backend", ["sqlite"], indirect=True)
def test_property_streams_with_a_one_lot_window(ledger_backend):
    with window(1):
        props.test_random_streams_long_only(ledger_backend=ledger_backend)
        props.test_random_streams_with_shorting(ledger_backend=ledger_backend)


@pytest.mark.parametrize("ledger_backend", ["sqlite"], indirect=True)
def test_rollback_and_fork_with_a_two_lot_window(ledger_backend):
    with window(2):
        versioning.test_truncate_after_restores_exact_state_and_replay_is_identical(ledger_backend=ledger_backend)
        versioning.test_fork_sees_the_past_exactly_and_leaves_the_source_untouched(ledger_backend=ledger_backend)


def _batches(seed: int, cycles: int) -> list[list[tuple]]:
    """Multi-fill cycles between three accounts that can short: each account's streams get many lots in
    one batch and are consumed through them within the same batch (the unwritten chunk) and later."""
    rng = random.Random(seed)
    out = []
    for cycle in range(1, cycles + 1):
        fills = []
        for i in range(rng.randint(1, 12)):
            b, s = rng.sample(versioning.ACCTS, 2)
            fills.append((f"f{cycle}-{i}", cycle, i, rng.choice(versioning.SYMS), rng.randint(90, 110),
                          rng.randint(1, 4), b, s, "", ""))
        out.append(fills)
    return out


def _new_ledger(backend) -> Ledger:
    led = backend.open(fee_bps=20, allow_short=True, short_limit=10**6, symbols=versioning.SYMS)
    led.start_run(config={"test": 1}, seed=3)
    for i, a in enumerate(versioning.ACCTS):
        led.open_account(a, cash=10**9, holdings={"AAA": 10 + i, "BBB": 5}, cost={"AAA": 100, "BBB": 90})
    return led


def _run(backend, batches: list[list[tuple]], upto: int | None = None, led: Ledger | None = None) -> Ledger:
    led = led or _new_ledger(backend)
    for fills in batches[:upto]:
        cycle = fills[0][1]
        with led.transaction():
            res = led.settle(cycle, [Fill(*f) for f in fills])
        assert res.ok, res.rejection
    return led


def test_a_small_window_writes_the_same_rows_and_rolls_back_exactly(ledger_backend):
    batches = _batches(7, 40)
    ref = _run(ledger_backend, batches)
    ref_rows, ref_seen = versioning.own_rows(ref), versioning.observe(ref)
    with window(2):
        led = _run(ledger_backend, batches)
        assert versioning.own_rows(led) == ref_rows
        assert versioning.observe(led) == ref_seen
        assert max(len(p.long) + len(p.short) for p in led._st.pos.values()) <= 2  # noqa: SLF001
        # a rollback, a replay, and a fork of spilled streams
        led.truncate_after(17)
        _run(ledger_backend, batches[17:], led=led)
        assert versioning.own_rows(led) == ref_rows
        main = led.ref
        fork_id = led.fork(25)
        _run(ledger_backend, batches[25:], led=led)
        fork_seen = versioning.observe(led)
        led.use(main.run_id, main.branch_id)
        assert versioning.observe(led) == ref_seen
        # a reloaded mirror (another connection's commit, or a failed transaction) goes on identically
        led.use(main.run_id, fork_id)
        led._reload()  # noqa: SLF001
        assert versioning.observe(led) == fork_seen


def test_an_account_that_only_buys_keeps_a_bounded_queue(ledger_backend):
    """A background class's pattern: a huge opening lot, then buys that never reach the front of FIFO."""
    led = ledger_backend.open(symbols=["AAA"])
    led.start_run(config={}, seed=0)
    led.open_account("bg", cash=10**12, holdings={"AAA": 10**8}, cost={"AAA": 100}, kind="background")
    led.open_account("t", cash=10**12, holdings={"AAA": 10**8}, cost={"AAA": 100})
    for cycle in range(1, 201):
        fills = [Fill(f"f{cycle}-{i}", cycle, i, "AAA", 100 + i, 1, *(("bg", "t") if i % 3 else ("t", "bg")))
                 for i in range(30)]
        with led.transaction():
            assert led.settle(cycle, fills).ok
    st = led._st  # noqa: SLF001
    assert st.pos[("bg", "AAA")].lo - st.pos[("bg", "AAA")].lc > 10**8  # thousands of open lots ...
    assert max(len(p.long) + len(p.short) for p in st.pos.values()) <= lots.LOT_WINDOW  # ... few in memory
