"""Issue 15, defect 5: resilient calls against the OpenAI stub in its own process. Retry-After is honoured
up to a cap, a hung endpoint costs one cycle at most its deadline (the trader falls back, marked), and a
circuit breaker skips an endpoint that keeps failing, visibly."""
from __future__ import annotations

import time

import pytest
from langchain_core.tools import tool
from llm_floor import llm_floor_config
from support.stub_process import submit

from floor.session import FloorSession
from traders.decision import Decision
from traders.llm.settings import LLMConfig, RetryPolicy
from traders.llm.trader import llm_decide_detailed


@pytest.fixture(scope="module")
def stub(openai_stub):
    return openai_stub


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)


@tool
def get_quote(symbol: str) -> str:
    """Best bid and ask of a symbol, in dollars."""
    return '{"bid": 121.4, "ask": 121.6}'


def _rule() -> Decision:
    return Decision(trader="momo", cycle=1, rationale="rule: hold")


def _decide(stub, *, sleeps, stream=False, **cfg):
    llm = LLMConfig(**({"name": "stub", "model": "m", "base_url": stub.base_url, "api_key_env": "STUB_TEST_KEY",
                        "use_cache": False, "timeout_s": 5.0, "max_retries": 2} | cfg))
    policy = RetryPolicy(max_retries=llm.max_retries, base_delay_s=0.01, max_retry_after_s=llm.max_retry_after_s)
    return llm_decide_detailed("view", [get_quote], llm, None, None, _rule, "momo", 1, symbols=["AAPL"],
                               retry=policy, stream=stream, sleep=sleeps.append)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_retry_after_is_honoured(stub, stream):
    stub.enqueue({"queue": [{"kind": "error", "status": 429, "retry_after": 1.5},
                            {"kind": "error", "status": 503, "retry_after": 0.7}, submit([], "holding")]})
    sleeps: list[float] = []
    res = _decide(stub, sleeps=sleeps, stream=stream)
    assert res.decision.mode == "llm"
    assert sleeps == [1.5, 0.7]  # what the server asked, not the 0.01 s back-off


def test_a_retry_after_beyond_the_cap_gives_up_at_once_and_says_why(stub):
    before = len(stub.requests())
    stub.enqueue({"queue": [{"kind": "error", "status": 429, "retry_after": 120}]})
    sleeps: list[float] = []
    res = _decide(stub, sleeps=sleeps, max_retry_after_s=5)
    assert res.decision.mode == "fallback" and sleeps == []
    assert "HTTP 429" in res.decision.fallback_reason and "120s" in res.decision.fallback_reason
    assert len(stub.requests()) - before == 1


def test_a_hung_endpoint_costs_the_floor_one_deadline_and_the_trader_falls_back_marked(tmp_path, stub):
    done = submit([], "holding")
    stub.enqueue({"routes": {"mean_reversion": [done], "momentum": [{"kind": "hang"}]}})
    cfg = llm_floor_config(stub.base_url, ("momentum", "mean_reversion"), timeout_s=30.0, max_retries=2,
                           deadline_s=1.5)
    s = FloorSession(tmp_path / "f.db", cfg)
    s.start()
    start = time.monotonic()
    s.run(1)
    elapsed = time.monotonic() - start
    assert elapsed < 6  # not 3 attempts x 30 s
    decisions = {d["trader"]: d for d in s.state()["decisions"]}
    assert decisions["mean_reversion"]["mode"] == "llm"
    assert decisions["momentum"]["mode"] == "fallback"
    assert decisions["momentum"]["fallback_reason"].startswith("deadline")
    s.close()


def test_the_circuit_opens_after_consecutive_failures_skips_the_endpoint_then_tries_again(tmp_path, stub):
    cfg = llm_floor_config(stub.base_url, ("momentum",), max_retries=0, breaker_failures=2, breaker_cycles=2)
    s = FloorSession(tmp_path / "f.db", cfg)
    s.start()
    sent = []
    for _ in range(5):  # the stub's script is empty: every request is an HTTP 500
        before = len(stub.requests())
        s.run(1)
        sent.append(len(stub.requests()) - before)
    assert sent == [1, 1, 0, 0, 1]
    reasons = [t["payload"]["fallback_reason"] for t in s.floor.ledger.traces(agent="momentum", kind="decision",
                                                                               limit=None)]
    assert reasons[0] == reasons[1] == "HTTP 500"
    assert reasons[2].startswith("circuit open: stub (http://127.0.0.1") and "through cycle 4" in reasons[2]
    assert reasons[4] == "HTTP 500"
    transcript = s.floor.ledger.traces(cycle=2, agent="momentum", kind="llm_transcript", limit=None)[0]
    assert transcript["payload"]["circuit_opened"].startswith("stub (")
    s.close()
