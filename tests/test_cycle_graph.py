"""The trading cycle through the whole LangGraph graph: nodes, parallel decisions, settlement, state size."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config, ledger_fills

from floor.session import FloorSession
from graphs.cycle_graph import NODES


@pytest.fixture
def session(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.start()
    yield s
    s.close()


def test_a_cycle_runs_every_node_and_settles_into_the_ledger(session):
    seen, decided = [], []
    for chunk in session.graph.stream({}, session.thread.config_dict, context=session.context,
                                      stream_mode="updates"):
        seen.extend(chunk.keys())
        decided += [[d["trader"] for d in update["decisions"]] for update in chunk.values() if "decisions" in update]
    # an all-rule floor decides in the discussion node, and without approval executes and settles there too,
    # after the risk check: the whole cycle is one step (cycle_graph.py)
    assert [n for n in NODES if n in seen] == ["discussion"]
    assert session.floor.ledger.traces(cycle=1, node="risk", limit=None)
    # every trader is rule-based: one decide task for all of them, in config order (graphs/nodes/fan_out.py)
    assert decided == [[t.name for t in session.floor.config.traders]]
    state = session.state()
    assert state["cycle"] == 1
    assert {d["trader"] for d in state["decisions"]} == {t.name for t in session.floor.config.traders}
    fills = session.floor.ledger.fills(cycle=1, limit=None)
    assert len(fills) > 0
    assert state["summary"]["trades"] >= len(fills)
    kinds = {t["kind"] for t in session.floor.ledger.traces(cycle=1, limit=None)}
    assert {"market_moved", "topic", "decision", "risk_check"} <= kinds
    assert session.floor.ledger.messages(cycle=1, limit=None)


def test_cash_and_shares_are_conserved_over_a_run(session):
    ledger = session.floor.ledger
    before = {a.name: (ledger.cash(a.name), ledger.holdings(a.name)) for a in ledger.accounts()}
    session.run(40)
    after = {a.name: (ledger.cash(a.name), ledger.holdings(a.name)) for a in ledger.accounts()}
    assert sum(c for c, _ in after.values()) == sum(c for c, _ in before.values())
    for sym in session.floor.by_symbol:
        assert sum(h.get(sym, 0) for _, h in after.values()) == sum(h.get(sym, 0) for _, h in before.values())
    floor_fills = [f for f in ledger.fills(limit=None) if f["buyer"] in session.floor.trader_names
                   or f["seller"] in session.floor.trader_names]
    assert floor_fills, "the floor traders should have traded within 40 cycles"
    for name in session.floor.trader_names:
        assert ledger.cash(name) >= 0
        assert all(q >= 0 for q in ledger.holdings(name).values())


def test_same_seed_gives_the_same_run(tmp_path):
    runs = []
    for i in range(2):
        s = FloorSession(tmp_path / f"f{i}.db", fast_config())
        s.start(seed=11)
        s.run(25)
        runs.append((ledger_fills(s, range(1, 26)), s.floor.ledger.dump_state(), s.state()["summary"]))
        s.close()
    assert runs[0] == runs[1]
    other = FloorSession(tmp_path / "other.db", fast_config())
    other.start(seed=12)
    other.run(25)
    assert ledger_fills(other, range(1, 26)) != runs[0][0]
    other.close()


def _checkpoint_bytes(session: FloorSession) -> int:
    tup = session.saver.get_tuple(session.thread.config_dict)
    _, blob = session.saver.serde.dumps_typed(tup.checkpoint)
    return len(blob)


def test_checkpoint_size_stays_flat_as_the_run_grows(tmp_path):
    cfg = fast_config(market={"ticks_per_cycle": 4, "noise": {"count": 100}, "value": {"count": 10}})
    s = FloorSession(tmp_path / "flat.db", cfg)
    s.start()
    s.run(10)
    at_10 = _checkpoint_bytes(s)
    s.run(490)
    at_500 = _checkpoint_bytes(s)
    assert s.state()["cycle"] == 500
    # this cycle's data (decisions, orders, quotes) varies a little; nothing may grow with the run
    assert at_500 <= at_10 * 1.25 + 2048, (at_10, at_500)
    s.close()


def test_a_floor_with_an_llm_trader_decides_in_one_task_per_trader(tmp_path, openai_stub):
    """Their model requests then run in parallel (one LangGraph task each), whatever the rule traders do."""
    from llm_floor import llm_floor_config

    s = FloorSession(tmp_path / "llm.db", llm_floor_config(openai_stub.base_url))
    s.start()
    try:
        decided = []
        for chunk in s.graph.stream({}, s.thread.config_dict, context=s.context, stream_mode="updates"):
            decided += [[d["trader"] for d in chunk["decide"]["decisions"]]] if "decide" in chunk else []
        assert sorted(decided) == sorted([t.name] for t in s.floor.config.traders)
        assert "momentum" in {d["trader"] for d in s.state()["decisions"] if d["mode"] != "rule"}
    finally:
        s.close()


def test_approving_every_order_at_the_risk_node_fills_as_settle_s_own_risk_stage(tmp_path):
    """The two paths of a rule cycle (graphs/cycle_graph.py): with approval on, the risk node checks and
    pauses, every order is approved, and the settle node executes and settles; without, the discussion node
    runs the check, the execution and the settlement itself. The same fills either way."""
    def run(approval: bool) -> tuple[list, int]:
        s = FloorSession(tmp_path / f"approval-{approval}.db", fast_config(approval=approval))
        s.start()
        pauses = 0
        for _ in range(4):
            report = s.run(1)[-1]
            while report.interrupted:
                pauses += 1
                report = s.resume(True)
        fills = ledger_fills(s, range(1, 5))
        s.close()
        return fills, pauses

    (asked, pauses), (plain, none) = run(True), run(False)
    assert pauses > 0 and none == 0
    assert asked == plain and plain
