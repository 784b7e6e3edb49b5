"""Retry with exponential back-off, then a visible fallback. Never a silent HOLD.

- `call_with_retry(fn, policy)` runs one model call, retrying on a timeout, a connection error, an HTTP
  5xx/429/408/409, a body the client cannot read (garbage instead of JSON: the client stack raises a
  ValueError, which here always means "could not read the answer"), or any other unexpected
  error of the client stack. An HTTP 4xx such as 401 or 400 is not retried: the same request would fail
  the same way. When the retries are spent it raises `LLMGaveUp` with a short reason.
- A 429 or 503 with `Retry-After` waits what the server asked (when longer than the back-off), up to
  `policy.max_retry_after_s`; asked for longer, the call gives up at once with the reason saying so.
- `deadline` (a `time.monotonic()` instant): no attempt starts, and no back-off sleeps, past it; each
  attempt gets the time left as its timeout (`fn(timeout)`), so a hung endpoint costs at most the
  deadline, not `timeout_s` x attempts. Missing it gives up with reason "deadline ...".
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
    retry_after: float | None = None  # seconds the server asked us to wait


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds from a `retry-after-ms` or `retry-after` header (a number or an HTTP date), else None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return max(0.0, float(ms) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def classify(exc: BaseException) -> Failure:
    """A short, stable reason for an exception, and whether retrying can help."""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        return Failure("connection error", True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return Failure(f"HTTP {status}", status >= 500 or status in _RETRYABLE_STATUS, retry_after_of(exc))
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | UnparseableOutput | ValueError):
        # a body that is not JSON (JSONDecodeError), or a stream with no chunk ("No generations found")
        return Failure("unparseable output", True)
    return Failure(f"LLM error ({type(exc).__name__}: {str(exc)[:120]})", True)


class DeadlineMissed(LLMGaveUp):
    """The decision's deadline passed (see `call_with_retry`)."""


def call_with_retry(
    fn: Callable[..., T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, Failure], None] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`fn()` with up to `policy.max_retries` retries and back-off between them (see the module docstring).
    With a `deadline`, `fn` is called with the seconds left, to use as its timeout."""
    attempt = 0
    while True:
        attempt += 1
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0:
            raise DeadlineMissed(f"deadline: no answer within the cycle's LLM deadline ({attempt - 1} attempts)",
                                 attempt - 1)
        try:
            return fn() if left is None else fn(left)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes raw
            failure = classify(exc)
            retries_done = attempt - 1
            suffix = f" after {attempt} attempts" if attempt > 1 else ""
            if not failure.retryable or retries_done >= policy.max_retries:
                if deadline is not None and failure.reason == "timeout" and clock() >= deadline - 0.05:
                    raise DeadlineMissed(f"deadline: the endpoint did not answer within the cycle's LLM "
                                         f"deadline{suffix}", attempt) from exc
                raise LLMGaveUp(failure.reason + suffix, attempt) from exc
            wait = policy.delay(attempt)
            if failure.retry_after is not None:
                if failure.retry_after > policy.max_retry_after_s:
                    raise LLMGaveUp(f"{failure.reason}: Retry-After {failure.retry_after:g}s is beyond the "
                                    f"{policy.max_retry_after_s:g}s cap{suffix}", attempt) from exc
                wait = max(wait, failure.retry_after)
            if deadline is not None and clock() + wait >= deadline:
                raise DeadlineMissed(f"deadline: {failure.reason}{suffix}, and the next attempt (in {wait:g}s) "
                                     "would pass the cycle's LLM deadline", attempt) from exc
            if on_retry is not None:
                on_retry(attempt, failure)
            sleep(wait)


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
