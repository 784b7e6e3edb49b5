"""Units of the resilient call path: Retry-After parsing (seconds, milliseconds, an HTTP date), the
deadline that stops retries, and the circuit breaker's counting."""
from __future__ import annotations

from email.utils import formatdate

import httpx
import openai
import pytest

from traders.llm.breaker import CircuitBreaker
from traders.llm.resilience import DeadlineMissed, LLMGaveUp, call_with_retry, retry_after_of
from traders.llm.settings import RetryPolicy


def _status_error(status: int, headers: dict) -> openai.APIStatusError:
    req = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    resp = httpx.Response(status, headers=headers, request=req)
    return openai.APIStatusError("error", response=resp, body=None)


def test_retry_after_in_seconds_milliseconds_and_as_an_http_date():
    assert retry_after_of(_status_error(429, {"retry-after": "3"})) == 3.0
    assert retry_after_of(_status_error(429, {"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    in_a_while = retry_after_of(_status_error(503, {"retry-after": formatdate(usegmt=True)}))
    assert in_a_while is not None and 0 <= in_a_while < 2
    assert retry_after_of(_status_error(500, {})) is None
    assert retry_after_of(_status_error(429, {"retry-after": "soon"})) is None


def test_the_deadline_stops_retries_that_would_pass_it():
    now = [0.0]
    sleeps: list[float] = []

    def fail(timeout=None):
        assert timeout is not None and timeout <= 5.0  # each attempt gets the time left
        now[0] += 1.0
        raise _status_error(429, {"retry-after": "3"})

    with pytest.raises(DeadlineMissed) as exc:
        call_with_retry(fail, RetryPolicy(max_retries=5), sleep=lambda s: (sleeps.append(s), now.__setitem__(0, now[0] + s)),
                        deadline=5.0, clock=lambda: now[0])
    assert sleeps == [3.0]  # 1 s + 3 s wait + 1 s: a second wait would pass the 5 s deadline
    assert exc.value.reason.startswith("deadline")


def test_a_client_error_is_not_retried_even_with_time_left():
    calls = []

    def bad(timeout=None):
        calls.append(timeout)
        raise _status_error(401, {})

    with pytest.raises(LLMGaveUp) as exc:
        call_with_retry(bad, RetryPolicy(max_retries=3), sleep=lambda s: None, deadline=1e12)
    assert exc.value.reason == "HTTP 401" and len(calls) == 1


def test_the_breaker_opens_after_n_failures_in_a_row_and_a_success_closes_it():
    b = CircuitBreaker()
    e = "stub (http://127.0.0.1:1/v1)"
    assert not b.record(e, 1, False, failures_to_open=3, skip_cycles=2)
    assert not b.record(e, 1, True, failures_to_open=3, skip_cycles=2)  # the count starts again
    assert [b.record(e, 2, False, failures_to_open=3, skip_cycles=2) for _ in range(3)] == [False, False, True]
    assert b.blocked(e, 2) and b.blocked(e, 4) and not b.blocked(e, 5)
    assert "failed 3 times in a row; skipped through cycle 4" in b.blocked(e, 3)
    assert b.record(e, 5, False, failures_to_open=3, skip_cycles=2)  # half-open: one more failure reopens
    assert b.blocked(e, 7) and not b.blocked("another", 7)
