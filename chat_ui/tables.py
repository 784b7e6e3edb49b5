"""Markdown tables for the chat: leaderboard, holdings, cash, the recent trades tape, a book's depth.

Each function is pure over plain rows (from the ledger or the exchange), so it is tested without Chainlit.
Money is formatted from integer cents only here, at the display edge.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from chat_ui.numbers import pct, signed_usd, usd

# Configuration keys whose integer values are cents (shown in dollars by `/config`).
MONEY_KEYS = frozenset({"initial_cash", "cash_floor", "initial_price", "credit_limit", "short_limit_cash",
                        "max_order_value", "max_notional"})


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def leaderboard_md(rows: list[dict]) -> str:
    if not rows:
        return "_No run yet._"
    return _table(("#", "trader", "value", "PnL", "return", "realized", "unrealized"), (
        (i, r["account"], usd(r["value"]), signed_usd(r["change"]), pct(r["return_pct"]),
         signed_usd(r["realized_pnl"]), signed_usd(r.get("unrealized_pnl", 0)))
        for i, r in enumerate(rows, 1)))


def holdings_md(positions: dict[str, list]) -> str:
    """positions: trader -> PositionView list (with marks). Shares, cost basis, unrealized PnL."""
    rows = [(trader, p.symbol, p.qty, usd(abs(p.cost_basis)), usd(p.avg_cost), usd(p.mark),
             signed_usd(p.unrealized_pnl))
            for trader, ps in positions.items() for p in ps if p.qty]
    if not rows:
        return "_No trader holds any shares._"
    return _table(("trader", "symbol", "shares", "cost basis", "avg cost", "mark", "unrealized PnL"), rows)


def cash_md(cash: dict[str, tuple[int, int]]) -> str:
    """cash: trader -> (cash, available cash) in cents."""
    return _table(("trader", "cash", "available"), ((t, usd(c), usd(a)) for t, (c, a) in cash.items()))


def tape_md(fills: list[dict], limit: int = 15) -> str:
    """The newest fills first, stamped with (cycle, tick)."""
    if not fills:
        return "_No trades yet._"
    return _table(("(cycle, tick)", "symbol", "qty", "price", "buyer", "seller"), (
        (f"({f['cycle']}, {f['tick']})", f["symbol"], f["qty"], usd(f["price"]), f"`{f['buyer']}`", f"`{f['seller']}`")
        for f in sorted(fills, key=lambda f: (f["cycle"], f["tick"]), reverse=True)[:limit]))


def depth_md(symbol: str, bids: Sequence[tuple[int, int, int]], asks: Sequence[tuple[int, int, int]]) -> str:
    """Book levels side by side, best first: price, shares, orders."""
    n = max(len(bids), len(asks))
    if n == 0:
        return f"_The {symbol} book is empty._"

    def cell(levels, i):
        return (usd(levels[i][0]), levels[i][1], levels[i][2]) if i < len(levels) else ("", "", "")

    return f"**{symbol} book**\n\n" + _table(
        ("bid orders", "bid qty", "bid", "ask", "ask qty", "ask orders"),
        ((b[2], b[1], b[0], a[0], a[1], a[2]) for i in range(n) for b, a in [(cell(bids, i), cell(asks, i))]))


def dollars_config(value: object, key: str = "") -> object:
    """A config dump with the amounts of money (integer cents under MONEY_KEYS or *_cents) in dollars."""
    if isinstance(value, dict):
        return {k: dollars_config(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [dollars_config(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and (key in MONEY_KEYS or key.endswith("_cents")):
        return usd(value)
    return value
