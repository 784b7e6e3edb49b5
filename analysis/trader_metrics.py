"""Per-trader performance metrics read from the ledger of the active branch.

Sources: the per-cycle portfolio values (`ledger.value_history`), the fills (`ledger.fills(account=...)`),
the positions and PnL (`ledger.positions`, `realized_pnl`, `unrealized_pnl`), the endowment, and the
mids the market node traced at the start of each cycle (trace kind "market_moved"), which are the
*arrival* mids for implementation shortfall: the floor's orders reach the book after that trace.

Choices:
- the value path is the ledger's snapshots in cycle order; returns, Sharpe, Sortino and drawdown are per
  cycle (see metrics.py);
- hit rate counts the ledger's closing fills (a fill whose FIFO realized PnL is non-zero): the share with
  a positive realized PnL. A close at exactly break-even is indistinguishable from an opening fill here
  and is not counted;
- holding period runs FIFO over the fills, starting from the endowment's shares as lots opened at
  cycle 0;
- turnover is traded notional over the average portfolio value; spread paid is the shortfall cost in
  cents (positive: paid) against the arrival mid.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from analysis import metrics as m


def latest_marks(ledger, symbols) -> dict[str, int]:
    out = {}
    for s in symbols:
        hist = ledger.marks_history(s)
        if hist:
            out[s] = hist[-1][1]
    return out


def arrival_mids(ledger) -> dict[tuple[int, str], float]:
    """(cycle, symbol) -> mid traced by the market node before the floor's orders of that cycle."""
    out = {}
    for t in ledger.traces(kind="market_moved", limit=None):
        for sym, q in (t.get("payload") or {}).get("quotes", {}).items():
            if q and q.get("mid"):
                out[(t["cycle"], sym)] = float(q["mid"])
    return out


def trader_metrics(ledger, name: str, marks: dict[str, int], mids: dict | None = None) -> dict[str, Any]:
    mids = arrival_mids(ledger) if mids is None else mids
    history = ledger.value_history(name)
    values = [v for _, v in history if v > 0]
    rets = m.returns_from_values(values)
    fills = sorted(ledger.fills(account=name, limit=None), key=lambda f: (f["cycle"], f["tick"], f["fill_id"]))
    endow = ledger.endowment(name, marks)
    fees = notional = 0
    realized_by_fill = []
    shortfall_items = []
    by_symbol: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for sym, qty in endow["initial_holdings"].items():
        if qty:
            by_symbol[sym].append((0, qty, 0))
    for f in fills:
        buy = f["buyer"] == name
        fees += f["buyer_fee"] if buy else f["seller_fee"]
        notional += f["price"] * f["qty"]
        realized = f["buyer_realized"] if buy else f["seller_realized"]
        if realized:
            realized_by_fill.append(realized)
        by_symbol[f["symbol"]].append((f["cycle"], f["qty"] if buy else -f["qty"], f["price"]))
        mid = mids.get((f["cycle"], f["symbol"]))
        if mid:
            shortfall_items.append(("buy" if buy else "sell", f["price"], f["qty"], mid))
    closed_weights = []
    for path in by_symbol.values():
        hp = m.average_holding_period(path)
        if math.isfinite(hp):
            closed_weights.append(hp)
    spread_paid = sum((1 if s == "buy" else -1) * (p - mid) * q for s, p, q, mid in shortfall_items)
    avg_value = sum(values) / len(values) if values else endow["current_value"]
    return {
        "account": name,
        "value": endow["current_value"],
        "total_pnl": endow["change"],
        "return": endow["return_pct"] / 100.0,
        "realized_pnl": ledger.realized_pnl(name),
        "unrealized_pnl": ledger.unrealized_pnl(name, marks),
        "fees": fees,
        "sharpe": m.sharpe(rets),
        "sortino": m.sortino(rets),
        "max_drawdown": m.max_drawdown(values),
        "turnover": m.turnover(notional, avg_value),
        "hit_rate": m.hit_rate(realized_by_fill),
        "avg_holding_cycles": (sum(closed_weights) / len(closed_weights)) if closed_weights else math.nan,
        "fills": len(fills),
        "traded_notional": notional,
        "spread_paid": spread_paid,
        "shortfall_bps": m.weighted_shortfall(shortfall_items) * 1e4 if shortfall_items else math.nan,
        "value_path": history,
    }


def all_trader_metrics(ledger, symbols) -> list[dict[str, Any]]:
    """Metrics for every floor trader (accounts of kind "trader"), best return first."""
    marks = latest_marks(ledger, symbols)
    mids = arrival_mids(ledger)
    rows = [trader_metrics(ledger, a.name, marks, mids) for a in ledger.accounts(kinds=["trader"])]
    rows.sort(key=lambda r: (-r["return"], r["account"]))
    return rows
