"""Keyframes and cycle journals: the books at any cycle, rebuilt from the newest keyframe at or before it with
the journals since, equal the books the run had at that cycle, on a branch and across a fork's lineage."""
from __future__ import annotations

from collections import deque
from enum import Enum

import pytest
from floor_helpers import fast_config
from pydantic import BaseModel

from floor.runtime import KEYFRAME_EVERY, AlignmentError
from floor.session import FloorSession
from market.background import BackgroundMarket
from market.background.config import BackgroundConfig
from market.exchange import Exchange
from market.journal import CycleJournal, ReplayError, decode, replay_journals, restore_at
from market.orders import CancelOrder, Side, SubmitOrder, TimeInForce


def _canon(obj):
    """A plain nested value equal for equal contents, whatever objects are shared by reference (pickle bytes
    depend on that sharing, so two equal exchanges need not pickle to the same bytes)."""
    if isinstance(obj, float) and obj != obj:
        return "nan"  # NaN != NaN, but two NaNs in the same place are the same state
    if obj is None or isinstance(obj, int | float | str | bytes | Enum):
        return obj
    if isinstance(obj, type):
        return "class", obj.__module__, obj.__qualname__
    if isinstance(obj, BaseModel):
        return type(obj).__name__, obj.model_dump_json()
    if isinstance(obj, dict):
        return "dict", tuple((_canon(k), _canon(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple | deque):
        return type(obj).__name__, getattr(obj, "maxlen", None), tuple(_canon(v) for v in obj)
    if isinstance(obj, set | frozenset):
        return "set", tuple(sorted(map(repr, obj)))
    reduced = obj.__reduce_ex__(4)
    return type(obj).__name__, _canon(reduced[1]), _canon(reduced[2] if len(reduced) > 2 else None)


def books_of(ex: Exchange):
    """Everything an exchange holds but the owner index (which records who asked, not what is there)."""
    return _canon({k: v for k, v in ex.__getstate__().items() if k != "_owners"})


def _small_market() -> Exchange:
    cfg = BackgroundConfig(ticks_per_cycle=5, noise={"count": 40}, value={"count": 5})
    ex = Exchange(background=BackgroundMarket(cfg, seed=11), tape_size=50, id_memory_cycles=1, bar_history=16)
    ex.cycle = 1
    return ex


def test_replaying_journals_rebuilds_every_cycle_exactly():
    ex = _small_market()
    keyframe = ex.snapshot()
    journals, live = [], [books_of(ex)]
    for cycle in range(1, 13):
        j = CycleJournal()
        j.advance(ex, 5)
        bid = ex.best_bid("AAPL")
        # a floor trader rests a DAY order, crosses with another, and cancels one from an earlier cycle
        j.submit(ex, SubmitOrder(f"t-c{cycle}-0", "t", "AAPL", Side.BUY, 3, price=bid, tif=TimeInForce.DAY))
        j.submit(ex, SubmitOrder(f"t-c{cycle}-1", "t", "MSFT", Side.SELL, 2, price=ex.best_bid("MSFT")))
        j.submit(ex, SubmitOrder(f"t-c{cycle}-2", "t", "NVDA", Side.BUY, 1, price=ex.best_bid("NVDA") - 5))
        if cycle > 1:
            j.cancel(ex, CancelOrder(f"t-c{cycle - 1}-2", owner="t"))
        j.end_cycle(ex)
        journals.append(j.encode())
        live.append(books_of(ex))
    assert live[1] != live[12]
    for c in (0, 1, 5, 12):
        assert books_of(restore_at(keyframe, journals[:c])) == live[c]
    # moving an already rebuilt copy on by the next journals gives the same books
    part = restore_at(keyframe, journals[:4])
    assert books_of(replay_journals(part, journals[4:9])) == live[9]


def test_a_journal_that_does_not_lead_where_the_cycle_ended_is_refused():
    ex = _small_market()
    keyframe = ex.snapshot()
    j = CycleJournal()
    j.advance(ex, 5)
    j.submit(ex, SubmitOrder("t-c1-0", "t", "AAPL", Side.BUY, 5, price=ex.best_ask("AAPL")))
    j.end_cycle(ex)
    tampered = CycleJournal()
    tampered.ops = [op for op in decode(j.encode()) if op[0] != "submit"]  # the floor's order left out
    with pytest.raises(ReplayError, match="diverged"):
        restore_at(keyframe, [tampered.encode()])
    with pytest.raises(ReplayError, match="not a cycle journal"):
        restore_at(keyframe, [b"garbage"])


def test_floor_books_at_every_cycle_match_the_run_on_a_branch_and_a_fork(tmp_path):
    session = FloorSession(tmp_path / "f.db", fast_config())
    live: dict[tuple[int, int], tuple] = {}

    def remember(report):
        run_id, branch_id, cycle = session.floor.at
        live[(branch_id, cycle)] = books_of(session.floor.exchange)

    try:
        session.start(seed=3)
        run_id, main_branch, _ = session.floor.at
        live[(main_branch, 0)] = books_of(session.floor.exchange)
        session.run(KEYFRAME_EVERY + 7, on_cycle=remember)
        floor = session.floor
        for c in (0, 3, KEYFRAME_EVERY - 1, KEYFRAME_EVERY, KEYFRAME_EVERY + 7):
            assert books_of(floor.exchange_at(run_id, main_branch, c)) == live[(main_branch, c)], c
        # only keyframe cycles hold a whole snapshot; every cycle holds a journal
        conn = floor.ledger.conn
        assert [c for (c,) in conn.execute("SELECT cycle FROM market_snapshots ORDER BY cycle")] == [0, KEYFRAME_EVERY]
        assert conn.execute("SELECT count(*) FROM market_journal").fetchone()[0] == KEYFRAME_EVERY + 7

        # a fork between keyframes: its books are rebuilt from the parent's keyframe and journals, then its own
        # (with another ticks_per_cycle, so that its cycles differ from the original's)
        fork_cfg = fast_config(market={"ticks_per_cycle": 7, "noise": {"count": 300}})
        session.fork(KEYFRAME_EVERY - 3, fork_cfg)
        session.run(8, on_cycle=remember)
        fork_branch = session.floor.at[1]
        assert fork_branch != main_branch
        at_fork = KEYFRAME_EVERY - 3
        # at the fork cycle the fork's books are the parent's, with the fork's background settings
        parent_then = floor.exchange_at(run_id, main_branch, at_fork)
        assert books_of(parent_then) == live[(main_branch, at_fork)]
        parent_then.background.reconfigure(fork_cfg.market, parent_then)
        assert books_of(floor.exchange_at(run_id, fork_branch, at_fork)) == books_of(parent_then)
        for c in (KEYFRAME_EVERY - 2, KEYFRAME_EVERY, KEYFRAME_EVERY + 5):
            assert books_of(floor.exchange_at(run_id, fork_branch, c)) == live[(fork_branch, c)], c
        assert live[(fork_branch, KEYFRAME_EVERY)] != live[(main_branch, KEYFRAME_EVERY)]
        # the original branch is untouched by the fork
        assert books_of(floor.exchange_at(run_id, main_branch, KEYFRAME_EVERY + 2)) == live[(main_branch, KEYFRAME_EVERY + 2)]
        with pytest.raises(AlignmentError, match="no market snapshot"):
            floor.exchange_at(run_id, fork_branch, KEYFRAME_EVERY + 30)
    finally:
        session.close()
