"""The cycle graph's state: this cycle's data and references, never a growing history.

Trades, the chat transcript and the traces live in the ledger database; each checkpoint stores the
whole state, so nothing here may grow with the length of the run.
"""
from __future__ import annotations

from typing import Annotated, Any, TypedDict


def keep_current_cycle(old: list[dict] | None, new: list[dict] | None) -> list[dict]:
    """Reducer for parallel decisions: merge this cycle's, drop every older cycle's."""
    if not new:
        return list(old or [])
    cycle = max(d["cycle"] for d in new)
    return [d for d in (old or []) if d["cycle"] == cycle] + list(new)


class CycleState(TypedDict, total=False):
    run_id: int
    branch_id: int
    cycle: int  # the last completed cycle; the cycle in progress is cycle + 1
    traders: list[str]  # the floor's traders, in config order (fixed for a run)
    approval: bool  # pause before execution for a person to approve the orders
    quotes: dict[str, dict[str, Any]]  # this cycle's top of book per symbol
    topic: str
    sentiment: float
    messages: int  # chat messages posted this cycle
    decisions: Annotated[list[dict], keep_current_cycle]  # Decision.model_dump(), one per trader
    orders: list[dict]  # orders that passed the risk check (and approval), with their trader
    cancels: list[dict]  # {"trader", "order_id"}
    rejections: list[dict]  # risk rejections: trader, order, reason, message
    summary: dict[str, Any]  # this cycle's figures once settled


class DecideInput(TypedDict):
    trader: str
    cycle: int


class DecideStep(TypedDict, total=False):
    """What the decide node gets (graphs/nodes/fan_out.py): a trader's Send (`trader`, and `cycle` in
    progress), or, on an all-rule floor reached by the plain edge, the state's `traders` and `cycle` (the last
    completed one)."""
    trader: str
    traders: list[str]
    cycle: int
