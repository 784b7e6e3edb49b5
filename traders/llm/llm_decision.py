"""The LLM's output at the edge, and its validated conversion into a `Decision` (mode="llm").

The model writes loose JSON: prices in US dollars as decimals (see `traders.llm.prompts`), quantities as
numbers, actions as strings. Nothing of it is trusted. `parse_llm_output` checks each order on its own:
a malformed order (negative or zero quantity, NaN or infinity, a fractional share, a string where a
number belongs, an unknown symbol, an absurd size or price, a missing price) is *rejected with reasons*
and collected, and the rest of the decision stands. Only output that is not a decision at all (not a
JSON object, `orders` not a list) raises `UnparseableOutput`, which the caller retries.

Each problem has a machine-readable `code` and a human `message`, as every rejection in the project.
"""
from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.order_intents import OrderLimits, Problem, ProposedOrder, as_number, as_symbol, parse_order
from traders.decision import Action, Decision

_FROZEN = ConfigDict(frozen=True)



class UnparseableOutput(ValueError):
    """The model's answer is not a decision at all; retried by the caller."""


class OrderRejection(BaseModel):
    """One order of the model's output that was not accepted, with every reason found."""

    model_config = _FROZEN

    index: int
    raw: Any
    problems: tuple[Problem, ...]

    def summary(self) -> str:
        return f"order #{self.index}: " + "; ".join(p.message for p in self.problems)


class ParsedDecision(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    decision: Decision
    rejected_orders: tuple[OrderRejection, ...] = ()
    problems: tuple[Problem, ...] = ()  # problems outside orders (actions, signals, rationale)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json_object(content: Any) -> dict[str, Any]:
    """The decision object in a text answer: bare JSON, fenced JSON, or the outermost {...} in prose."""
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    if not isinstance(content, str) or not content.strip():
        raise UnparseableOutput("the answer was empty")
    candidates = [content.strip()]
    candidates += [m.strip() for m in _FENCE.findall(content)]
    start, end = content.find("{"), content.rfind("}")
    if 0 <= start < end:
        candidates.append(content[start : end + 1])
    for text in candidates:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise UnparseableOutput(f"no JSON object found in the answer {content[:120]!r}")


def _actions(raw: Any, limits: OrderLimits, problems: list[Problem]) -> dict[str, Action]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(code="bad_actions", message=f"actions must be an object, got {raw!r}"))
        return {}
    actions: dict[str, Action] = {}
    for key, value in raw.items():
        sym, p = as_symbol(key, limits)
        if p:
            problems += p
            continue
        if isinstance(value, str) and value.strip().upper() in Action.__members__:
            actions[sym] = Action(value.strip().upper())  # type: ignore[index]
        else:
            problems.append(Problem(code="bad_action", message=f"action for {key} must be BUY, SELL or HOLD, got {value!r}"))
    return actions


def _signals(raw: Any, problems: list[Problem]) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(code="bad_signals", message=f"signals must be an object, got {raw!r}"))
        return {}
    out: dict[str, float] = {}
    for key, value in raw.items():
        number, problem = as_number(f"signal {key}", value)
        if problem:
            problems.append(problem)
        else:
            out[str(key)] = number  # type: ignore[assignment]
    return out


def parse_llm_output(raw: Any, *, trader: str, cycle: int, limits: OrderLimits | None = None) -> ParsedDecision:
    """Validate the model's decision object into a `Decision` with mode="llm" (see module docstring)."""
    limits = limits or OrderLimits()
    if isinstance(raw, str):
        raw = extract_json_object(raw)
    if not isinstance(raw, dict):
        raise UnparseableOutput(f"the decision must be a JSON object, got {type(raw).__name__}")
    raw_orders = raw.get("orders", [])
    if raw_orders is None:
        raw_orders = []
    if not isinstance(raw_orders, list):
        raise UnparseableOutput(f"`orders` must be a list, got {type(raw_orders).__name__}")
    problems: list[Problem] = []
    orders: list[ProposedOrder] = []
    rejected: list[OrderRejection] = []
    for i, item in enumerate(raw_orders):
        order, order_problems = parse_order(item, limits)
        if order is None:
            rejected.append(OrderRejection(index=i, raw=item, problems=tuple(order_problems)))
        else:
            orders.append(order)
    actions = _actions(raw.get("actions"), limits, problems)
    for order in orders:  # an order implies its action unless the model stated one
        actions.setdefault(order.symbol, Action.BUY if order.side == "buy" else Action.SELL)
    rationale = raw.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        problems.append(Problem(code="missing_rationale", message="the decision gave no rationale"))
        rationale = "(the model gave no rationale)"
    if rejected:
        rationale += " [rejected: " + " | ".join(r.summary() for r in rejected) + "]"
    cancels = raw.get("cancel_order_ids") or []
    if not isinstance(cancels, list) or not all(isinstance(c, str) for c in cancels):
        problems.append(Problem(code="bad_cancel_order_ids", message=f"cancel_order_ids must be strings, got {cancels!r}"))
        cancels = []
    decision = Decision(
        trader=trader, cycle=cycle, actions=actions, orders=tuple(orders), rationale=rationale.strip(),
        signals=_signals(raw.get("signals"), problems), mode="llm", cancel_order_ids=tuple(cancels),
    )
    return ParsedDecision(decision=decision, rejected_orders=tuple(rejected), problems=tuple(problems))
