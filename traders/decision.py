"""The one output type of every trader, rule-based or LLM: a Decision.

Prices are integer cents and quantities whole shares. A Decision carries its signals (numbers) and a
rationale, so that the tracer and the UI can show why it was taken, and its `mode` says how it was made:
`rule`, `llm`, or `fallback` (an LLM failure answered by the rule logic, never a silent HOLD).
"""
from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.order_intents import ProposedOrder

__all__ = ["Action", "Decision", "ProposedOrder"]


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trader: str
    cycle: int
    actions: dict[str, Action] = Field(default_factory=dict)  # per symbol; symbols absent are HOLD
    orders: tuple[ProposedOrder, ...] = ()
    rationale: str
    signals: dict[str, float] = Field(default_factory=dict)  # named numbers behind the decision
    mode: Literal["rule", "llm", "fallback"] = "rule"
    fallback_reason: str | None = None  # why an LLM decision fell back to the rule logic
    cancel_order_ids: tuple[str, ...] = ()  # resting orders the trader wants cancelled
