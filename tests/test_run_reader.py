"""The light reader of `status`/`history` (floor/run_reader.py) sees what a read-only session sees: the
same state, history and leaderboard, at cycle 0, mid-run, on a fork, and while the owner goes on writing."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config

from floor.run_reader import RunReader
from floor.session import FloorSession


def _same_view(db) -> None:
    session = FloorSession(db, readonly=True)
    reader = RunReader(db)
    try:
        assert reader.thread.thread_id == session.thread.thread_id
        assert reader.state() == session.state()
        assert reader.history() == session.history()
        assert reader.leaderboard() == session.leaderboard()
    finally:
        reader.close()
        session.close()


@pytest.fixture
def owner(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.start(seed=4)
    yield s
    s.close()


def test_reader_equals_a_read_only_session_at_cycle_0_mid_run_and_on_a_fork(owner):
    db = owner.db_path
    _same_view(db)  # cycle 0: no marks recorded yet, the reader values at the books' marks
    owner.run(6)
    _same_view(db)
    owner.rollback(3)
    _same_view(db)
    owner.run(2)
    cfg = owner.floor.config
    owner.fork(4, cfg.model_copy(update={"fee_bps": 5}), label="fee 5")
    _same_view(db)  # the fork's thread is current: its own branch, no cycle of its own yet
    owner.run(2)
    _same_view(db)


def test_reader_leaderboard_moves_with_the_run_and_names_every_trader(owner):
    db = owner.db_path
    owner.run(3)
    reader = RunReader(db)
    try:
        first = reader.leaderboard()
        owner.run(3)
        second = reader.leaderboard()  # the same reader sees the newer settled cycle
    finally:
        reader.close()
    assert {r["account"] for r in first} == set(owner.floor.trader_names)
    assert first != second


def test_a_database_without_the_threads_checkpoints_is_refused_in_one_sentence(tmp_path, owner):
    owner.run(1)
    owner.conn.execute("DELETE FROM checkpoints")
    owner.conn.commit()
    with pytest.raises(LookupError, match="checkpoint"):
        RunReader(owner.db_path)
