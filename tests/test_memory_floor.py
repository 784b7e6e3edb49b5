"""Learning traders on the real floor: memories, learner choices and decisions survive a rollback and
re-run bit for bit; default traders record nothing."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config, trader_orders

from floor.session import FloorSession
from ledger.memory_store import load_memories

GRIDS = {"momentum": ("threshold", (0.005, 0.015, 0.03)), "mean_reversion": ("entry_z", (1.0, 2.0, 3.0))}


def learning_config():
    cfg = fast_config()
    traders = [t.model_dump() | ({"learning": {"param": GRIDS[t.theory][0], "grid": GRIDS[t.theory][1],
                                               "horizon": 3, "neighbours": 10}} if t.theory in GRIDS else {})
               for t in cfg.traders]
    return type(cfg).model_validate(cfg.model_dump() | {"traders": traders})


def memory_rows(session):
    led = session.floor.ledger
    return [(m.cycle, m.trader, m.symbol, m.vector.tobytes(), m.arm, m.decision, m.markout_bp, m.realized_pnl)
            for m in load_memories(led.conn, led.branch_id)]


def learning_traces(session, cycles):
    led = session.floor.ledger
    return [(c, t["agent"], t["payload"]) for c in cycles for t in led.traces(cycle=c, kind="learning", limit=None)]


@pytest.fixture
def session(tmp_path):
    s = FloorSession(tmp_path / "floor.db", learning_config())
    s.start(seed=5)
    yield s
    s.close()


def test_learning_floor_rollback_then_rerun_is_bit_for_bit(session):
    session.run(30)
    mems = memory_rows(session)
    assert mems and any(m[6] is not None for m in mems), "learning traders should have traded and seen outcomes"
    choices = learning_traces(session, range(16, 31))
    learners = {t.name for t in session.floor.config.traders if t.learning is not None}
    assert len(learners) >= 2 and {a for _, a, _ in choices} == learners  # every learner, every cycle
    assert len(choices) == 15 * len(learners)
    assert all(p["reason"].startswith(p["param"]) for _, _, p in choices)
    orders = trader_orders(session, range(16, 31))
    session.rollback(15)
    assert max(m[0] for m in memory_rows(session)) <= 15
    session.run(15)
    assert memory_rows(session) == mems
    assert learning_traces(session, range(16, 31)) == choices
    assert trader_orders(session, range(16, 31)) == orders


def test_a_floor_without_learning_records_no_memory(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.start(seed=5)
    try:
        s.run(5)
        assert s.floor.ledger.conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 0
        assert s.floor.ledger.traces(kind="learning", limit=None) == []
    finally:
        s.close()


def test_memory_command_lists_memories_and_what_was_learned(tmp_path):
    from typer.testing import CliRunner

    from cli.app import app

    db = tmp_path / "floor.db"
    s = FloorSession(db, learning_config())
    s.start(seed=5)
    s.run(20)
    led = s.floor.ledger
    mems = load_memories(led.conn, led.branch_id)
    s.close()
    learned = [m for m in mems if m.markout_bp is not None]
    assert learned, "some learning trader should have traded and seen an outcome in 20 cycles"
    trader = learned[0].trader
    param = learning_config().trader(trader).learning.param
    n = sum(m.trader == trader for m in mems)
    out = CliRunner().invoke(app, ["memory", trader, "--db", str(db), "--limit", "5"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"{trader}: {n} memories")
    assert f"what it has learned ({param}" in out.output and "last choices:" in out.output
    assert f"cycle 20: {param} " in out.output
    bad = CliRunner().invoke(app, ["memory", "nobody", "--db", str(db)])
    assert bad.exit_code != 0 and "no trader named 'nobody'" in bad.output


def test_a_forked_floor_learns_on_its_own_line(session):
    session.run(20)
    parent = memory_rows(session)
    parent_branch = session.floor.ledger.branch_id
    cfg = session.floor.config
    other = type(cfg).model_validate(cfg.model_dump() | {"traders": [
        t.model_dump() | ({"learning": t.learning.model_dump() | {"grid": (4.0, 5.0)}} if t.theory == "mean_reversion"
                          else {}) for t in cfg.traders]})
    session.fork(10, other, label="other-grid")
    session.run(10)
    forked = memory_rows(session)
    assert [r for r in forked if r[0] <= 10 - 3] == [r for r in parent if r[0] <= 10 - 3]  # shared past
    assert all(r[4] in ("4.0", "5.0") for r in forked if r[0] > 10 and r[1] == "mean_reversion")
    arms = {p["arm"] for _, a, p in learning_traces(session, range(11, 21)) if a == "mean_reversion"}
    assert arms and arms <= {"4.0", "5.0"}  # the fork's learner chooses from its own grid
    led = session.floor.ledger
    assert [(m.cycle, m.trader, m.symbol, m.vector.tobytes(), m.arm, m.decision, m.markout_bp, m.realized_pnl)
            for m in load_memories(led.conn, parent_branch)] == parent  # the original line is untouched


def test_two_learning_floors_in_one_process_keep_their_own_memory(tmp_path, session):
    session.run(12)
    alone = memory_rows(session)
    other = FloorSession(tmp_path / "other.db", learning_config())
    again = FloorSession(tmp_path / "again.db", learning_config())
    try:
        other.start(seed=9)
        again.start(seed=5)
        for _ in range(12):  # cycle by cycle, alternating: each floor's decide and settle interleave
            again.run(1)
            other.run(1)
        assert memory_rows(again) == alone
        assert memory_rows(other) != alone
    finally:
        other.close()
        again.close()
