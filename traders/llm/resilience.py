"""Retry with exponential back-off, then a visible fallback. Never a silent HOLD.

- `call_with_retry(fn, policy)` runs one model call, retrying on a timeout, a connection error, an HTTP
  5xx/429/408/409, a body the client cannot read (garbage instead of JSON: the client stack raises a
  ValueError, which here always means "could not read the answer"), or any other unexpected
  error of the client stack. An HTTP 4xx such as 401 or 400 is not retried: the same request would fail
  the same way. When the retries are spent it raises `LLMGaveUp` with a short reason.
- Output that is readable but not a decision is retried by the tool loop itself, with a correction
  message (`traders.llm.tool_loop`), using the same policy and back-off.
- `as_fallback(rule_decision, reason)` is the only way an LLM failure reaches the graph: the trader's own
  rule decision, marked mode="fallback" with `fallback_reason`, its rationale saying so.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import openai

from traders.decision import Decision
from traders.llm.llm_decision import UnparseableOutput
from traders.llm.settings import RetryPolicy

T = TypeVar("T")

_RETRYABLE_STATUS = {408, 409, 429}


class LLMGaveUp(RuntimeError):
    """Retries are spent (or the error is not worth retrying); `reason` says why, for fallback_reason."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@dataclass(frozen=True)
class Failure:
    reason: str
    retryable: bool


def classify(exc: BaseException) -> Failure:
    """A short, stable reason for an exception, and whether retrying can help."""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        return Failure("connection error", True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return Failure(f"HTTP {status}", status >= 500 or status in _RETRYABLE_STATUS)
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | UnparseableOutput | ValueError):
        # a body that is not JSON (JSONDecodeError), or a stream with no chunk ("No generations found")
        return Failure("unparseable output", True)
    return Failure(f"LLM error ({type(exc).__name__}: {str(exc)[:120]})", True)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, Failure], None] | None = None,
) -> T:
    """`fn()` with up to `policy.max_retries` retries and exponential back-off between them."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes raw
            failure = classify(exc)
            retries_done = attempt - 1
            if not failure.retryable or retries_done >= policy.max_retries:
                suffix = f" after {attempt} attempts" if attempt > 1 else ""
                raise LLMGaveUp(failure.reason + suffix, attempt) from exc
            if on_retry is not None:
                on_retry(attempt, failure)
            sleep(policy.delay(attempt))


def as_fallback(rule_decision: Decision, reason: str, extra_signals: dict[str, float] | None = None) -> Decision:
    """The rule decision, visibly marked as standing in for a failed LLM decision."""
    signals = dict(rule_decision.signals)
    signals.update(extra_signals or {})
    return rule_decision.model_copy(
        update={
            "mode": "fallback",
            "fallback_reason": reason,
            "rationale": f"[LLM fallback: {reason}] {rule_decision.rationale}",
            "signals": signals,
        }
    )
