"""ChatOpenAI against a local OpenAI-compatible stub server on 127.0.0.1: JSON and SSE, tool calls,
HTTP 500, timeouts and garbage, with retries and a marked fallback; the cache avoids the server."""
from __future__ import annotations

import pytest
from langchain_core.tools import tool
from support.openai_stub import OpenAIStub, Reply

from traders.decision import Action, Decision, ProposedOrder
from traders.llm.budget import Budget
from traders.llm.cache import LLMCache
from traders.llm.model_factory import DUMMY_KEY, build_chat_model, is_local
from traders.llm.settings import BudgetConfig, LLMConfig, RetryPolicy
from traders.llm.trader import llm_decide_detailed

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "FLOR"]
FAST = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.02)
SUBMIT = ("submit_decision", {"orders": [{"symbol": "NVDA", "side": "sell", "qty": 7, "limit_price": 121.5,
                                          "tif": "gtc"}], "rationale": "NVDA spiked"})
EXPECTED = (ProposedOrder(symbol="NVDA", side="sell", qty=7, limit_price=12150, tif="gtc"),)


@tool
def get_quote(symbol: str) -> str:
    """Best bid and ask of a symbol, in dollars."""
    return f'{{"symbol": "{symbol}", "bid": 121.40, "ask": 121.60}}'


def rule_decision() -> Decision:
    return Decision(trader="meanrev", cycle=7, actions={"NVDA": Action.SELL},
                    orders=(ProposedOrder(symbol="NVDA", side="sell", qty=3, limit_price=12100),),
                    rationale="rule: NVDA z-score 2.4 above band", signals={"z": 2.4})


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)


def cfg_for(stub: OpenAIStub, **kw) -> LLMConfig:
    base = dict(name="stub", model="stub-model", base_url=stub.base_url, api_key_env="STUB_TEST_KEY",
                timeout_s=0.4, max_retries=2, use_cache=False)
    return LLMConfig(**(base | kw))


def decide(cfg, *, budget=None, cache=None, stream=None):
    return llm_decide_detailed("NVDA bid 121.40 ask 121.60", [get_quote], cfg, budget, cache, rule_decision,
                               "meanrev", 7, theory_description="Fade moves beyond two standard deviations.",
                               symbols=SYMBOLS, retry=FAST, stream=stream)


def test_factory_builds_chatopenai_with_our_settings(stub):
    model = build_chat_model(cfg_for(stub, temperature=0.3, max_tokens=99))
    assert model.model_name == "stub-model" and model.temperature == 0.3 and model.max_tokens == 99
    assert model.max_retries == 0 and model.request_timeout == 0.4
    assert model.openai_api_key.get_secret_value() == DUMMY_KEY  # local server, no key set
    assert is_local(stub.base_url) and not is_local("https://api.openai.com/v1")


@pytest.mark.parametrize("streaming", [False, True])
def test_tool_call_loop_over_json_and_sse(stub, streaming):
    stub.enqueue(Reply.tool_calls(("get_quote", {"symbol": "NVDA"})), Reply.tool_calls(SUBMIT))
    res = decide(cfg_for(stub, streaming=streaming))
    d = res.decision
    assert d.mode == "llm" and d.orders == EXPECTED and d.actions == {"NVDA": Action.SELL}
    assert d.signals["llm_tool_calls"] == 1 and d.signals["llm_input_tokens"] == 50  # usage from the server
    reqs = stub.requests
    assert len(reqs) == 2 and all(bool(r.get("stream")) is streaming for r in reqs)
    assert [t["function"]["name"] for t in reqs[0]["tools"]] == ["get_quote", "submit_decision"]
    assert reqs[0]["messages"][0]["role"] == "system" and "meanrev" in reqs[0]["messages"][0]["content"]
    tool_reply = reqs[1]["messages"][-1]
    assert tool_reply["role"] == "tool" and '"bid": 121.40' in tool_reply["content"]


@pytest.mark.parametrize("streaming", [False, True])
def test_plain_json_content_answer(stub, streaming):
    stub.enqueue(Reply.text('{"orders": [], "actions": {"NVDA": "HOLD"}, "rationale": "no edge"}'))
    d = decide(cfg_for(stub), stream=streaming).decision
    assert d.mode == "llm" and d.orders == () and d.actions == {"NVDA": Action.HOLD}


@pytest.mark.parametrize("failure", [Reply.error(500), Reply.delay(1.0), Reply.garbage()],
                         ids=["http500", "timeout", "garbage"])
@pytest.mark.parametrize("streaming", [False, True])
def test_one_failure_is_retried_then_succeeds(stub, failure, streaming):
    stub.enqueue(failure, Reply.tool_calls(SUBMIT))
    res = decide(cfg_for(stub, streaming=streaming))
    assert res.decision.mode == "llm" and res.decision.orders == EXPECTED
    assert res.loop.retries == 1 and len(stub.requests) == 2


@pytest.mark.parametrize("failure,reason", [
    (Reply.error(500), "HTTP 500 after 3 attempts"),
    (Reply.delay(1.0), "timeout after 3 attempts"),
    (Reply.garbage(), "unparseable output after 3 attempts"),
    (Reply.text("Sell NVDA, I'd say."), "unparseable output after 3 attempts"),
], ids=["http500", "timeout", "garbage-body", "prose-content"])
def test_persistent_failure_falls_back_to_the_marked_rule_decision(stub, failure, reason):
    stub.enqueue(failure, failure, failure)
    d = decide(cfg_for(stub)).decision
    assert d.mode == "fallback" and d.fallback_reason == reason
    assert d.orders == rule_decision().orders and d.rationale.startswith(f"[LLM fallback: {reason}]")
    assert len(stub.requests) == 3 and stub.pending == 0


def test_client_errors_are_not_retried(stub):
    stub.enqueue(Reply.error(401, "bad key"), Reply.tool_calls(SUBMIT))
    d = decide(cfg_for(stub)).decision
    assert d.mode == "fallback" and d.fallback_reason == "HTTP 401" and len(stub.requests) == 1


@pytest.mark.parametrize("streaming", [False, True])
def test_cache_makes_a_rerun_exact_and_hit_no_server(stub, tmp_path, streaming):
    path = tmp_path / "cache.sqlite"
    cfg = cfg_for(stub, use_cache=True, streaming=streaming)
    stub.enqueue(Reply.tool_calls(("get_quote", {"symbol": "NVDA"})), Reply.tool_calls(SUBMIT))
    first = decide(cfg, cache=LLMCache(path)).decision
    assert len(stub.requests) == 2
    cache = LLMCache(path)  # a new process would open the same file
    again = decide(cfg, cache=cache).decision
    assert len(stub.requests) == 2 and cache.hits == 2  # no request reached the server
    assert again == first  # bit-identical decision, signals included
    # another temperature is another key
    stub.enqueue(Reply.tool_calls(SUBMIT))
    decide(cfg.model_copy(update={"temperature": 0.5}), cache=cache)
    assert len(stub.requests) == 3


def test_budget_exhaustion_sends_no_request_and_is_marked(stub):
    budget = Budget(BudgetConfig(max_tokens_per_run=4000))  # the first request's estimate fits, its usage does not
    stub.enqueue(Reply.tool_calls(SUBMIT, usage=(4000, 12)))
    assert decide(cfg_for(stub), budget=budget).decision.mode == "llm"
    res = llm_decide_detailed("view", [get_quote], cfg_for(stub), budget, None, rule_decision, "meanrev", 8,
                              symbols=SYMBOLS, retry=FAST)
    assert res.decision.mode == "fallback" and res.decision.fallback_reason == "budget exhausted"
    assert len(stub.requests) == 1 and res.loop is None


def test_parallel_traders_share_budget_and_cache_and_overlap_their_latency(tmp_path):
    import time
    from concurrent.futures import ThreadPoolExecutor

    latency = 0.3
    with OpenAIStub(latency_s=latency, default=Reply.tool_calls(SUBMIT)) as server:
        cfg = cfg_for(server, use_cache=True, timeout_s=5.0)
        budget, cache = Budget(BudgetConfig(max_tokens_per_run=10_000)), LLMCache(tmp_path / "c.sqlite")

        def one(name: str) -> Decision:
            return llm_decide_detailed("view", [get_quote], cfg, budget, cache, rule_decision, name, 7,
                                       symbols=SYMBOLS, retry=FAST).decision

        names = [f"trader_{i}" for i in range(6)]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=6) as pool:
            decisions = list(pool.map(one, names))
        elapsed = time.perf_counter() - start
        assert [d.trader for d in decisions] == names and all(d.mode == "llm" for d in decisions)
        assert len(server.requests) == 6 and budget.tokens_used == 6 * 37 and len(cache) == 6
        assert elapsed < 4 * latency  # about one round, not six sequential ones (6 x 0.3 s = 1.8 s)
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(one, names)) == decisions
        assert len(server.requests) == 6  # the rerun came from the cache
