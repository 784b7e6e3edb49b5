"""A scenario's fee change on the whole floor: every fill charged the fee in force at its cycle, the event
seen like the others, rollback across it and re-run identical, forks before it see it only through their
own scenario, the floor's config alignment untouched by it, and bad fee changes refused by validation."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config, ledger_fills, trader_orders

from floor.scenario_file import ScenarioError, parse
from floor.session import FloorSession
from ledger.invariants import check_ledger

FEE_AT, FEE = 3, 40
SCENARIO = {"name": "fees", "events": [{"kind": "fee_change", "at": FEE_AT, "fee_bps": FEE}]}


def ceil_fee(notional: int, bps: int) -> int:
    return -(-notional * bps // 10_000)


def _session(tmp_path, scenario=SCENARIO, seed=5, fee_bps=0, db=None) -> FloorSession:
    s = FloorSession(db or tmp_path / "floor.db", fast_config(fee_bps=fee_bps))
    s.own()
    s.floor.scenario = parse(scenario) if scenario is not None else None
    s.start(seed=seed)
    return s


def _fees_right(session, cycles, bps_of) -> int:
    """Asserts every fill of `cycles` is charged bps_of(cycle) per side; returns how many fills there were."""
    n = 0
    for c in cycles:
        for f in session.floor.ledger.fills(cycle=c, limit=None):
            want = ceil_fee(f["price"] * f["qty"], bps_of(c))
            assert (f["buyer_fee"], f["seller_fee"]) == (want, want), (c, f)
            n += 1
    return n


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fills_pay_the_fee_in_force_and_a_rollback_across_the_change_reruns_identically(tmp_path, request, backend):
    db = None if backend == "sqlite" else f"{request.getfixturevalue('pg_url')}&schema=fees"
    s = _session(tmp_path, fee_bps=5, db=db)
    try:
        s.run(6)
        led = s.floor.ledger
        assert _fees_right(s, range(1, FEE_AT), lambda c: 5) > 0
        assert _fees_right(s, range(FEE_AT, 7), lambda c: FEE) > 0
        assert (led.branch_fee_bps, led.fee_bps_now, led.fee_changes()) == (5, FEE, [(FEE_AT, FEE)])
        events = [(t["cycle"], t["payload"]) for t in led.traces(kind="scenario_event", limit=None)]
        assert events == [(FEE_AT, {"cycle": FEE_AT, "tick": 1, "kind": "fee_change", "symbol": None,
                                    "headline": f"Fee change: the exchange now charges {FEE} bps per side",
                                    "source": None, "move_pct": None, "tone": None, "fee_bps": FEE})]
        fills, orders, state = ledger_fills(s, range(1, 7)), trader_orders(s, range(1, 7)), led.dump_state()
        s.rollback(FEE_AT - 1)
        assert (s.floor.ledger.fee_bps_now, s.floor.ledger.fee_changes()) == (5, [])
        s.run(6 - (FEE_AT - 1))  # the config (5 bps) aligns without undoing the scenario's fee
        assert ledger_fills(s, range(1, 7)) == fills
        assert trader_orders(s, range(1, 7)) == orders
        assert s.floor.ledger.dump_state() == state
        s.rollback(4)  # a continuation after the change carries the fee in force there
        s.run(2)
        assert _fees_right(s, range(5, 7), lambda c: FEE) > 0
        if backend == "sqlite":  # the invariant checker (doctor) reads SQLite files
            assert check_ledger(s.floor.ledger.conn) == []
    finally:
        s.close()


def test_a_fork_before_the_change_sees_it_only_if_its_own_scenario_has_it(tmp_path):
    s = _session(tmp_path)
    try:
        s.run(4)
        main = s.thread.thread_id
        s.fork(1, label="inherits the scenario")  # the books carry the run's scenario: it fires again
        s.run(4)
        assert _fees_right(s, range(2, 6), lambda c: FEE if c >= FEE_AT else 0) > 0
        assert s.floor.ledger.fee_changes() == [(FEE_AT, FEE)]
        s.use_thread(main)
        s.floor.scenario = parse({"events": [{"kind": "news", "at": 2, "move_pct": 1}]})
        s.fork(1, label="another scenario")
        s.run(4)
        assert _fees_right(s, range(2, 6), lambda c: 0) > 0
        assert s.floor.ledger.fee_changes() == []
        assert check_ledger(s.floor.ledger.conn) == []
    finally:
        s.close()


@pytest.mark.parametrize(("event", "message"), [
    ({"fee_bps": -1}, r"events\[0\]\.fee_bps: Input should be greater than or equal to 0"),
    ({"fee_bps": 1001}, r"events\[0\]\.fee_bps: Input should be less than or equal to 1000"),
    ({"fee_bps": 2.5}, r"events\[0\]\.fee_bps: Input should be a valid integer"),
    ({"fee_bps": 5, "at": None, "when": {"symbol": "NVDA", "falls_pct": 5}},
     r"events\[0\]: a fee change happens at a cycle: give `at`, not `when`"),
    ({}, r"events\[0\]\.fee_bps: Field required"),
])
def test_bad_fee_changes_are_refused_with_a_clear_message(event, message):
    e = {"kind": "fee_change", "at": 3, **event}
    e = {k: v for k, v in e.items() if v is not None}
    with pytest.raises(ScenarioError, match=message):
        parse({"events": [e]}, "bad.yaml")


def test_two_fee_changes_in_one_cycle_are_refused():
    with pytest.raises(ScenarioError, match="bad.yaml: the file: two fee changes at cycle 3"):
        parse({"events": [{"kind": "fee_change", "at": 3, "fee_bps": 5},
                          {"kind": "fee_change", "at": 3, "fee_bps": 9}]}, "bad.yaml")


def test_open_buys_an_account_cannot_afford_at_the_new_fee_are_cancelled_newest_first(tmp_path):
    """An LLM trader leaves two GTC buys resting (nearly all its cash); a fee change to 200 bps at cycle 2
    cancels the newest on the book and in the ledger, and re-holds the other at the new fee."""
    from support.fake_chat import ScriptedChatModel, ai_tool_calls

    cfg = fast_config(chat={"enabled": False})
    risk = {"max_order_qty": 10_000, "max_position": 10_000, "cash_floor": 0, "max_relative_spread": 0.5}
    traders = tuple(t.model_copy(update={"mode": "llm", "initial_cash": 1_000_000,
                                         "risk": t.risk.model_copy(update=risk)}) if t.name == "momentum" else t
                    for t in cfg.traders)
    cfg = cfg.model_copy(update={"traders": traders})
    s = FloorSession(tmp_path / "floor.db", cfg, llm_models={"momentum": ScriptedChatModel(responses=[])})
    s.floor.scenario = parse({"events": [{"kind": "fee_change", "at": 2, "fee_bps": 200}]})
    s.start(seed=5)
    try:
        limit = int(s.floor.exchange.mid("NVDA") * 0.8)  # cents, well under the market: the orders rest
        cash = 1_000_000
        q0 = cash // 2 // limit
        q1 = (cash - q0 * limit) // limit  # together: nearly all the cash at 0 bps, too much at 200 bps
        order = {"symbol": "NVDA", "side": "buy", "order_type": "limit", "limit_price": limit / 100, "tif": "gtc"}
        hold = ai_tool_calls(("submit_decision", {"orders": [], "rationale": "hold", "actions": {}}))
        s.floor.llm_models["momentum"].responses.extend([
            ai_tool_calls(("submit_decision", {"orders": [{**order, "qty": q0}, {**order, "qty": q1}],
                                               "rationale": "resting bids", "actions": {"NVDA": "BUY"}})),
            *[hold] * 4])
        s.run(1)
        led = s.floor.ledger
        assert led.reserved_for("momentum-c1-0") is not None and led.reserved_for("momentum-c1-1") is not None
        s.run(1)
        assert led.fee_changes() == [(2, 200)]
        assert led.reserved_for("momentum-c1-1") is None and s.floor.exchange.order("momentum-c1-1") is None
        remaining, held = led.reserved_for("momentum-c1-0")
        assert held == remaining * (limit + ceil_fee(limit, 200)) == led.reserved_cash("momentum")
        cancels = led.traces(kind="fee_change_cancel", limit=None)
        assert [(t["cycle"], t["agent"], t["payload"]["order_id"]) for t in cancels] == [(2, "momentum", "momentum-c1-1")]
        closed = [o for o in led.orders(cycle=2, limit=None) if o["order_id"] == "momentum-c1-1"]
        assert [o["status"] for o in closed] == ["cancelled"]
        s.rollback(2)  # the books of cycle 2 are rebuilt from its journal: the cancel is replayed
        s.run(1)
        assert s.floor.exchange.order("momentum-c1-1") is None and s.floor.exchange.order("momentum-c1-0") is not None
        assert check_ledger(led.conn) == []
    finally:
        s.close()
