"""The LLM trader's decision for one cycle: `llm_decide(...) -> Decision`.

It never raises into the cycle graph and never turns a failure into a silent HOLD:
- success: the model's validated decision, mode="llm", its signals extended with the loop's numbers
  (`llm_steps`, `llm_tool_calls`, `llm_input_tokens`, `llm_output_tokens`, `llm_orders_rejected`:
  only numbers that a cached rerun reproduces, so a replayed decision is identical), rejected orders
  named in the rationale;
- budget spent, missing key, timeouts, HTTP errors or unparseable output after the retries, the
  decision's deadline missed (`deadline_s`), or the endpoint's circuit open (`breaker`,
  traders/llm/breaker.py): the trader's rule decision (`rule_fallback()`), mode="fallback", with
  `fallback_reason`.

`llm_decide_detailed` returns the same decision plus the transcript (`loop.summary()`: tool calls, tokens,
cache hits, retries), the rejected orders and the parse errors, for the tracer and the UI.

A rerun with `use_cache: true` is exact for answers that were received: failures (timeouts, HTTP errors)
are never cached, so a rerun asks the server again where the original run fell back.
Call it from a worker thread (LangGraph runs sync nodes in threads); async-only tools are run with
`asyncio.run`, which needs a thread without a running event loop.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from traders.decision import Decision
from traders.llm import prompts
from traders.llm.breaker import CircuitBreaker, endpoint_of
from traders.llm.budget import BUDGET_EXHAUSTED, Budget
from traders.llm.cache import LLMCache
from traders.llm.llm_decision import OrderLimits, OrderRejection, Problem
from traders.llm.model_factory import MissingAPIKey, build_chat_model
from traders.llm.resilience import as_fallback
from traders.llm.settings import LLMConfigLike, RetryPolicy
from traders.llm.tool_loop import LoopResult, ToolLoop

DEFAULT_MAX_STEPS = 6


@dataclass
class LLMTraderResult:
    decision: Decision
    loop: LoopResult | None = None  # None when no model call was attempted (budget spent, no key)
    rejected_orders: tuple[OrderRejection, ...] = ()
    problems: tuple[Problem, ...] = ()
    parse_errors: list[str] = field(default_factory=list)
    circuit_opened: str | None = None  # the endpoint whose circuit this decision's failure opened

    @property
    def fell_back(self) -> bool:
        return self.decision.mode == "fallback"


def _identity(trader: Any, theory_description: str | None) -> tuple[str, str]:
    """(name, theory description) of a trader given as a name or as a config with `.name`/`.theory`."""
    name = trader if isinstance(trader, str) else str(getattr(trader, "name", trader))
    if theory_description is not None:
        return name, theory_description
    theory = getattr(trader, "theory", None)
    if isinstance(theory, str):
        try:
            from traders.registry import get_theory

            return name, get_theory(theory).description
        except Exception:  # noqa: BLE001 - an unknown theory still gets a prompt
            return name, f"The {theory} theory."
    return name, ""


def llm_decide_detailed(
    view_text: str,
    tools: Sequence[Any],
    llm_cfg: LLMConfigLike,
    budget: Budget | None,
    cache: LLMCache | None,
    rule_fallback: Callable[[], Decision],
    trader: Any,
    cycle: int,
    *,
    model: Any = None,
    theory_description: str | None = None,
    symbols: Iterable[str] | None = None,
    limits: OrderLimits | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    retry: RetryPolicy | None = None,
    stream: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
    breaker: CircuitBreaker | None = None,
) -> LLMTraderResult:
    """See the module docstring. `deadline` (a `time.monotonic()` instant) defaults to now plus the
    config's `deadline_s`. `model` injects a chat model (tests, or a shared client); otherwise one
    is built from `llm_cfg`. `symbols` (or `limits`) lets the edge reject tickers outside the universe."""
    name, description = _identity(trader, theory_description)

    def fallback(reason: str, loop: LoopResult | None = None) -> LLMTraderResult:
        extra = loop.decision_signals() if loop else {}
        return LLMTraderResult(decision=as_fallback(rule_fallback(), reason, extra), loop=loop,
                               parse_errors=list(loop.parse_errors) if loop else [])

    if budget is not None and budget.exhausted(cycle, name):
        return fallback(BUDGET_EXHAUSTED)
    endpoint = endpoint_of(llm_cfg)
    blocked = breaker.blocked(endpoint, cycle) if breaker is not None else None
    if blocked:
        return fallback(blocked)
    if stream is None:
        stream = bool(getattr(llm_cfg, "streaming", False))
    try:
        if model is None:
            model = build_chat_model(llm_cfg, streaming=stream)
        if limits is None:
            limits = OrderLimits(symbols=frozenset(s.upper() for s in symbols) if symbols is not None else None)
        policy = retry or RetryPolicy(max_retries=llm_cfg.max_retries,
                                      max_retry_after_s=getattr(llm_cfg, "max_retry_after_s", 10.0))
        if deadline is None:
            deadline = time.monotonic() + float(getattr(llm_cfg, "deadline_s", 45.0))
        loop = ToolLoop(
            model, tools, trader=name, cycle=cycle, limits=limits, max_steps=max_steps, policy=policy,
            budget=budget, cache=cache if llm_cfg.use_cache else None,
            cache_params={"model": llm_cfg.model, "base_url": llm_cfg.base_url,
                          "temperature": llm_cfg.temperature, "max_tokens": llm_cfg.max_tokens},
            stream=bool(stream), sleep=sleep, deadline=deadline, request_timeout=llm_cfg.timeout_s,
        )
        messages = [
            SystemMessage(prompts.system_prompt(name, description, loop.max_steps)),
            HumanMessage(prompts.decision_prompt(view_text, cycle)),
        ]
        result = loop.run(messages)
    except MissingAPIKey as exc:
        return fallback(f"missing API key: {exc}")
    except Exception as exc:  # noqa: BLE001 - a broken LLM stack falls back, it never stops the cycle
        return fallback(f"LLM error ({type(exc).__name__}: {str(exc)[:120]})")
    opened = None
    counts = breaker is not None and (result.endpoint_failed or result.parsed is not None)
    if counts and breaker.record(endpoint, cycle, result.parsed is not None,
                                 failures_to_open=int(getattr(llm_cfg, "breaker_failures", 3)),
                                 skip_cycles=int(getattr(llm_cfg, "breaker_cycles", 5))):
        opened = endpoint
    if result.parsed is None:
        out = fallback(result.failure or "no decision", result)
        out.circuit_opened = opened
        return out
    parsed = result.parsed
    signals = {**parsed.decision.signals, **result.decision_signals(),
               "llm_orders_rejected": float(len(parsed.rejected_orders))}
    decision = parsed.decision.model_copy(update={"signals": signals})
    return LLMTraderResult(decision=decision, loop=result, rejected_orders=parsed.rejected_orders,
                           problems=parsed.problems, parse_errors=list(result.parse_errors))


def llm_decide(
    view_text: str,
    tools: Sequence[Any],
    llm_cfg: LLMConfigLike,
    budget: Budget | None,
    cache: LLMCache | None,
    rule_fallback: Callable[[], Decision],
    trader: Any,
    cycle: int,
    **options: Any,
) -> Decision:
    """The trader's Decision for `cycle` (mode "llm", or "fallback" with a reason). Options as in
    `llm_decide_detailed`."""
    return llm_decide_detailed(view_text, tools, llm_cfg, budget, cache, rule_fallback, trader, cycle,
                               **options).decision
