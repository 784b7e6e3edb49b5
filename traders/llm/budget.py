"""The run's LLM budget: tokens and cost, recorded in the ledger, checked before every call.

Where the spending lives: each cycle's calls, tokens and cost per trader (and how each decision ended)
are collected here while the cycle runs and written to the ledger's `llm_spend` history table in the
cycle's settle transaction (`take`, ledger/llm_spend.py). What the run spent before the current cycle
is read back from the ledger (`spent_before`), following the branch's lineage. So the budget is part of
the run: a run continued by another process starts from what was spent, a rollback gives back the
spending of the cycles it discards, and a fork shares its parent's spending up to the fork.
Without a ledger (`Budget(config)` alone, in unit tests) the earlier cycles are summed in memory.

The check, before every call, with the request's estimate (`exhausted(cycle, trader, estimate)`):
the budget left at the start of the cycle is shared equally by the LLM traders (`traders`); a call is
made only if the trader's own spending in this cycle plus the request's estimated input tokens fits its
share. Why shares: traders decide in parallel threads, and a shared pot would make "who spent the last
token" depend on thread timing, so the same seed could give another run; with shares, each trader's
allowance depends only on earlier cycles and its own calls. The cap holds: the estimate covers the input
(characters / 4 of the messages and tool schemas), so a cycle can pass it by at most the output of each
trader's last request, never by a whole cycle of everyone's spending. The price is that a little of the
budget can stay unspent at the end (less than one request per trader).

Cached answers are charged like fresh ones (their recorded usage), so a rerun served from the cache
exhausts the budget at the same point as the original run; `cached_calls` shows what was not paid.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from traders.llm.settings import BudgetConfig

BUDGET_EXHAUSTED = "budget exhausted"


def reason_kind(reason: str | None) -> str:
    """A short, countable category of a fallback reason ("HTTP 500 after 3 attempts" -> "HTTP 500")."""
    if not reason:
        return ""
    text = reason.strip()
    for sep in (" after ", ":", " ("):
        text = text.split(sep, 1)[0]
    return text.strip()[:60] or reason[:60]


@dataclass
class _Entry:
    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0  # USD
    mode: str = ""
    reason: str = ""


class Budget:
    def __init__(self, config: BudgetConfig | None = None, *,
                 spent_before: Callable[[int], tuple[int, int]] | None = None, traders: int = 1) -> None:
        """`spent_before(cycle)` -> (tokens, micro-dollars) the run spent before `cycle` (from the ledger);
        `traders`: how many LLM traders share each cycle's allowance."""
        self.config = config or BudgetConfig()
        self.spent_source = spent_before
        self.traders = max(1, traders)
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str, str], _Entry] = {}  # (cycle, trader, kind), not yet in the ledger
        self._taken: dict[int, tuple[int, float]] = {}  # cycle -> (tokens, cost) written (no ledger: kept here)
        self.calls = 0
        self.cached_tokens = 0

    @classmethod
    def for_floor(cls, floor: Any) -> Budget:
        """The budget of a Floor's run: earlier spending read from its ledger, on the line being run."""
        from ledger import llm_spend

        def spent(cycle: int) -> tuple[int, int]:
            with floor.lock:  # the ledger connection is shared with the traders' tools
                branch = floor.at[1] if floor.at is not None else floor.ledger.branch_id
                return llm_spend.spent_before(floor.ledger.conn, branch, cycle)

        n = sum(1 for t in floor.config.traders if t.mode == "llm")
        return cls(floor.config.llm_budget, spent_before=spent, traders=n)

    # ----- prices -------------------------------------------------------------------------------
    def cost_of(self, input_tokens: int, output_tokens: int) -> float:
        c = self.config
        return (input_tokens * c.input_cost_per_mtok + output_tokens * c.output_cost_per_mtok) / 1e6

    @property
    def limited(self) -> bool:
        return self.config.max_tokens_per_run is not None or self.config.max_cost is not None

    # ----- recording ----------------------------------------------------------------------------
    def charge(self, cycle: int, trader: str, input_tokens: int, output_tokens: int, *, cached: bool = False,
               kind: str = "decision") -> None:
        tin, tout = max(0, input_tokens), max(0, output_tokens)
        with self._lock:
            e = self._entries.setdefault((cycle, trader, kind), _Entry())
            e.calls += 1
            e.cached_calls += int(cached)
            e.input_tokens += tin
            e.output_tokens += tout
            e.cost += self.cost_of(tin, tout)
            self.calls += 1
            if cached:
                self.cached_tokens += tin + tout

    def note(self, cycle: int, trader: str, mode: str, reason: str | None = None, *, kind: str = "decision") -> None:
        """How the trader's decision (or chat message) of `cycle` ended: mode "llm" or "fallback"."""
        with self._lock:
            e = self._entries.setdefault((cycle, trader, kind), _Entry())
            e.mode, e.reason = mode, reason_kind(reason)

    def take(self, cycle: int) -> list[dict[str, Any]]:
        """The rows of `cycle` for the ledger (ledger/llm_spend.py), removed from memory."""
        with self._lock:
            keys = sorted(k for k in self._entries if k[0] == cycle)
            rows = []
            tokens, cost = 0, 0.0
            for key in keys:
                e = self._entries.pop(key)
                rows.append({"trader": key[1], "kind": key[2], "mode": e.mode, "reason": e.reason,
                             "calls": e.calls, "cached_calls": e.cached_calls, "input_tokens": e.input_tokens,
                             "output_tokens": e.output_tokens, "cost_micro_usd": round(e.cost * 1e6)})
                tokens += e.input_tokens + e.output_tokens
                cost += e.cost
            if self.spent_source is None:
                t, c = self._taken.get(cycle, (0, 0.0))
                self._taken[cycle] = (t + tokens, c + cost)
            return rows

    # ----- the check ----------------------------------------------------------------------------
    def _before(self, cycle: int) -> tuple[int, float]:
        """(tokens, USD) spent before `cycle`: from the ledger, or (no ledger) from memory."""
        if self.spent_source is not None:
            tokens, micro = self.spent_source(cycle)
            return tokens, micro / 1e6
        with self._lock:
            tokens = sum(t for c, (t, _) in self._taken.items() if c < cycle)
            cost = sum(k for c, (_, k) in self._taken.items() if c < cycle)
            tokens += sum(e.input_tokens + e.output_tokens for (c, _, _), e in self._entries.items() if c < cycle)
            cost += sum(e.cost for (c, _, _), e in self._entries.items() if c < cycle)
        return tokens, cost

    def _own(self, cycle: int, trader: str) -> tuple[int, float]:
        with self._lock:
            mine = [e for (c, t, _), e in self._entries.items() if c == cycle and t == trader]
            return sum(e.input_tokens + e.output_tokens for e in mine), sum(e.cost for e in mine)

    def exhausted(self, cycle: int, trader: str, estimate_tokens: int = 0) -> bool:
        """True when `trader` may not make a call estimated at `estimate_tokens` input tokens in `cycle`."""
        c = self.config
        if not self.limited:
            return False
        before_t, before_c = self._before(cycle)
        own_t, own_c = self._own(cycle, trader)
        if c.max_tokens_per_run is not None:
            share = (c.max_tokens_per_run - before_t) / self.traders
            if before_t >= c.max_tokens_per_run or own_t + estimate_tokens > share or own_t >= share:
                return True
        if c.max_cost is not None:
            share = (c.max_cost - before_c) / self.traders
            need = self.cost_of(estimate_tokens, 0)
            if before_c >= c.max_cost or own_c + need > share + 1e-12 or own_c >= share:  # float sums: 1e-12 USD
                return True
        return False

    # ----- totals -------------------------------------------------------------------------------
    def cycle_totals(self, cycle: int) -> dict[str, float]:
        """What the cycle spent so far (not yet written to the ledger)."""
        with self._lock:
            mine = [e for (c, _, _), e in self._entries.items() if c == cycle]
            return {"tokens": float(sum(e.input_tokens + e.output_tokens for e in mine)),
                    "cost": sum(e.cost for e in mine), "calls": float(sum(e.calls for e in mine))}

    @property
    def tokens_used(self) -> int:
        with self._lock:
            return (sum(t for t, _ in self._taken.values())
                    + sum(e.input_tokens + e.output_tokens for e in self._entries.values()))

    @property
    def cost_used(self) -> float:
        with self._lock:
            return sum(k for _, k in self._taken.values()) + sum(e.cost for e in self._entries.values())

    def forget_after(self, cycle: int) -> None:
        """Drop in-memory spending recorded after `cycle` (a rollback to `cycle` undoes it; the ledger's rows
        go with `truncate_after`)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] > cycle]:
                del self._entries[key]
            for c in [c for c in self._taken if c > cycle]:
                del self._taken[c]

    def summary(self) -> dict[str, float]:
        return {"tokens_used": float(self.tokens_used), "cost_used": self.cost_used, "calls": float(self.calls),
                "cached_tokens": float(self.cached_tokens)}
