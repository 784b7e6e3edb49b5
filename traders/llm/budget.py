"""A per-run token and cost budget for LLM calls, shared by traders deciding in parallel threads.

Determinism: traders of one cycle decide in parallel, so "who spent the last token first" would depend
on thread timing. Exhaustion is therefore judged, for a trader in cycle c, on what the run spent in
cycles before c plus what *this trader* spent in cycle c. Both are independent of thread order, so the
same seed gives the same switch to rule mode. The price is a bounded overshoot: at most one cycle of
the other traders' spending beyond the limit.

Cached answers are charged like fresh ones (their recorded usage), so a rerun served from the cache
exhausts the budget at the same point as the original run; `cached_tokens` shows what was not paid.
"""
from __future__ import annotations

import threading
from collections import defaultdict

from traders.llm.settings import BudgetConfig

BUDGET_EXHAUSTED = "budget exhausted"


class Budget:
    def __init__(self, config: BudgetConfig | None = None) -> None:
        self.config = config or BudgetConfig()
        self._lock = threading.Lock()
        self._tokens_by_cycle: dict[int, int] = defaultdict(int)
        self._cost_by_cycle: dict[int, float] = defaultdict(float)
        self._own: dict[tuple[int, str], tuple[int, float]] = {}
        self.calls = 0
        self.cached_tokens = 0

    def cost_of(self, input_tokens: int, output_tokens: int) -> float:
        c = self.config
        return (input_tokens * c.input_cost_per_mtok + output_tokens * c.output_cost_per_mtok) / 1e6

    def charge(self, cycle: int, trader: str, input_tokens: int, output_tokens: int, *, cached: bool = False) -> None:
        tokens = max(0, input_tokens) + max(0, output_tokens)
        cost = self.cost_of(max(0, input_tokens), max(0, output_tokens))
        with self._lock:
            self._tokens_by_cycle[cycle] += tokens
            self._cost_by_cycle[cycle] += cost
            t, k = self._own.get((cycle, trader), (0, 0.0))
            self._own[(cycle, trader)] = (t + tokens, k + cost)
            self.calls += 1
            if cached:
                self.cached_tokens += tokens

    def _usable(self, cycle: int, trader: str) -> tuple[int, float]:
        tokens = sum(v for c, v in self._tokens_by_cycle.items() if c < cycle)
        cost = sum(v for c, v in self._cost_by_cycle.items() if c < cycle)
        own_t, own_c = self._own.get((cycle, trader), (0, 0.0))
        return tokens + own_t, cost + own_c

    def exhausted(self, cycle: int, trader: str) -> bool:
        """True when `trader` may not start another LLM call in `cycle`."""
        c = self.config
        if c.max_tokens_per_run is None and c.max_cost is None:
            return False
        with self._lock:
            tokens, cost = self._usable(cycle, trader)
        if c.max_tokens_per_run is not None and tokens >= c.max_tokens_per_run:
            return True
        return c.max_cost is not None and cost >= c.max_cost

    @property
    def tokens_used(self) -> int:
        with self._lock:
            return sum(self._tokens_by_cycle.values())

    @property
    def cost_used(self) -> float:
        with self._lock:
            return sum(self._cost_by_cycle.values())

    def forget_after(self, cycle: int) -> None:
        """Drop spending recorded after `cycle` (a rollback to `cycle` undoes it)."""
        with self._lock:
            for c in [c for c in self._tokens_by_cycle if c > cycle]:
                del self._tokens_by_cycle[c]
                self._cost_by_cycle.pop(c, None)
            for key in [k for k in self._own if k[0] > cycle]:
                del self._own[key]

    def summary(self) -> dict[str, float]:
        with self._lock:
            return {
                "tokens_used": float(sum(self._tokens_by_cycle.values())),
                "cost_used": sum(self._cost_by_cycle.values()),
                "calls": float(self.calls),
                "cached_tokens": float(self.cached_tokens),
            }
