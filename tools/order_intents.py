"""What a trader may ask the exchange for: the order intent, and its validated parsing from loose input.

`ProposedOrder` is the one order type every trader produces (rule or LLM) and the write tools stage;
the risk check decides whether it reaches the exchange. Prices are integer cents, quantities whole
shares. `parse_order` turns untrusted input (an LLM's JSON, a tool call's arguments; prices in US
dollars) into a `ProposedOrder`, or into every reason it cannot be one, each a `Problem` with a
machine-readable code and a human sentence. It lives in tools/ because both the tools (which take
orders) and the graph's traders (which make them) use it, and graphs may import tools, not the reverse.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True)
SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market", "stop", "stop_limit")
TIFS = ("gtc", "day", "ioc", "fok")


class ProposedOrder(BaseModel):
    """An order a trader wants to place; the risk check decides whether it reaches the exchange."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    side: Literal["buy", "sell"]
    qty: int = Field(gt=0, strict=True)
    order_type: Literal["limit", "market", "stop", "stop_limit"] = "limit"
    limit_price: int | None = Field(default=None, gt=0, strict=True)  # cents
    stop_price: int | None = Field(default=None, gt=0, strict=True)  # cents
    tif: Literal["gtc", "day", "ioc", "fok"] = "day"


class Problem(BaseModel):
    model_config = _FROZEN

    code: str  # machine-readable, e.g. "negative_qty", "unknown_symbol", "string_for_number"
    message: str  # a human sentence


class OrderLimits(BaseModel):
    """Sanity bounds of the edge (the risk check applies the trader's real limits later).

    `symbols=None` accepts any symbol; give the universe to reject made-up tickers here.
    """

    model_config = _FROZEN

    symbols: frozenset[str] | None = None
    max_qty: int = 1_000_000  # shares in one order; beyond this a size is absurd, not ambitious
    max_price_cents: int = 100_000_000  # $1,000,000 a share


def as_number(field: str, value: Any) -> tuple[float | None, Problem | None]:
    if isinstance(value, str):
        return None, Problem(code="string_for_number", message=f"{field} must be a number, got the string {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, Problem(code="not_a_number", message=f"{field} must be a number, got {value!r}")
    if not math.isfinite(value):
        return None, Problem(code="not_finite", message=f"{field} must be a finite number, got {value!r}")
    return float(value), None


def _qty(value: Any, limits: OrderLimits) -> tuple[int | None, list[Problem]]:
    number, problem = as_number("qty", value)
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
    number, problem = as_number(field, value)
    if problem:
        return None, [problem]
    assert number is not None
    if number <= 0:
        return None, [Problem(code="non_positive_price", message=f"{field} must be above $0, got {value!r}")]
    # The cap is checked before scaling: a price near the float limit overflows to inf when multiplied.
    if number > limits.max_price_cents / 100:
        return None, [Problem(code="absurd_price",
                              message=f"{field} ${value!r} exceeds the sanity limit of "
                                      f"${limits.max_price_cents / 100:,.2f}")]
    cents = round(number * 100)
    if abs(number * 100 - cents) > 1e-6:
        return None, [Problem(code="sub_cent_price", message=f"{field} ${value!r} is finer than one cent")]
    return cents, []


def _choice(field: str, value: Any, allowed: tuple[str, ...], default: str | None) -> tuple[str | None, list[Problem]]:
    if value is None and default is not None:
        return default, []
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower(), []
    return None, [Problem(code=f"bad_{field}", message=f"{field} must be one of {', '.join(allowed)}, got {value!r}")]


def as_symbol(value: Any, limits: OrderLimits) -> tuple[str | None, list[Problem]]:
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
    symbol, p = as_symbol(raw.get("symbol"), limits)
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
