"""Tidy numbers for people: dollars from integer cents, signed amounts, percents, share counts.

The display edge of the UI: money stays integer cents everywhere else. A percent that rounds to zero
but is not zero keeps its sign and two significant digits ("-0.004%"), never "-0.00%".
"""
from __future__ import annotations


def usd(cents: float | int | None) -> str:
    return "n/a" if cents is None else f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def signed_usd(cents: float | int | None) -> str:
    if cents is None:
        return "n/a"
    if round(cents) == 0:
        return "$0.00"
    return f"{'+' if cents > 0 else '-'}${abs(cents) / 100:,.2f}"


def pct(value: float | None) -> str:
    """A signed percent: 2 decimals, or 2 significant digits when that would round to zero."""
    if value is None:
        return "n/a"
    if value == 0:
        return "0.00%"
    if abs(value) < 0.005:
        return f"{value:+.2g}%"
    return f"{value:+.2f}%"


def shares(qty: int) -> str:
    return f"{qty:,} share" + ("" if abs(qty) == 1 else "s")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
