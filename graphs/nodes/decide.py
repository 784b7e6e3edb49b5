"""Node 3, decide: one Send per trader, run in parallel; each returns one Decision.

Rule mode (the default) is deterministic and offline. LLM mode runs the bounded tool-calling loop over
the trader's tools; write tools only stage intents on the trader's desk, which join the decision's
orders and still pass the risk node. With `tools: mcp` the trader's tools come from the MCP market and
accounts servers instead (langchain-mcp-adapters); orders placed there are queued and join the same
cycle's risk check. Any LLM failure falls back visibly to the rule decision.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Send

from graphs.context import floor_of
from graphs.state import CycleState, DecideInput
from traders.base import rule_decision, rule_decision_after_chat
from traders.decision import Decision
from traders.view_text import render_view


def fan_out(state: CycleState) -> list[Send]:
    """One Send per trader, in config order; the risk node merges their decisions in a fixed order."""
    cycle = state["cycle"] + 1
    return [Send("decide", DecideInput(trader=name, cycle=cycle)) for name in state.get("traders", ())]


def decide(payload: DecideInput, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    name = payload["trader"]
    cfg = floor.config.trader(name)
    view = floor.work.views[name]
    if cfg.mode == "llm":
        decision = _llm_decision(floor, cfg, view)
    else:
        decision = rule_decision_after_chat(view, cfg, floor.work.pre_chat_decisions.get(name))
    floor.work.trace(name, "decide", "decision", decision.model_dump(mode="json"))
    return {"decisions": [decision.model_dump(mode="json")]}


def _llm_decision(floor, cfg, view) -> Decision:
    from tools.desk import TraderDesk
    from tools.toolset import make_trader_tools
    from traders.llm.trader import llm_decide_detailed

    desk = TraderDesk(trader=cfg.name, exchange=floor.exchange, ledger=floor.ledger, cycle=view.cycle,
                      lock=floor.lock, staged_orders=[], staged_cancels=[], staged_messages=[])
    tools = floor.mcp_tools(cfg.name) if cfg.tools == "mcp" else make_trader_tools(desk)
    result = llm_decide_detailed(
        render_view(view), tools, floor.config.llm_for(cfg), floor.llm_budget,
        floor.llm_cache, lambda: rule_decision(view, cfg), cfg, view.cycle,
        model=floor.llm_models.get(cfg.name), symbols=list(floor.by_symbol),
    )
    decision = result.decision
    if desk.staged_orders or desk.staged_cancels:
        decision = decision.model_copy(update={
            "orders": (*decision.orders, *desk.staged_orders),
            "cancel_order_ids": (*decision.cancel_order_ids, *desk.staged_cancels),
        })
    details = result.loop.summary() if result.loop is not None else {}
    details["rejected_orders"] = [r.model_dump(mode="json") if hasattr(r, "model_dump") else str(r)
                                  for r in result.rejected_orders]
    details["staged_messages"] = list(desk.staged_messages)
    floor.work.llm_details[cfg.name] = details
    floor.work.trace(cfg.name, "decide", "llm_transcript", details)
    return decision
