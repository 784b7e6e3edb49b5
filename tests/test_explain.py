"""Rule-mode answers are built from the ledger's records, factual and specific; LLM mode uses read-only tools."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config
from langchain_core.messages import AIMessage

from floor.session import FloorSession
from traders import explain


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    s = FloorSession(tmp_path_factory.mktemp("explain") / "floor.db", fast_config(seed=5))
    s.start()
    s.run(40)
    s.leaderboard()  # aligns books and ledger to the checkpoint
    yield s
    s.close()


def _ask(s, q):
    f = s.floor
    return explain.answer(f.ledger, q, f.marks(), f.trader_names, list(f.by_symbol))


def _a_trade(s):
    """Some floor trader's fill in this run: (trader, side, symbol, cycle)."""
    for f in s.floor.ledger.fills(limit=None):
        for side, who in (("buy", f["buyer"]), ("sell", f["seller"])):
            if who in s.floor.trader_names:
                return who, side, f["symbol"], f["cycle"]
    pytest.fail("the 40-cycle run has no floor trade to explain")


def test_parse_question():
    q = explain.parse_question("@momentum why did you sell NVDA in cycle 12?", ["momentum"], ["NVDA", "AAPL"])
    assert q == {"trader": "momentum", "unknown": None, "cycle": 12, "symbol": "NVDA", "side": "sell",
                 "intent": "decision"}
    assert explain.parse_question("@arbitrage what is your position and PnL?", ["arbitrage"], [])["intent"] == "position"
    assert explain.parse_question("who is winning and why?", ["a"], [])["intent"] == "winner"
    assert explain.parse_question("@nobody hi", ["a"], [])["unknown"] == "nobody"


def test_why_a_real_trade_quotes_the_stored_decision_and_its_fills(run):
    trader, side, symbol, cycle = _a_trade(run)
    ledger = run.floor.ledger
    verb = "buy" if side == "buy" else "sell"
    text = _ask(run, f"@{trader} why did you {verb} {symbol} in cycle {cycle}?")
    decision = ledger.traces(cycle=cycle, agent=trader, kind="decision", limit=1)[0]["payload"]
    assert f"In cycle {cycle}" in text
    assert decision["rationale"] in text
    fills = [f for f in ledger.fills(cycle=cycle, account=trader, symbol=symbol, limit=None)
             if (f["buyer"] if side == "buy" else f["seller"]) == trader]
    assert f"{sum(f['qty'] for f in fills)} shares" in text
    # Without a cycle, the latest such trade is explained.
    latest = _ask(run, f"@{trader} why did you {verb} {symbol}?")
    assert "In cycle" in latest and "Reasoning:" in latest


def test_a_decision_that_does_not_exist_is_said_so(run):
    assert "There is no cycle 999" in _ask(run, "@momentum why did you sell NVDA in cycle 999?")
    ledger = run.floor.ledger
    for c in range(1, 41):
        d = ledger.traces(cycle=c, agent="risk_parity", kind="decision", limit=1)[0]["payload"]
        if not any(o["symbol"] == "NVDA" and o["side"] == "sell" for o in d["orders"]):
            text = _ask(run, f"@risk_parity why did you sell NVDA in cycle {c}?")
            assert text.startswith(f"No — in cycle {c} I did not decide to sell NVDA")
            assert d["rationale"] in text
            return
    pytest.fail("risk_parity sold NVDA every cycle")


def test_position_and_pnl_match_the_ledger(run):
    trader = _a_trade(run)[0]
    marks = run.floor.marks()
    text = _ask(run, f"@{trader} what is your position and PnL?")
    for p in run.floor.ledger.positions(trader, marks):
        if p.qty:
            assert f"{p.symbol}: {p.qty} shares" in text
    row = next(r for r in run.floor.ledger.leaderboard(marks) if r["account"] == trader)
    assert f"${row['value'] / 100:,.2f}" in text


def test_who_is_winning_names_the_leader(run):
    board = run.floor.ledger.leaderboard(run.floor.marks())
    text = _ask(run, "who is winning and why?")
    if board[0]["change"] == board[-1]["change"]:
        assert "Nobody is ahead" in text
    else:
        assert f"**{board[0]['account']}**" in text and f"**{board[-1]['account']}**" in text


def test_unknown_trader(run):
    assert "no trader called @bob" in _ask(run, "@bob why?")


class _ScriptedModel:
    """A chat model stand-in: first asks for the trader's decisions tool, then answers with what it saw."""

    def __init__(self):
        self.tools, self.seen = [], []

    def bind_tools(self, tools):
        self.tools = [t.name for t in tools]
        return self

    def invoke(self, msgs):
        self.seen.append(msgs)
        if len(self.seen) == 1:
            return AIMessage("", tool_calls=[{"name": "my_decisions", "args": {"cycle": 3}, "id": "c1"}])
        return AIMessage(f"From my records: {msgs[-1].content[:60]}")


def test_llm_mode_answers_with_read_only_tools(run):
    model = _ScriptedModel()
    text = explain.answer_with_llm(run.floor, "momentum", "why did you hold in cycle 3?", model=model)
    assert "place_order" not in model.tools and "cancel_order" not in model.tools and "post_message" not in model.tools
    assert "my_decisions" in model.tools and "my_portfolio" in model.tools
    assert text.startswith("From my records:") and "'cycle': 3" in text
