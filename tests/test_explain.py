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
    assert explain._shares(sum(f['qty'] for f in fills)) in text
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
            assert f"{p.symbol}: {explain._shares(p.qty)}" in text
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


def test_questions_it_cannot_answer_say_what_it_can_answer(run):
    for q in ("what is the weather?", "tell me a joke", "@momentum what is the weather?"):
        assert _ask(run, q).startswith("I can answer questions about"), q
    assert _ask(run, "why did somebody lose money?").startswith("Whose money? Name a trader: @")


def test_parse_names_a_trader_without_the_at_sign_and_the_money_intent():
    q = explain.parse_question("why did arbitrage lose money?", ["arbitrage", "momentum"], ["NVDA"])
    assert q["trader"] == "arbitrage" and q["intent"] == "pnl"
    assert explain.parse_question("what is the weather?", ["arbitrage"], [])["intent"] == "unknown"


def test_why_did_a_trader_lose_money_is_its_pnl_attribution(run):
    ledger, marks = run.floor.ledger, run.floor.marks()
    board = ledger.leaderboard(marks)
    loser = next((r for r in reversed(board) if any(p.realized_pnl or p.unrealized_pnl or p.fees
                                                     for p in ledger.positions(r["account"], marks))), None)
    assert loser is not None, "nobody traded in 40 cycles"
    name = loser["account"]
    text = _ask(run, f"why did {name} lose money?")
    verdict = "lost money" if loser["change"] < 0 else "made money" if loser["change"] > 0 else "neither"
    assert text.startswith(f"At cycle {ledger.last_cycle()}, **{name}** has {verdict}")
    assert f"Realized {explain._signed(loser['realized_pnl'])}" in text
    lines = [ln for ln in text.splitlines() if ln[:1].isdigit() and ": " in ln and " — realized " in ln]
    assert lines and lines[0].startswith("1. ")  # numbered from 1
    for p in ledger.positions(name, marks):  # each symbol's line adds up from the ledger's own figures
        unreal = p.unrealized_pnl or 0
        if p.realized_pnl or unreal or p.fees:
            total = p.realized_pnl + unreal - p.fees
            assert any(f"{p.symbol}: {explain._signed(total)} — realized {explain._signed(p.realized_pnl)}, "
                       f"unrealized {explain._signed(unreal)}" in ln for ln in lines), (p, text)


def test_claims_about_orders_say_whether_they_filled(run):
    text = _ask(run, "who is winning and why?")
    if "latest trading decision" in text:
        assert "did not fill in that cycle" in text or "filled in that cycle" in text


def test_tidy_numbers():
    assert explain._pct(-0.004) == "-0.004%" and explain._pct(0.0) == "0.00%" and explain._pct(1.234) == "+1.23%"
    assert explain._shares(1) == "1 share" and explain._shares(2) == "2 shares" and explain._shares(-1) == "-1 share"
    assert explain._signed(-400) == "-$4.00" and explain._signed(0) == "$0.00" and explain._usd(-5) == "-$0.05"


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
