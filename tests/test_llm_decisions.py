"""Issue 15, defects 1, 2, 6 and 7, through the whole floor against the OpenAI stub in its own process
(JSON and SSE): one decision sends one set of orders, a fallback sends nothing the failed loop staged,
`post_message` posts to the floor's chat, and traces hold prompts, tool results and honest `ok` flags."""
from __future__ import annotations

import pytest
from llm_floor import llm_floor_config, offer_write_tools
from support.stub_process import calls, submit

from floor.session import FloorSession

BUY_AMZN = {"symbol": "AMZN", "side": "buy", "qty": 20, "order_type": "market", "tif": "ioc"}


@pytest.fixture(scope="module")
def stub(openai_stub):
    return openai_stub


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)
    offer_write_tools(monkeypatch)  # the built-in theories are offered no write tools by default


def _session(tmp_path, stub, **kw) -> FloorSession:
    s = FloorSession(tmp_path / "f.db", llm_floor_config(stub.base_url, **kw))
    s.start()
    return s


def _momentum_orders(s: FloorSession, cycle: int) -> list[dict]:
    return [o for o in s.floor.ledger.orders(cycle=cycle, account="momentum", limit=None) if o["qty"]]


def _transcript(s: FloorSession, cycle: int) -> dict:
    (row,) = s.floor.ledger.traces(cycle=cycle, agent="momentum", kind="llm_transcript", limit=None)
    return row["payload"]


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_an_order_staged_and_declared_again_is_sent_once(tmp_path, stub, streaming):
    stub.enqueue({"queue": [calls(("place_order", BUY_AMZN)), submit([BUY_AMZN], "AMZN trend up")]})
    s = _session(tmp_path, stub, streaming=streaming)
    s.run(1)
    sent = _momentum_orders(s, 1)
    assert [(o["symbol"], o["side"], o["qty"]) for o in sent] == [("AMZN", "buy", 20)]
    payload = _transcript(s, 1)
    assert payload["staged_added"] == []
    assert "sent once" in payload["staged_dropped"][0]["why"]
    s.close()


def test_a_staged_order_the_decision_does_not_restate_is_sent_and_one_it_contradicts_is_not(tmp_path, stub):
    sell_nvda = {"symbol": "NVDA", "side": "sell", "qty": 5, "order_type": "market", "tif": "ioc"}
    stub.enqueue({"queue": [calls(("place_order", BUY_AMZN), ("place_order", sell_nvda)),
                            submit([], "keep the AMZN buy, changed my mind on NVDA", actions={"NVDA": "HOLD"})]})
    s = _session(tmp_path, stub)
    s.run(1)
    assert [(o["symbol"], o["qty"]) for o in _momentum_orders(s, 1)] == [("AMZN", 20)]
    dropped = _transcript(s, 1)["staged_dropped"]
    assert [d["symbol"] for d in dropped] == ["NVDA"] and "HOLD" in dropped[0]["why"]
    s.close()


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_a_fallback_sends_nothing_the_failed_loop_staged(tmp_path, stub, streaming):
    stub.enqueue({"queue": [calls(("place_order", {**BUY_AMZN, "qty": 30})),
                            {"kind": "error", "status": 500}, {"kind": "error", "status": 500}]})
    s = _session(tmp_path, stub, streaming=streaming)
    s.run(1)
    decision = next(d for d in s.state()["decisions"] if d["trader"] == "momentum")
    assert decision["mode"] == "fallback" and "HTTP 500" in decision["fallback_reason"]
    assert not [o for o in _momentum_orders(s, 1) if o["symbol"] == "AMZN" and o["qty"] == 30]
    payload = _transcript(s, 1)
    assert payload["mode"] == "fallback"
    assert payload["staged_dropped"][0]["qty"] == 30 and "fell back" in payload["staged_dropped"][0]["why"]
    assert payload["turns"][-1]["answer"] is None and payload["turns"][-1]["failed"].startswith("HTTP 500")
    s.close()


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_post_message_puts_a_row_in_the_floors_chat(tmp_path, stub, streaming):
    stub.enqueue({"queue": [calls(("post_message", {"text": "@mean_reversion AMZN looks strong to me"})),
                            submit([], "nothing to do")]})
    s = _session(tmp_path, stub, streaming=streaming)
    s.run(1)
    rows = [m for m in s.floor.ledger.messages(cycle=1, limit=None) if m["sender"] == "momentum"]
    assert [m["text"] for m in rows] == ["@mean_reversion AMZN looks strong to me"]
    assert _transcript(s, 1)["messages_posted"] == 1
    s.close()


def test_a_fallback_posts_nothing(tmp_path, stub):
    stub.enqueue({"queue": [calls(("post_message", {"text": "buying everything"})),
                            {"kind": "garbage"}, {"kind": "garbage"}]})
    s = _session(tmp_path, stub)
    s.run(1)
    assert not [m for m in s.floor.ledger.messages(cycle=1, limit=None) if m["sender"] == "momentum"]
    s.close()


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_traces_hold_prompts_tool_results_and_failed_tool_calls_are_not_ok(tmp_path, stub, streaming):
    stub.enqueue({"queue": [
        calls(("depth", {"symbol": "AMZN"}), ("place_order", {**BUY_AMZN, "order_type": "limit", "limit_price": -5.0}),
              ("place_order", {**BUY_AMZN, "symbol": "XYZ"}), ("depth", {"symbol": "XYZ"})),
        submit([], "holding")]})
    s = _session(tmp_path, stub, streaming=streaming)
    s.run(1)
    payload = _transcript(s, 1)
    got = [(c["name"], c["ok"]) for c in payload["tool_calls"]]
    assert got == [("depth", True), ("place_order", False), ("place_order", False), ("depth", False)]
    assert "bids" in payload["tool_calls"][0]["result"]
    assert "error" in payload["tool_calls"][1]["result"]
    # each turn's prompt, by reference into texts stored once
    assert len(payload["turns"]) == 2
    first, second = payload["turns"]
    assert second["prompt"][:len(first["prompt"])] == first["prompt"]  # the second turn resends the first
    texts = payload["texts"]
    assert all(ref in texts for turn in payload["turns"] for ref in turn["prompt"])
    assert texts[first["prompt"][0]]["role"] == "system" and "momentum" in texts[first["prompt"][0]]["text"]
    assert sum(t["role"] == "system" for t in texts.values()) == 1
    assert any(t["role"] == "tool:depth" for t in texts.values())
    s.close()


def test_explain_shows_the_prompts_answers_tool_results_and_the_fate_of_staged_orders(tmp_path, stub):
    from cli_processes import tf

    stub.enqueue({"queue": [
        calls(("depth", {"symbol": "AMZN"}), ("place_order", {**BUY_AMZN, "symbol": "XYZ"}),
              ("place_order", BUY_AMZN)),
        submit([BUY_AMZN], "AMZN momentum is strong")]})
    s = _session(tmp_path, stub)
    s.run(1)
    s.close()
    out = tf("explain", "1", "momentum", "--db", str(tmp_path / "f.db"))
    assert out.returncode == 0, out.stdout
    text = out.stdout
    assert "mode: llm" in text and "rationale: AMZN momentum is strong" in text
    assert "Turn 1:" in text and "Turn 2:" in text and "system message:" in text
    assert text.count("system message:") == 1 and "resent: system message of turn 1" in text
    assert 'tool depth(symbol="AMZN") -> ok' in text
    failed = next(line for line in text.splitlines() if 'symbol="XYZ"' in line)
    assert failed.startswith("- tool place_order(") and failed.endswith("-> FAILED") and "unknown symbol" in text
    assert "not sent: buy 20 AMZN market" in text and "sent once" in text
    assert "RISK CHECK" in text and "FILLS" in text
    md = tf("explain", "1", "momentum", "--db", str(tmp_path / "f.db"), "--markdown").stdout
    assert md.startswith("# Cycle 1, momentum") and "```" in md
    missing = tf("explain", "9", "momentum", "--db", str(tmp_path / "f.db"))
    assert missing.returncode != 0 and "cycle 9 has not happened" in missing.stdout
