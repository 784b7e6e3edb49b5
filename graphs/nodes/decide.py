"""Node 3, decide: one trader's Decision (graphs/nodes/fan_out.py sends the traders here).

Rule mode (the default) is deterministic and offline. LLM mode runs the bounded tool-calling loop over
the trader's tools; write tools only stage intents on the trader's desk, which are reconciled with the
final decision (the same order staged and declared is sent once; a fallback discards them all) and
still pass the risk node; staged chat posts join the cycle's chat transcript (traders/llm/posts.py).
With `tools: mcp` the trader's tools come from the MCP market and accounts servers instead
(langchain-mcp-adapters); orders placed there are queued and join the same cycle's risk check. Any LLM
failure falls back visibly to the rule decision.
"""
from __future__ import annotations

from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.state import DecideInput
from traders.base import rule_decision, rule_decision_after_chat
from traders.decision import Decision
from traders.view_text import render_view


def decide(payload: DecideInput, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    name = payload["trader"]
    cfg = floor.config.trader(name)
    view = floor.work.views[name]
    if cfg.mode == "llm":
        memory_text, note = "", None
        if cfg.learning is not None:  # similar memories and lessons in the prompt (traders/memory/llm_memory.py)
            from traders.memory.llm_memory import llm_memory
            cfg, memory_text, note = llm_memory(floor, cfg, view)
        decision = _llm_decision(floor, cfg, view, memory_text)
        if note is not None:
            from traders.memory.cycle_hook import with_learning_signal
            decision = with_learning_signal(decision, note)
            floor.work.trace(name, "decide", "learning", note)
    elif cfg.learning is not None:  # rule-mode learning (traders/memory/): the tuned parameter comes from memory
        from traders.memory.cycle_hook import learned_config, with_learning_signal
        learned, note = learned_config(floor.ledger, floor.lock, floor.config.seed or 0, cfg, view,
                                        token=floor.work)
        same = learned is cfg  # the learned value is the configured one: the decision before the chat may serve
        decision = with_learning_signal(rule_decision_after_chat(
            view, learned, floor.work.pre_chat_decisions.get(name) if same else None), note)
        floor.work.trace(name, "decide", "learning", note)
    else:
        decision = rule_decision_after_chat(view, cfg, floor.work.pre_chat_decisions.get(name))
    # one dump for the trace and the state: the same value twice, and neither is changed after this
    dumped = decision.model_dump(mode="json")
    floor.work.trace(name, "decide", "decision", dumped)
    floor.work.decided[name] = (dumped, decision)
    return {"decisions": [dumped]}


def _llm_decision(floor, cfg, view, memory_text: str = "") -> Decision:
    from tools.desk import TraderDesk
    from tools.toolset import make_trader_tools
    from traders.llm.breaker import breaker_of
    from traders.llm.posts import with_posts
    from traders.llm.reconcile import reconcile
    from traders.llm.tool_specs import tools_for_theory
    from traders.llm.trader import llm_decide_detailed

    desk = TraderDesk(trader=cfg.name, exchange=floor.exchange, ledger=floor.ledger, cycle=view.cycle,
                      lock=floor.lock, staged_orders=[], staged_cancels=[], staged_messages=[])
    # local tools: each theory sees the read tools it uses, orders go in `submit_decision`
    # (traders/llm/tool_specs.py); `tools: mcp` keeps every tool the MCP servers offer, place_order included
    if cfg.tools == "mcp":
        tools = floor.mcp_tools(cfg.name)
    else:
        tools = tools_for_theory(make_trader_tools(desk), cfg.theory)
    result = llm_decide_detailed(
        render_view(view, cfg) + memory_text, tools, floor.config.llm_for(cfg), floor.llm_budget,
        floor.llm_cache, lambda: rule_decision(view, cfg), cfg, view.cycle,
        model=floor.llm_models.get(cfg.name), symbols=list(floor.by_symbol), breaker=breaker_of(floor),
    )
    # one decision, one set of orders; a fallback discards what the failed loop staged (traders/llm/reconcile.py)
    merged = reconcile(result.decision, desk.staged_orders, desk.staged_cancels)
    decision = merged.decision
    details = result.loop.summary() if result.loop is not None else {}
    details["rejected_orders"] = [r.model_dump(mode="json") if hasattr(r, "model_dump") else str(r)
                                  for r in result.rejected_orders]
    details.update(merged.trace(), mode=decision.mode, fallback_reason=decision.fallback_reason)
    if result.circuit_opened:
        details["circuit_opened"] = result.circuit_opened
    if floor.llm_budget is not None:  # how the decision ended goes to the ledger with its spend
        floor.llm_budget.note(view.cycle, cfg.name, decision.mode, decision.fallback_reason)
    details["staged_messages"] = list(desk.staged_messages)
    if decision.mode == "llm" and desk.staged_messages and floor.work.transcript is not None:
        with floor.lock:  # traders decide in parallel threads; `with_posts` keeps a fixed order
            floor.work.transcript = with_posts(
                floor.work.transcript, cfg.name, desk.staged_messages, cycle=view.cycle,
                round_no=floor.config.chat.rounds, traders=floor.trader_names, symbols=list(floor.by_symbol),
                mentions=floor.config.chat.routing == "mention")
        details["messages_posted"] = len(desk.staged_messages)
    elif desk.staged_messages:
        details["messages_dropped"] = "the LLM decision fell back: its staged messages are not posted"
    floor.work.llm_details[cfg.name] = details
    floor.work.trace(cfg.name, "decide", "llm_transcript", details)
    return decision
