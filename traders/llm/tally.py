"""Counting LLM outcomes for people: decisions made by the model, fallbacks by reason, tokens and cost.

Pure functions over the ledger's `llm_spend` rows (ledger/llm_spend.py); the command line prints them
in `run`'s progress line and summary and in `status`, the UI may show the same words.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def tokens_text(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def cost_text(micro_usd: int) -> str:
    return f"${micro_usd / 1e6:.4f}"


@dataclass
class LLMTally:
    decisions_llm: int = 0
    fallbacks: Counter = field(default_factory=Counter)
    chat_llm: int = 0
    chat_fallbacks: int = 0
    calls: int = 0
    tokens: int = 0
    cost_micro_usd: int = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> LLMTally:
        """Add one cycle's rows (`llm_spend.cycle_rows`)."""
        for r in rows:
            if r["kind"] == "decision":
                if r["mode"] == "fallback":
                    self.fallbacks[r["reason"] or "unknown"] += 1
                elif r["mode"] == "llm":
                    self.decisions_llm += 1
            elif r["kind"] == "chat":
                if r["mode"] == "fallback":
                    self.chat_fallbacks += 1
                else:
                    self.chat_llm += 1
            self.calls += int(r["calls"])
            self.tokens += int(r["input_tokens"]) + int(r["output_tokens"])
            self.cost_micro_usd += int(r["cost_micro_usd"])
        return self

    @property
    def decisions(self) -> int:
        return self.decisions_llm + sum(self.fallbacks.values())

    def fallbacks_text(self) -> str:
        return ", ".join(f"{reason} {n}" for reason, n in self.fallbacks.most_common())

    def progress(self) -> str:
        """A few words for the progress line."""
        fb = sum(self.fallbacks.values())
        return (f"LLM {self.decisions_llm}/{self.decisions}" + (f" · fallbacks {fb}" if fb else "")
                + f" · {tokens_text(self.tokens)} tok · {cost_text(self.cost_micro_usd)}")

    def summary(self) -> str:
        """One sentence for the end of a run."""
        fb = sum(self.fallbacks.values())
        text = (f"LLM: {self.decisions_llm} of {self.decisions} decisions by the model, {fb} fell back"
                + (f" ({self.fallbacks_text()})" if fb else ""))
        if self.chat_fallbacks:
            text += f"; {self.chat_fallbacks} of {self.chat_llm + self.chat_fallbacks} chat messages fell back"
        return text + f"; {self.calls:,} answers, {self.tokens:,} tokens, {cost_text(self.cost_micro_usd)}"


def per_trader_rows(totals: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Table rows for `status` from `llm_spend.per_trader`: trader, by the model, fallbacks (by reason),
    answers (requests answered), tokens, cost."""
    out = []
    for trader in sorted(totals):
        t = totals[trader]
        fallbacks = t["fallbacks"]
        fb = sum(fallbacks.values())
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(fallbacks.items(), key=lambda kv: -kv[1]))
        out.append((trader, str(t["decisions_llm"]), f"{fb}" + (f" ({reasons})" if fb else ""), f"{t['calls']:,}",
                    f"{t['input_tokens'] + t['output_tokens']:,}", cost_text(t["cost_micro_usd"])))
    return out
