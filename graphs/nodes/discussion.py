"""Node 2, discussion: the group chat on a topic chosen from market events, with sentiment."""
from __future__ import annotations

import random

from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.discussion.group_chat import run_group_chat, view_with_chat
from graphs.discussion.topic import choose_topic
from graphs.state import CycleState
from graphs.views import trader_view


def discussion(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    work = floor.work
    cfg = floor.config
    views = {
        t.name: trader_view(t.name, work.market, floor.ledger, floor.exchange, t.initial_cash) for t in cfg.traders
    }
    topic = choose_topic(work.market, cfg.topic)
    rng = random.Random(f"{floor.seed()}:{work.cycle}:chat")
    transcript = run_group_chat(views, cfg.traders, cfg.chat, topic, rng=rng)
    work.transcript = transcript
    work.views = {name: view_with_chat(v, transcript) for name, v in views.items()}
    work.trace("floor", "discussion", "topic", topic.model_dump(mode="json"))
    return {"topic": topic.headline, "sentiment": transcript.sentiment.overall, "messages": len(transcript.messages)}
