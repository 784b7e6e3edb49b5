"""An LLM trader through the whole graph with a scripted model; the human-approval interrupt."""
from __future__ import annotations

from floor_helpers import fast_config
from support.fake_chat import ScriptedChatModel, ai_text, ai_tool_calls

from floor.session import FloorSession


def _llm_config():
    cfg = fast_config(chat={"rounds": 1})
    traders = tuple(t.model_copy(update={"mode": "llm"}) if t.name == "momentum" else t for t in cfg.traders)
    return cfg.model_copy(update={"traders": traders})


def test_a_scripted_llm_trader_uses_tools_and_its_order_is_executed(tmp_path):
    script = [
        ai_text("@mean_reversion NVDA keeps climbing, my momentum read says buy; I am adding shares."),
        ai_tool_calls(("depth", {"symbol": "NVDA"})),
        ai_tool_calls(("submit_decision", {
            "orders": [{"symbol": "NVDA", "side": "buy", "qty": 7, "order_type": "limit", "limit_price": 121.0,
                        "tif": "ioc"}],
            "rationale": "NVDA quote looks cheap against my momentum signal",
            "actions": {"NVDA": "BUY"},
        })),
    ]
    model = ScriptedChatModel(responses=script)
    s = FloorSession(tmp_path / "llm.db", _llm_config(), llm_models={"momentum": model})
    s.start()
    s.run(1)
    decision = next(d for d in s.state()["decisions"] if d["trader"] == "momentum")
    assert decision["mode"] == "llm"
    assert "cheap" in decision["rationale"]
    bound = {t["function"]["name"] if isinstance(t, dict) else t.name for t in model.bound_tools}
    # momentum is offered the read tool its theory uses; orders go in submit_decision, not place_order
    assert bound == {"depth", "submit_decision"}
    orders = [o for o in s.state()["orders"] if o["trader"] == "momentum"]
    assert orders and orders[0]["symbol"] == "NVDA" and orders[0]["qty"] == 7
    fills = s.floor.ledger.fills(cycle=1, account="momentum", limit=None)
    assert sum(f["qty"] for f in fills) == 7
    assert s.floor.ledger.holdings("momentum").get("NVDA") == 7
    said = [m for m in s.floor.ledger.messages(cycle=1, limit=None) if m["sender"] == "momentum"]
    assert said and said[0]["text"].startswith("@mean_reversion NVDA keeps climbing")
    assert s.floor.ledger.traces(cycle=1, agent="momentum", kind="chat_llm", limit=None)[0]["payload"]["mode"] == "llm"
    traces = s.floor.ledger.traces(cycle=1, agent="momentum", kind="llm_transcript", limit=None)
    assert [c["name"] for c in traces[0]["payload"]["tool_calls"]][:1] == ["depth"]
    s.close()


def test_an_llm_failure_falls_back_visibly_and_the_cycle_goes_on(tmp_path):
    model = ScriptedChatModel(responses=[TimeoutError("stub timeout")] * 10)
    s = FloorSession(tmp_path / "fb.db", _llm_config(), llm_models={"momentum": model})
    s.start()
    s.run(2)
    decisions = [d for d in s.state()["decisions"] if d["trader"] == "momentum"]
    assert decisions[0]["mode"] == "fallback"
    assert decisions[0]["fallback_reason"]
    assert s.state()["cycle"] == 2
    s.close()


def test_approval_pauses_before_execution_and_rejected_orders_never_reach_the_book(tmp_path):
    s = FloorSession(tmp_path / "ap.db", fast_config(approval=True))
    s.start()
    report = None
    for _ in range(60):
        report = s.run(1)[-1]
        if report.interrupted:
            break
    assert report.interrupted, "some trader should propose orders within 60 cycles"
    proposed = report.interrupted["orders"]
    cycle = report.cycle
    assert s.pending_approval()["orders"] == proposed
    done = s.resume(False)
    assert done.cycle == cycle and not done.interrupted
    assert s.state()["orders"] == []
    assert all(r["reason"] == "not_approved" for r in s.state()["rejections"][-len(proposed):])
    assert not [f for f in s.floor.ledger.fills(cycle=cycle, limit=None)
                if f["buyer"] in s.floor.trader_names or f["seller"] in s.floor.trader_names]
    s.close()
