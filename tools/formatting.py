"""Small display helpers shared by the tools: cents -> dollars, symbol lookup, error results.

Tools speak to an LLM (and later to MCP clients), so prices are shown in US dollars rounded to cents,
with the integer cents beside them where a caller may want the exact value. Nothing here raises.
"""
from __future__ import annotations

from typing import Any


def dollars(cents: int | float | None, places: int = 2) -> float | None:
    """Cents as dollars (None stays None). Half-cent mids keep a third decimal when `places=3`."""
    return None if cents is None else round(cents / 100, places)


def price(name: str, cents: int | None) -> dict[str, Any]:
    """`{name: dollars, name_cents: cents}` for one price."""
    return {name: dollars(cents), f"{name}_cents": cents}


def error(message: str) -> dict[str, str]:
    """The one error shape every tool returns: a clear sentence under "error"."""
    return {"error": message}


def find_symbol(exchange: Any, symbol: Any) -> tuple[str | None, dict[str, str] | None]:
    """(listed symbol, None) or (None, error) for a user-typed symbol; case and spaces are forgiven."""
    if not isinstance(symbol, str) or not symbol.strip():
        return None, error(f"symbol must be a ticker such as 'AAPL', got {symbol!r}")
    sym = symbol.strip().upper()
    if sym not in exchange.instruments:
        known = ", ".join(sorted(exchange.instruments))
        return None, error(f"unknown symbol {symbol!r}; the listed symbols are: {known}")
    return sym, None


def bounded(value: object, low: int, high: int) -> int:
    """`value` clamped to [low, high]; something that is not a whole number counts as `low`."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        number = low
    return max(low, min(high, number))
