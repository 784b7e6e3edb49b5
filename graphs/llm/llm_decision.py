"""The LLM's output at the edge, and its validated conversion into a `Decision` (mode="llm").

The model writes loose JSON: prices in US dollars as decimals (see `graphs.llm.prompts`), quantities as
numbers, actions as strings. Nothing of it is trusted. `parse_llm_output` checks each order on its own:
a malformed order (negative or zero quantity, NaN or infinity, a fractional share, a string where a
number belongs, an unknown symbol, an absurd size or price, a missing price) is *rejected with reasons*
and collected, and the rest of the decision stands. Only output that is not a decision at all (not a
JSON object, `orders` not a list) raises `UnparseableOutput`, which the caller retries.

Each problem has a machine-readable `code` and a human `message`, as every rejection in the project.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from graphs.llm.prompts import ORDER_TYPES, SIDES, TIFS
from graphs.traders.decision import Action, Decision, ProposedOrder

_FROZEN = ConfigDict(frozen=True)



class UnparseableOutput(ValueError):
    """The model's answer is not a decision at all; retried by the caller."""


class Problem(BaseModel):
    model_config = _FROZEN

    code: str  # machine-readable, e.g. "negative_qty", "unknown_symbol", "string_for_number"
    message: str  # a human sentence


class OrderRejection(BaseModel):
    """One order of the model's output that was not accepted, with every reason found."""

    model_config = _FROZEN

    index: int
    raw: Any
    problems: tuple[Problem, ...]

    def summary(self) -> str:
        return f"order #{self.index}: " + "; ".join(p.message for p in self.problems)


class OrderLimits(BaseModel):
    """Sanity bounds of the edge (the risk check applies the trader's real limits later).

    `symbols=None` accepts any symbol; give the universe to reject made-up tickers here.
    """

    model_config = _FROZEN

    symbols: frozenset[str] | None = None
    max_qty: int = 1_000_000  # shares in one order; beyond this a size is absurd, not ambitious
    max_price_cents: int = 100_000_000  # $1,000,000 a share


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


def _number(field: str, value: Any) -> tuple[float | None, Problem | None]:
    if isinstance(value, str):
        return None, Problem(code="string_for_number", message=f"{field} must be a number, got the string {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, Problem(code="not_a_number", message=f"{field} must be a number, got {value!r}")
    if not math.isfinite(value):
        return None, Problem(code="not_finite", message=f"{field} must be a finite number, got {value!r}")
    return float(value), None


def _qty(value: Any, limits: OrderLimits) -> tuple[int | None, list[Problem]]:
    number, problem = _number("qty", value)
    if problem:
        return None, [problem]
    assert number is not None
    if number <= 0:
        code = "negative_qty" if number < 0 else "zero_qty"
        return None, [Problem(code=code, message=f"qty must be a positive number of shares, got {value!r}")]
    if not number.is_integer():
        return None, [Problem(code="fractional_qty", message=f"qty must be whole shares, got {value!r}")]
    if number > limits.max_qty:
        return None, [Problem(code="absurd_qty",
                              message=f"qty {value!r} exceeds the sanity limit of {limits.max_qty} shares")]
    return int(number), []


def _price_cents(field: str, value: Any, limits: OrderLimits) -> tuple[int | None, list[Problem]]:
    number, problem = _number(field, value)
    if problem:
        return None, [problem]
    assert number is not None
    if number <= 0:
        return None, [Problem(code="non_positive_price", message=f"{field} must be above $0, got {value!r}")]
    cents = round(number * 100)
    if abs(number * 100 - cents) > 1e-6:
        return None, [Problem(code="sub_cent_price", message=f"{field} ${value!r} is finer than one cent")]
    if cents > limits.max_price_cents:
        return None, [Problem(code="absurd_price",
                              message=f"{field} ${value!r} exceeds the sanity limit of "
                                      f"${limits.max_price_cents / 100:,.2f}")]
    return cents, []


def _choice(field: str, value: Any, allowed: tuple[str, ...], default: str | None) -> tuple[str | None, list[Problem]]:
    if value is None and default is not None:
        return default, []
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower(), []
    return None, [Problem(code=f"bad_{field}", message=f"{field} must be one of {', '.join(allowed)}, got {value!r}")]


def _symbol(value: Any, limits: OrderLimits) -> tuple[str | None, list[Problem]]:
    if not isinstance(value, str) or not value.strip():
        return None, [Problem(code="bad_symbol", message=f"symbol must be a ticker string, got {value!r}")]
    sym = value.strip().upper()
    if limits.symbols is not None and sym not in limits.symbols:
        known = ", ".join(sorted(limits.symbols))
        return None, [Problem(code="unknown_symbol", message=f"unknown symbol {value!r} (known: {known})")]
    return sym, []


def parse_order(raw: Any, limits: OrderLimits) -> tuple[ProposedOrder | None, list[Problem]]:
    """One order of the model's output, or every reason it cannot be one."""
    if not isinstance(raw, dict):
        return None, [Problem(code="not_an_object", message=f"an order must be an object, got {raw!r}")]
    problems: list[Problem] = []
    symbol, p = _symbol(raw.get("symbol"), limits)
    problems += p
    side, p = _choice("side", raw.get("side"), SIDES, None)
    problems += p
    qty, p = _qty(raw.get("qty", raw.get("quantity")), limits)
    problems += p
    order_type, p = _choice("order_type", raw.get("order_type"), ORDER_TYPES, "limit")
    problems += p
    tif, p = _choice("tif", raw.get("tif"), TIFS, "day")
    problems += p
    limit_price = stop_price = None
    needs_limit = order_type in ("limit", "stop_limit")
    needs_stop = order_type in ("stop", "stop_limit")
    for field, needed in (("limit_price", needs_limit), ("stop_price", needs_stop)):
        value = raw.get(field)
        if value is None:
            if needed:
                problems.append(Problem(code=f"missing_{field}",
                                        message=f"a {order_type} order needs {field}"))
            continue
        if not needed:  # e.g. a limit price on a market order: meaningless, dropped
            continue
        cents, p = _price_cents(field, value, limits)
        problems += p
        if field == "limit_price":
            limit_price = cents
        else:
            stop_price = cents
    if problems:
        return None, problems
    order = ProposedOrder(symbol=symbol, side=side, qty=qty, order_type=order_type,  # type: ignore[arg-type]
                          limit_price=limit_price, stop_price=stop_price, tif=tif)  # type: ignore[arg-type]
    return order, []


def _actions(raw: Any, limits: OrderLimits, problems: list[Problem]) -> dict[str, Action]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(code="bad_actions", message=f"actions must be an object, got {raw!r}"))
        return {}
    actions: dict[str, Action] = {}
    for key, value in raw.items():
        sym, p = _symbol(key, limits)
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
        number, problem = _number(f"signal {key}", value)
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
