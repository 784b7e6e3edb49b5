"""Rollback, fork and time travel keep the books and the ledger consistent with the checkpoint."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config, ledger_fills, trader_orders

from floor.session import FloorSession, SessionError


@pytest.fixture
def session(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.start(seed=5)
    yield s
    s.close()


def test_rollback_then_rerun_reproduces_the_cycles_bit_for_bit(session):
    session.run(40)
    original_fills = ledger_fills(session, range(31, 41))
    original_orders = trader_orders(session, range(31, 41))
    original_state = session.floor.ledger.dump_state()
    old_branch = session.state()["branch_id"]
    assert any(o for o in original_orders), "floor traders should have ordered in cycles 31-40"

    out = session.rollback(30)
    assert session.state()["cycle"] == 30
    assert out["kept_branch"] == old_branch and out["branch_id"] != old_branch
    assert session.floor.ledger.fills(cycle=31, limit=None) == []  # the new branch has no future yet

    session.run(10)
    assert session.state()["cycle"] == 40
    assert ledger_fills(session, range(31, 41)) == original_fills
    assert trader_orders(session, range(31, 41)) == original_orders
    assert session.floor.ledger.dump_state() == original_state


def test_the_discarded_future_stays_inspectable(session):
    session.run(12)
    future = ledger_fills(session, [11, 12])
    out = session.rollback(10)
    ledger = session.floor.ledger
    ledger.use(session.state()["run_id"], out["kept_branch"])
    assert ledger_fills(session, [11, 12]) == future


def test_fork_continues_with_other_parameters_and_leaves_the_original_untouched(session):
    session.run(20)
    original_thread = session.thread.thread_id
    original = ledger_fills(session, range(1, 21))
    original_state = session.floor.ledger.dump_state()

    cfg = session.floor.config
    bolder = cfg.model_copy(update={"traders": tuple(
        t.model_copy(update={"risk": t.risk.model_copy(update={"max_order_qty": 5})}) for t in cfg.traders)})
    fork = session.fork(12, bolder, label="timid")
    assert fork.thread_id != original_thread
    assert session.state()["cycle"] == 12
    assert ledger_fills(session, range(1, 13)) == original[: len(ledger_fills(session, range(1, 13)))]
    session.run(5)
    assert session.state()["cycle"] == 17
    for o in trader_orders(session, range(13, 18)):
        assert dict(o)["qty"] <= 5 or dict(o)["qty"] == 0

    session.use_thread(original_thread)
    st = session.state()
    assert st["cycle"] == 20
    session.floor.align(st["run_id"], st["branch_id"], st["cycle"])
    assert ledger_fills(session, range(1, 21)) == original
    assert session.floor.ledger.dump_state() == original_state


def test_langgraph_time_travel_from_an_old_checkpoint_keeps_the_ledger_consistent(session):
    """Running from an old checkpoint_id (LangGraph's own time travel) forks the ledger at that cycle."""
    session.run(15)
    reference = ledger_fills(session, range(9, 16))
    old = next(h for h in session.history() if h["cycle"] == 8)
    cfg = {"configurable": {"thread_id": session.thread.thread_id, "checkpoint_id": old["checkpoint_id"]}}
    session.graph.invoke({}, cfg, context=session.context, durability="exit")
    assert session.state()["cycle"] == 9
    session.run(6)
    assert ledger_fills(session, range(9, 16)) == reference


def test_rollback_beyond_the_run_is_refused_with_a_reason(session):
    session.run(3)
    with pytest.raises(SessionError, match="cannot roll back to cycle 9"):
        session.rollback(9)


def test_a_fork_of_a_fork_may_start_before_its_fork_point_and_a_rollback_says_why_not(session):
    session.run(6)
    straight = ledger_fills(session, range(1, 7))
    first = session.fork(4)
    session.run(1)
    with pytest.raises(SessionError, match=rf"thread {first.thread_id} begins at cycle 4, where it was forked from "
                                           r"run-1: roll it back to cycle 4 or later, or fork at cycle 2 \(a fork may "
                                           r"start from the line it came from\)"):
        session.rollback(2)
    second = session.fork(2)  # from the line the fork came from
    assert (second.parent_thread, second.forked_at) == (first.thread_id, 2)
    session.run(4)
    assert session.state()["cycle"] == 6
    assert ledger_fills(session, range(1, 7)) == straight  # the same seed and config: the same six cycles
