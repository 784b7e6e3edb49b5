"""An LLM trader whose tools come from the MCP servers (real server processes over stdio)."""
from __future__ import annotations

from floor_helpers import fast_config
from support.fake_chat import ScriptedChatModel, ai_text, ai_tool_calls

from floor.session import FloorSession


def test_an_llm_trader_quotes_and_orders_through_the_mcp_servers(tmp_path):
    cfg = fast_config(chat={"rounds": 1})
    cfg = cfg.model_copy(update={"traders": tuple(
        t.model_copy(update={"mode": "llm", "tools": "mcp"}) if t.name == "momentum" else t for t in cfg.traders)})
    script = [
        ai_text("Watching NVDA through the exchange's MCP server."),
        ai_tool_calls(("quote", {"symbol": "NVDA"}), ("balance", {})),
        ai_tool_calls(("place_order", {"symbol": "NVDA", "side": "buy", "qty": 3, "limit_price": 121.0,
                                       "tif": "ioc"})),
        ai_tool_calls(("submit_decision", {"orders": [], "rationale": "placed my NVDA order via MCP"})),
    ]
    model = ScriptedChatModel(responses=script)
    s = FloorSession(tmp_path / "mcp.db", cfg, llm_models={"momentum": model})
    s.start()
    try:
        s.run(1)
        bound = {t["function"]["name"] if isinstance(t, dict) else t.name for t in model.bound_tools}
        assert {"quote", "balance", "place_order", "submit_decision"} <= bound
        transcript = s.floor.ledger.traces(cycle=1, agent="momentum", kind="llm_transcript", limit=None)[0]
        calls = transcript["payload"]["tool_calls"]
        assert [(c["name"], c["ok"]) for c in calls][:3] == [("quote", True), ("balance", True), ("place_order", True)]
        external = [o for o in s.state()["orders"] if o["trader"] == "momentum" and o.get("source") == "external"]
        assert external and external[0]["symbol"] == "NVDA" and external[0]["qty"] == 3
        assert s.floor.ledger.holdings("momentum").get("NVDA") == 3
    finally:
        s.close()
