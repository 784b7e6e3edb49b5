"""Pure performance metrics on plain numbers: no ledger, no exchange, no I/O.

Conventions (documented because every caller relies on them):
- a *value path* is a sequence of portfolio values, one per period (cycle), oldest first;
- returns are simple returns per period, `v[t] / v[t-1] - 1`; a non-positive value ends the
  meaningful path (returns after it are undefined) and is refused with ValueError;
- Sharpe and Sortino are per period and *not* annualised (a cycle has no calendar length); pass
  `periods_per_year` to scale by its square root when a calendar is meaningful. Sample standard
  deviation (ddof=1). A zero-variance path has no Sharpe: the result is `nan`, never infinity;
- Sortino's downside deviation is the root mean square of min(r - target, 0) over *all* periods
  (Sortino and Price, 1994), so a path without a losing period has no Sortino (`nan`);
- maximum drawdown is the largest fall from a running peak, as a positive fraction of that peak.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def returns_from_values(values: Sequence[float]) -> np.ndarray:
    """Simple per-period returns of a value path (length n-1)."""
    v = np.asarray(values, dtype=float)
    if v.size and (v <= 0).any():
        raise ValueError("a value path must stay positive to define returns")
    if v.size < 2:
        return np.zeros(0)
    return v[1:] / v[:-1] - 1.0


def log_returns(prices: Sequence[float]) -> np.ndarray:
    p = np.asarray(prices, dtype=float)
    if p.size < 2:
        return np.zeros(0)
    return np.diff(np.log(p))


def total_return(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    return float(v[-1] / v[0] - 1.0) if v.size >= 2 and v[0] > 0 else 0.0


def sharpe(returns: Sequence[float], *, risk_free: float = 0.0, periods_per_year: float | None = None) -> float:
    r = np.asarray(returns, dtype=float) - risk_free
    if r.size < 2:
        return math.nan
    sd = float(r.std(ddof=1))
    if sd == 0.0 or not math.isfinite(sd):
        return math.nan
    out = float(r.mean()) / sd
    return out * math.sqrt(periods_per_year) if periods_per_year else out


def sortino(returns: Sequence[float], *, target: float = 0.0, periods_per_year: float | None = None) -> float:
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return math.nan
    downside = np.minimum(r - target, 0.0)
    dd = math.sqrt(float(np.mean(downside**2)))
    if dd == 0.0:
        return math.nan
    out = float(np.mean(r - target)) / dd
    return out * math.sqrt(periods_per_year) if periods_per_year else out


def drawdown_path(values: Sequence[float]) -> np.ndarray:
    """Drawdown at each period as a positive fraction of the running peak (0 at a new high)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return np.zeros(0)
    peak = np.maximum.accumulate(v)
    return np.where(peak > 0, (peak - v) / np.where(peak > 0, peak, 1.0), 0.0)


def max_drawdown(values: Sequence[float]) -> float:
    dd = drawdown_path(values)
    return float(dd.max()) if dd.size else 0.0


def turnover(traded_notional: float, average_value: float) -> float:
    """Traded notional (both sides summed once per fill) over the average portfolio value."""
    return float(traded_notional) / float(average_value) if average_value else math.nan


def hit_rate(trade_pnls: Iterable[float]) -> float:
    """Share of closed round trips with a positive PnL (breakevens count as misses); nan with none."""
    pnls = [float(p) for p in trade_pnls]
    if not pnls:
        return math.nan
    return sum(1 for p in pnls if p > 0) / len(pnls)


def average_holding_period(fills: Iterable[tuple[int, int, int]]) -> float:
    """Quantity-weighted mean number of periods a share was held, by FIFO matching.

    `fills` are (period, signed_qty, price) of one symbol in time order: + buys, - sells. A share
    opened at period a and closed at period b was held b - a periods. Shorts work symmetrically.
    Shares still open are not counted (their holding period is not over). nan with no closed share.
    """
    return _fifo(fills)[1]


def round_trip_pnls(fills: Iterable[tuple[int, int, int]]) -> list[float]:
    """PnL of each closing fill against the FIFO lots it closed (before fees), one value per closing fill."""
    return _fifo(fills)[0]


def _fifo(fills: Iterable[tuple[int, int, int]]) -> tuple[list[float], float]:
    lots: list[list[int]] = []  # [period, signed qty, price]; all lots share one sign
    pnls: list[float] = []
    held = 0.0
    closed = 0
    for period, qty, price in fills:
        remaining = int(qty)
        pnl = 0.0
        closing = False
        while remaining and lots and (lots[0][1] > 0) != (remaining > 0):
            closing = True
            lot = lots[0]
            take = min(abs(remaining), abs(lot[1]))
            sign = 1 if lot[1] > 0 else -1
            pnl += sign * take * (price - lot[2])
            held += take * (period - lot[0])
            closed += take
            lot[1] -= sign * take
            remaining += sign * take
            if lot[1] == 0:
                lots.pop(0)
        if closing:
            pnls.append(pnl)
        if remaining:
            lots.append([period, remaining, price])
    return pnls, (held / closed if closed else math.nan)


def implementation_shortfall(side: str, fill_price: float, arrival_mid: float) -> float:
    """Cost of one fill against the mid when the order arrived, as a fraction of that mid.

    Positive is a cost: a buy above the arrival mid, or a sell below it (Perold, 1988)."""
    if not arrival_mid:
        return math.nan
    sign = 1.0 if side == "buy" else -1.0
    return sign * (float(fill_price) - float(arrival_mid)) / float(arrival_mid)


def weighted_shortfall(items: Iterable[tuple[str, float, int, float]]) -> float:
    """Quantity-and-price-weighted shortfall over (side, fill_price, qty, arrival_mid) fills."""
    cost = notional = 0.0
    for side, price, qty, mid in items:
        if not mid:
            continue
        sign = 1.0 if side == "buy" else -1.0
        cost += sign * (price - mid) * qty
        notional += mid * qty
    return cost / notional if notional else math.nan
