"""Node 2, discussion: the group chat on a topic chosen from market events, with sentiment."""
from __future__ import annotations

import random

from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.state import CycleState
from traders.base import rule_decision
from traders.chat.group_chat import run_group_chat, with_chat
from traders.chat.rumours import with_rumours
from traders.chat.topic import choose_topic
from traders.views import trader_view


def discussion(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    work = floor.work
    cfg = floor.config
    with floor.ledger.pinned():  # one check for other connections' commits, not three per trader
        views = {
            t.name: trader_view(t.name, work.market, floor.ledger, floor.exchange, t.initial_cash)
            for t in cfg.traders
        }
    topic = choose_topic(work.market, cfg.topic)
    rng = random.Random(f"{floor.seed()}:{work.cycle}:chat")
    compose_round = _llm_round(floor, views) if cfg.has_llm_traders else None
    # Speakers argue from their rule decisions before the chat; decide reuses those that cannot change.
    work.pre_chat_decisions = {t.name: rule_decision(views[t.name], t) for t in cfg.traders}
    transcript = run_group_chat(views, cfg.traders, cfg.chat, topic, rng=rng, compose_round=compose_round,
                                decisions=work.pre_chat_decisions)
    if cfg.chat.enabled:  # a scenario's rumours of this cycle join the chat, marked (traders/chat/rumours.py)
        transcript = with_rumours(transcript, work.market.headlines, work.market.symbols)
    work.transcript = transcript
    # every view shares this cycle's snapshot: add the chat to it once, not once per trader (view_with_chat)
    market = with_chat(work.market, transcript)
    work.views = {name: v.model_copy(update={"market": market}) for name, v in views.items()}
    work.trace("floor", "discussion", "topic", topic.model_dump(mode="json"))
    return {"topic": topic.headline, "sentiment": transcript.sentiment.overall, "messages": len(transcript.messages)}


def _llm_round(floor, views):
    """Compose a round: LLM traders write their own message (in parallel), rule traders use their signals."""
    from traders.chat.group_chat import rule_compose
    from traders.llm.chat_message import llm_chat_text, parallel_round
    from traders.registry import describe
    from traders.view_text import render_view

    limit = floor.config.chat.max_message_chars

    def write(turn) -> str:
        rule = lambda: rule_compose(turn, limit)  # noqa: E731
        if turn.cfg.mode != "llm":
            return rule()
        text, fallback = llm_chat_text(
            turn, llm_cfg=floor.config.llm_for(turn.cfg), model=floor.llm_models.get(turn.cfg.name),
            budget=floor.llm_budget, cache=floor.llm_cache, description=describe(turn.cfg.theory),
            view_text=render_view(views[turn.cfg.name]), max_chars=limit, rule_text=rule,
        )
        floor.work.trace(turn.cfg.name, "discussion", "chat_llm",
                         {"round": turn.round, "mode": "fallback" if fallback else "llm", "fallback_reason": fallback})
        return text

    return lambda turns: parallel_round(turns, write)
