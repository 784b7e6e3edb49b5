"""A circuit breaker per LLM endpoint: after N consecutive failed decisions on an endpoint, its traders
skip it for K cycles and decide by their rules, marked `fallback` with the reason "circuit open: ...".

- What counts as a failure: the endpoint did not give an answer (timeout, deadline, connection error,
  HTTP 5xx/429 after the retries, a body it could not read). An answer that is not a valid decision
  is the model's fault, not the endpoint's, and neither opens nor closes the circuit; a budget stop or
  a missing key makes no call at all.
- Consecutive failures are counted per endpoint across its traders (six traders on one dead endpoint
  open it in their first cycle). While open, no request is sent. After K cycles it is half-open: the
  next decision tries again; a success closes it, a failure opens it for another K cycles.
- The endpoint is named by its config name and URL, so the reason says which one.

The breaker lives in memory in the process running the floor (one per Floor: `breaker_of(floor)`); a
new process starts with every circuit closed, and the first failures open it again.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class _Circuit:
    failures: int = 0
    open_through: int | None = None  # the last cycle that skips the endpoint
    why: str | None = None  # set when opened from outside (the start-up check), instead of a failure count


def endpoint_of(cfg: Any) -> str:
    """A readable, unique name of an LLM config's endpoint."""
    return f"{getattr(cfg, 'name', '?')} ({getattr(cfg, 'base_url', None) or 'https://api.openai.com/v1'})"


class CircuitBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def blocked(self, endpoint: str, cycle: int) -> str | None:
        """The fallback reason when `endpoint` is skipped in `cycle`, else None."""
        with self._lock:
            c = self._circuits.get(endpoint)
            if c is None or c.open_through is None or cycle > c.open_through:
                return None
            why = c.why or f"failed {c.failures} times in a row"
            return f"circuit open: {endpoint} {why}; skipped through cycle {c.open_through}"

    def record(self, endpoint: str, cycle: int, ok: bool, *, failures_to_open: int, skip_cycles: int) -> bool:
        """Count one decision's outcome on `endpoint`; True when this failure opened the circuit."""
        with self._lock:
            c = self._circuits.setdefault(endpoint, _Circuit())
            if ok:
                c.failures, c.open_through, c.why = 0, None, None
                return False
            c.failures += 1
            c.why = None
            already = c.open_through is not None and cycle <= c.open_through
            if c.failures >= failures_to_open and not already:
                c.open_through = cycle + skip_cycles
                return True
            return False

    def trip(self, endpoint: str, through_cycle: int, why: str) -> None:
        """Open the circuit from outside (the start-up check found the endpoint down) through a cycle; after
        it the endpoint is tried again, and one more failure opens it again."""
        with self._lock:
            c = self._circuits.setdefault(endpoint, _Circuit())
            c.open_through, c.why = through_cycle, why
            c.failures = max(c.failures, 1)

    def state(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: {"failures": c.failures, "open_through": c.open_through} for k, c in self._circuits.items()}


_ATTR = "llm_breaker"


def breaker_of(floor: Any) -> CircuitBreaker:
    """The Floor's breaker, made on first use."""
    breaker = getattr(floor, _ATTR, None)
    if breaker is None:
        with floor.lock:
            breaker = getattr(floor, _ATTR, None)
            if breaker is None:
                breaker = CircuitBreaker()
                setattr(floor, _ATTR, breaker)
    return breaker
