"""LLM-written group-chat messages for traders in LLM mode.

A round's turns are written in parallel (one request per LLM trader), since within a round every speaker
answers only the previous round. Cached when the trader's config says `use_cache`, charged to the run's
budget (as kind "chat", with how it ended), retried like decisions (Retry-After, the deadline); any failure (or an exhausted budget) falls back to the rule-composed
message, and the fallback is reported to the caller so the trace shows it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from traders.llm import prompts
from traders.llm.budget import BUDGET_EXHAUSTED, Budget
from traders.llm.cache import LLMCache, cache_key
from traders.llm.model_factory import MissingAPIKey, build_chat_model
from traders.llm.resilience import LLMGaveUp, call_with_retry
from traders.llm.settings import RetryPolicy


def llm_chat_text(turn: Any, *, llm_cfg: Any, model: Any, budget: Budget | None, cache: LLMCache | None,
                  description: str, view_text: str, max_chars: int, rule_text: Callable[[], str]) -> tuple[str, str | None]:
    """(message text, fallback reason or None)."""
    name, cycle = turn.cfg.name, turn.view.cycle
    text, reason = _chat_text(turn, llm_cfg=llm_cfg, model=model, budget=budget, cache=cache, description=description,
                              view_text=view_text, max_chars=max_chars, rule_text=rule_text)
    if budget is not None:
        budget.note(cycle, name, "fallback" if reason else "llm", (reason or "").removeprefix("chat message: "),
                    kind="chat")
    return text, reason


def _chat_text(turn: Any, *, llm_cfg: Any, model: Any, budget: Budget | None, cache: LLMCache | None,
               description: str, view_text: str, max_chars: int, rule_text: Callable[[], str]) -> tuple[str, str | None]:
    name, cycle = turn.cfg.name, turn.view.cycle
    stance = {1: "buying", -1: "selling", 0: "holding"}[turn.stance] + (f" {turn.symbol}" if turn.symbol else "")
    messages = [
        SystemMessage(prompts.chat_system_prompt(name, description, max_chars)),
        HumanMessage(prompts.chat_turn_prompt(turn.topic.headline, stance, turn.decision.rationale,
                                              turn.reply_to.text if turn.reply_to else None, view_text)),
    ]
    estimate = sum(len(str(m.content)) for m in messages) // 4 + 1
    if budget is not None and budget.exhausted(cycle, name, estimate):
        return rule_text(), BUDGET_EXHAUSTED
    key = cache_key({"model": llm_cfg.model, "base_url": llm_cfg.base_url, "temperature": llm_cfg.temperature,
                     "kind": "chat"}, messages, [])
    cached = cache.get(key) if cache is not None and llm_cfg.use_cache else None
    try:
        model = model or build_chat_model(llm_cfg)
        policy = RetryPolicy(max_retries=llm_cfg.max_retries,
                             max_retry_after_s=getattr(llm_cfg, "max_retry_after_s", 10.0))
        deadline = time.monotonic() + float(getattr(llm_cfg, "deadline_s", 45.0))
        reply = cached or call_with_retry(
            lambda timeout=None: model.invoke(messages, **({} if timeout is None else
                                                         {"timeout": min(timeout, llm_cfg.timeout_s)})),
            policy, deadline=deadline)
    except LLMGaveUp as exc:
        return rule_text(), f"chat message: {exc}"
    except MissingAPIKey as exc:
        return rule_text(), f"chat message: missing API key: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken LLM stack never stops the discussion
        return rule_text(), f"chat message: {type(exc).__name__}: {str(exc)[:120]}"
    if not isinstance(reply, AIMessage) or not str(reply.content).strip():
        return rule_text(), "chat message: empty answer"
    if cache is not None and llm_cfg.use_cache and cached is None:
        cache.put(key, reply)
    usage = reply.usage_metadata or {}
    if budget is not None:
        budget.charge(cycle, name, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)),
                      cached=cached is not None, kind="chat")
    return str(reply.content).strip(), None


def parallel_round(turns: list, write_one: Callable[[Any], str], max_workers: int = 8) -> list[str]:
    """Write a round's messages concurrently, keeping the turns' order."""
    if len(turns) <= 1:
        return [write_one(t) for t in turns]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(turns))) as pool:
        return list(pool.map(write_one, turns))
