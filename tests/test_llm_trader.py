"""The LLM trader through a scripted fake chat model: tool calls, streaming, parsing and validation,
retries and visible fallbacks, the budget and the answer cache."""
from __future__ import annotations

import json
import math
import threading

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import SystemMessage, ToolMessage
from langchain_core.tools import tool
from support.fake_chat import ScriptedChatModel, ai_text, ai_tool_calls

from market.instruments import DEFAULT_UNIVERSE
from traders.decision import Action, Decision, ProposedOrder
from traders.llm.budget import BUDGET_EXHAUSTED, Budget
from traders.llm.cache import LLMCache
from traders.llm.llm_decision import OrderLimits, UnparseableOutput, parse_llm_output
from traders.llm.settings import BudgetConfig, LLMConfig, RetryPolicy, parse_llm_configs
from traders.llm.trader import llm_decide, llm_decide_detailed

SYMBOLS = [i.symbol for i in DEFAULT_UNIVERSE]
CFG = LLMConfig(name="fake", model="fake-model", base_url="http://127.0.0.1:9/v1", max_retries=2)
FAST = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05)

QUOTES = {"AAPL": (18990, 19010), "MSFT": (40990, 41010)}


@tool
def get_quote(symbol: str) -> str:
    """Best bid and ask of a symbol, in dollars."""
    bid, ask = QUOTES[symbol]
    return json.dumps({"symbol": symbol, "bid": bid / 100, "ask": ask / 100})


@tool
def broken_tool(symbol: str) -> str:
    """A tool whose backend is down."""
    raise RuntimeError("ledger unavailable")


TOOLS = [get_quote, broken_tool]


def rule_decision(cycle: int = 3) -> Decision:
    return Decision(trader="momo", cycle=cycle, actions={"AAPL": Action.BUY},
                    orders=(ProposedOrder(symbol="AAPL", side="buy", qty=5, limit_price=19000),),
                    rationale="rule: AAPL 10-cycle return +2.1% above threshold", signals={"ret_10": 0.021})


def submit(orders, rationale="AAPL is rising", tokens=(20, 10), **extra):
    return ai_tool_calls(("submit_decision", {"orders": orders, "rationale": rationale, **extra}), id_prefix="s",
                         tokens=tokens)


GOOD_ORDER = {"symbol": "AAPL", "side": "buy", "qty": 10, "limit_price": 190.25}


def decide(model, *, budget=None, cache=None, cycle=3, stream=False, tools=TOOLS, cfg=CFG, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return llm_decide_detailed("AAPL bid 189.90 ask 190.10; cash $100,000", tools, cfg, budget, cache,
                               lambda: rule_decision(cycle), "momo", cycle, model=model,
                               theory_description="Buy what has risen over the lookback; sell what has fallen.",
                               symbols=SYMBOLS, retry=FAST, stream=stream, sleep=sleeps.append)


def test_tool_calls_then_submit_gives_a_validated_llm_decision():
    model = ScriptedChatModel(responses=[
        ai_tool_calls(("get_quote", {"symbol": "AAPL"}), ("broken_tool", {"symbol": "AAPL"})),
        ai_tool_calls(("no_such_tool", {})),
        submit([GOOD_ORDER], signals={"conviction": 0.7}),
    ])
    res = decide(model)
    d = res.decision
    assert d.mode == "llm" and d.fallback_reason is None
    assert d.orders == (ProposedOrder(symbol="AAPL", side="buy", qty=10, limit_price=19025),)
    assert d.actions == {"AAPL": Action.BUY}
    assert d.rationale == "AAPL is rising"
    assert d.signals["conviction"] == 0.7
    assert d.signals["llm_tool_calls"] == 3 and d.signals["llm_steps"] == 3
    assert d.signals["llm_input_tokens"] == 60 and d.signals["llm_output_tokens"] == 30
    # the model saw each tool's answer, errors as text, and bound our tools plus submit_decision
    second_call = model.calls[1]
    tool_msgs = [m for m in second_call if isinstance(m, ToolMessage)]
    assert json.loads(tool_msgs[0].content) == {"symbol": "AAPL", "bid": 189.9, "ask": 190.1}
    assert tool_msgs[1].content.startswith("error: RuntimeError: ledger unavailable")
    third_msgs = [m for m in model.calls[2] if isinstance(m, ToolMessage)]
    assert "unknown tool 'no_such_tool'" in third_msgs[-1].content
    assert [r.ok for r in res.loop.tool_calls] == [True, False, False]
    names = [getattr(t, "name", None) or t["function"]["name"] for t in model.bound_tools]
    assert names == ["get_quote", "broken_tool", "submit_decision"]
    system = model.calls[0][0]
    assert isinstance(system, SystemMessage) and "momo" in system.content
    assert "Buy what has risen" in system.content
    assert "US dollars" in model.calls[0][1].content


def test_streaming_mode_aggregates_chunks_and_tool_call_chunks():
    model = ScriptedChatModel(responses=[ai_tool_calls(("get_quote", {"symbol": "MSFT"})),
                                         submit([{**GOOD_ORDER, "symbol": "MSFT", "limit_price": 410.0}])])
    chunks = list(ScriptedChatModel(responses=[ai_text("streamed text, in pieces")]).stream("hi"))
    assert len(chunks) > 2 and "".join(c.content for c in chunks) == "streamed text, in pieces"
    d = decide(model, stream=True).decision
    assert d.mode == "llm" and d.orders[0].symbol == "MSFT" and d.orders[0].limit_price == 41000
    assert d.signals["llm_tool_calls"] == 1 and d.signals["llm_input_tokens"] == 40


def test_json_content_answer_is_accepted_without_tool_calls():
    body = {"actions": {"AAPL": "HOLD", "MSFT": "sell"}, "rationale": "MSFT stretched",
            "orders": [{"symbol": "msft", "side": "SELL", "qty": 3.0, "order_type": "market"}]}
    model = ScriptedChatModel(responses=[ai_text("Here you go:\n```json\n" + json.dumps(body) + "\n```")])
    d = decide(model).decision
    assert d.mode == "llm"
    assert d.actions == {"AAPL": Action.HOLD, "MSFT": Action.SELL}
    assert d.orders == (ProposedOrder(symbol="MSFT", side="sell", qty=3, order_type="market"),)


def test_unparseable_answer_gets_a_correction_turn_with_backoff():
    sleeps: list[float] = []
    model = ScriptedChatModel(responses=[ai_text("I would buy some Apple, I think."), submit([GOOD_ORDER])])
    res = decide(model, sleeps=sleeps)
    assert res.decision.mode == "llm"
    assert len(res.parse_errors) == 1 and "no JSON object" in res.parse_errors[0]
    assert res.loop.retries == 1 and sleeps == [FAST.delay(1)]
    assert "could not be read as a decision" in model.calls[1][-1].content


def test_unparseable_forever_falls_back_to_the_marked_rule_decision():
    model = ScriptedChatModel(responses=[ai_text("buy buy buy")] * 3)
    res = decide(model)
    d = res.decision
    assert d.mode == "fallback" and d.fallback_reason == "unparseable output after 3 attempts"
    assert d.orders == rule_decision().orders  # the rule decision, not a silent HOLD
    assert d.rationale.startswith("[LLM fallback: unparseable output") and "ret_10" in d.signals
    assert len(model.calls) == 3


def test_transport_errors_are_retried_with_exponential_backoff():
    sleeps: list[float] = []
    req = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    model = ScriptedChatModel(responses=[openai.APITimeoutError(request=req),
                                         openai.APIConnectionError(request=req), submit([GOOD_ORDER])])
    res = decide(model, sleeps=sleeps)
    assert res.decision.mode == "llm" and res.loop.retries == 2
    assert sleeps == [0.01, 0.02]

    model = ScriptedChatModel(responses=[openai.APITimeoutError(request=req)] * 3)
    d = decide(model).decision
    assert d.mode == "fallback" and d.fallback_reason == "timeout after 3 attempts"
    assert d.orders == rule_decision().orders


def test_missing_key_for_a_remote_endpoint_falls_back_visibly(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    cfg = LLMConfig(name="remote", model="gpt-x", base_url="https://api.example.com/v1", api_key_env="NO_SUCH_KEY_VAR")
    d = llm_decide("view", TOOLS, cfg, None, None, rule_decision, "momo", 3)
    assert d.mode == "fallback" and "NO_SUCH_KEY_VAR" in d.fallback_reason


# Budget ----------------------------------------------------------------------------------------------


def test_budget_exhaustion_switches_to_marked_fallback_without_calling_the_model():
    budget = Budget(BudgetConfig(max_tokens_per_run=5000))
    first = ScriptedChatModel(responses=[ai_tool_calls(("get_quote", {"symbol": "AAPL"}), tokens=(2500, 10)),
                                         submit([GOOD_ORDER], tokens=(2500, 10))])
    assert decide(first, budget=budget, cycle=1).decision.mode == "llm"
    assert budget.tokens_used == 5020
    # spent: nothing more is sent, the decision is the marked rule decision
    second = ScriptedChatModel(responses=[submit([GOOD_ORDER])])
    d = decide(second, budget=budget, cycle=2).decision
    assert d.mode == "fallback" and d.fallback_reason == BUDGET_EXHAUSTED
    assert second.calls == [] and d.orders == rule_decision().orders


def test_a_call_whose_estimate_does_not_fit_is_not_made_mid_loop():
    """Checked before each call with the request's estimate: the cap is passed by at most the output of the
    last request, never by a request that did not fit."""
    probe = ScriptedChatModel(responses=[submit([GOOD_ORDER])])
    decide(probe)
    from traders.llm.tool_loop import ToolLoop

    loop = ToolLoop(probe, TOOLS, trader="momo", cycle=1)
    estimate = loop.estimate_tokens(probe.calls[0])
    # room for the first request (its estimate) but not for the second, which resends it and more
    budget = Budget(BudgetConfig(max_tokens_per_run=estimate + estimate // 2))
    model = ScriptedChatModel(responses=[ai_tool_calls(("get_quote", {"symbol": "AAPL"}), tokens=(estimate, 10)),
                                         submit([GOOD_ORDER])])
    res = decide(model, budget=budget, cycle=1)
    assert res.decision.mode == "fallback" and res.decision.fallback_reason == BUDGET_EXHAUSTED
    assert len(model.calls) == 1
    assert budget.tokens_used <= budget.config.max_tokens_per_run


def test_budget_shares_make_parallel_traders_deterministic_and_the_cap_hold():
    """Six traders deciding in parallel share what is left equally: whatever the thread order, each one
    spends the same, and together they stay within the cap."""
    budget = Budget(BudgetConfig(max_cost=0.06, input_cost_per_mtok=1.0, output_cost_per_mtok=1.0), traders=6)
    assert budget.cost_of(5, 1) == pytest.approx(6e-6)

    def spend(name: str) -> int:
        n = 0
        while not budget.exhausted(1, name, estimate_tokens=1000):
            budget.charge(1, name, 1000, 0)
            n += 1
        return n

    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, spend(f"t{i}"))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {10}  # $0.01 each: 10 requests of 1000 tokens at $1 per million
    assert budget.cost_used <= 0.06 + 1e-12
    assert budget.exhausted(2, "newcomer")  # cycle 2 sees cycle 1's spending
    budget.forget_after(0)
    assert budget.tokens_used == 0 and not budget.exhausted(2, "newcomer")


# Cache -----------------------------------------------------------------------------------------------


def test_cache_replays_a_run_exactly_without_the_model(tmp_path):
    path = tmp_path / "llm_cache.sqlite"
    script = [ai_tool_calls(("get_quote", {"symbol": "AAPL"})), submit([GOOD_ORDER])]
    first = decide(ScriptedChatModel(responses=script), cache=LLMCache(path)).decision
    replay_model = ScriptedChatModel(responses=[])  # any call would raise "script exhausted"
    cache = LLMCache(path)
    res = decide(replay_model, cache=cache)
    assert replay_model.calls == [] and cache.hits == 2 and cache.misses == 0
    assert res.decision == first  # bit-identical, signals included
    assert res.loop.cache_hits == 2
    # another prompt is another key: a miss, so the model is asked
    other = ScriptedChatModel(responses=[submit([GOOD_ORDER])])
    decide(other, cache=cache, cycle=4)
    assert len(other.calls) == 1 and cache.misses == 1
    # use_cache: false bypasses the cache
    off = ScriptedChatModel(responses=script)
    decide(off, cache=cache, cfg=CFG.model_copy(update={"use_cache": False}))
    assert len(off.calls) == 2


# Malformed orders ------------------------------------------------------------------------------------


def test_malformed_orders_are_rejected_with_reasons_and_the_rest_stands():
    raw = {"rationale": "mixed bag", "orders": [
        {"symbol": "AAPL", "side": "buy", "qty": -5, "limit_price": 190.0},
        {"symbol": "AAPL", "side": "buy", "qty": float("nan"), "limit_price": 190.0},
        {"symbol": "TSLA", "side": "buy", "qty": 5, "limit_price": 250.0},
        {"symbol": "AAPL", "side": "buy", "qty": 1e12, "limit_price": 190.0},
        {"symbol": "AAPL", "side": "buy", "qty": "ten", "limit_price": 190.0},
        {"symbol": "AAPL", "side": "sell", "qty": 5, "limit_price": "190.00"},
        {"symbol": "AAPL", "side": "buy", "qty": 2.5, "limit_price": 190.0},
        {"symbol": "AAPL", "side": "buy", "qty": 5, "limit_price": 190.001},
        {"symbol": "AAPL", "side": "buy", "qty": 5},
        {"symbol": "AAPL", "side": "hold", "qty": 5, "order_type": "market"},
        GOOD_ORDER,
    ]}
    parsed = parse_llm_output(raw, trader="momo", cycle=1, limits=OrderLimits(symbols=frozenset(SYMBOLS)))
    codes = {r.index: [p.code for p in r.problems] for r in parsed.rejected_orders}
    assert codes == {0: ["negative_qty"], 1: ["not_finite"], 2: ["unknown_symbol"], 3: ["absurd_qty"],
                     4: ["string_for_number"], 5: ["string_for_number"], 6: ["fractional_qty"],
                     7: ["sub_cent_price"], 8: ["missing_limit_price"], 9: ["bad_side"]}
    messages = {r.index: r.problems[0].message for r in parsed.rejected_orders}
    assert "-5" in messages[0] and "TSLA" in messages[2] and "'ten'" in messages[4]
    assert parsed.decision.orders == (ProposedOrder(symbol="AAPL", side="buy", qty=10, limit_price=19025),)
    assert "[rejected: order #0: qty must be a positive" in parsed.decision.rationale


def test_malformed_orders_through_the_trader_are_reported_not_raised():
    text = '{"rationale": "size up", "orders": [{"symbol": "AAPL", "side": "buy", "qty": NaN, "limit_price": 190},' \
           ' {"symbol": "ZZZZ", "side": "buy", "qty": 5, "limit_price": 1}]}'
    res = decide(ScriptedChatModel(responses=[ai_text(text)]))
    assert res.decision.mode == "llm" and res.decision.orders == ()
    assert res.decision.signals["llm_orders_rejected"] == 2
    assert [r.problems[0].code for r in res.rejected_orders] == ["not_finite", "unknown_symbol"]


def test_output_that_is_not_a_decision_raises_unparseable():
    for bad in ("no json here", "[1, 2]", {"orders": "buy AAPL"}):
        with pytest.raises(UnparseableOutput):
            parse_llm_output(bad, trader="t", cycle=0)


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**13, 10**13), st.floats(allow_nan=True),
                    st.text(max_size=6), st.lists(st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["symbol", "side", "qty", "order_type", "limit_price",
                                                   "stop_price", "tif"]),
                                _values | st.sampled_from(SYMBOLS + ["buy", "sell", "limit", "market"]),
                                max_size=7) | _values, max_size=5))
def test_any_order_list_parses_without_raising_and_accepted_orders_are_sane(orders):
    parsed = parse_llm_output({"orders": orders, "rationale": "r"}, trader="t", cycle=0,
                              limits=OrderLimits(symbols=frozenset(SYMBOLS)))
    assert len(parsed.decision.orders) + len(parsed.rejected_orders) == len(orders)
    for o in parsed.decision.orders:
        assert o.symbol in SYMBOLS and isinstance(o.qty, int) and 0 < o.qty <= 1_000_000
        for px in (o.limit_price, o.stop_price):
            assert px is None or (isinstance(px, int) and px > 0)
    for r in parsed.rejected_orders:
        assert r.problems and all(p.code and p.message for p in r.problems)


def test_llm_configs_parse_by_name_and_reject_unknown_keys_and_duplicates():
    configs = parse_llm_configs([{"name": "local", "model": "llama3", "base_url": "http://localhost:11434/v1"},
                                 {"name": "gpt", "model": "gpt-4o-mini", "temperature": 0.2}])
    assert configs["local"].base_url.endswith("/v1") and configs["gpt"].temperature == 0.2
    assert parse_llm_configs({"x": {"model": "m"}})["x"].name == "x"
    with pytest.raises(ValueError):
        parse_llm_configs([{"name": "a", "model": "m", "api_key": "sk-secret"}])
    with pytest.raises(ValueError, match="duplicate"):
        parse_llm_configs([{"name": "a", "model": "m"}, {"name": "a", "model": "n"}])
    assert math.isclose(RetryPolicy(base_delay_s=0.5, multiplier=2, max_delay_s=1.5).delay(3), 1.5)


def test_plain_fake_messages_list_model_survives_streaming_mode_and_async_tools_run():
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.tools import StructuredTool

    class Plain(FakeMessagesListChatModel):  # no _stream of its own: stream() falls back to invoke
        def bind_tools(self, tools, **kwargs):
            return self

    async def depth(symbol: str) -> str:
        return f"{symbol}: 3 levels"

    async_tool = StructuredTool.from_function(coroutine=depth, name="depth", description="Book depth.")
    model = Plain(responses=[ai_tool_calls(("depth", {"symbol": "AAPL"})), submit([GOOD_ORDER])])
    res = decide(model, stream=True, tools=[async_tool])
    assert res.decision.mode == "llm" and res.decision.orders[0].qty == 10
    assert res.loop.tool_calls[0].ok and res.loop.tool_calls[0].output == "AAPL: 3 levels"


def test_tool_call_with_invalid_json_arguments_gets_an_error_reply_and_a_correction_turn():
    from langchain_core.messages import AIMessage

    broken = AIMessage(content="", invalid_tool_calls=[
        {"name": "submit_decision", "args": '{"orders": [', "id": "bad_1", "error": "bad json",
         "type": "invalid_tool_call"}])
    model = ScriptedChatModel(responses=[broken, submit([GOOD_ORDER])])
    res = decide(model)
    assert res.decision.mode == "llm" and len(res.parse_errors) == 1
    reply = model.calls[1][-1]
    assert isinstance(reply, ToolMessage) and reply.tool_call_id == "bad_1" and "not valid JSON" in reply.content
