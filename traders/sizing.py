"""Risk-adjusted position sizing, shared by every theory.

The rule is volatility targeting scaled by conviction and risk aversion:

    weight = min(MAX_WEIGHT, conviction * TARGET_VOL / (risk_aversion * max(vol, VOL_FLOOR)))
    target shares = weight * equity / price

so a symbol twice as volatile gets half the shares, a trader twice as risk-averse holds half as much,
and a half-hearted signal (conviction 0.5) half as much again. The target counts shares already held
and open buy orders, so repeated signals top a position up instead of stacking orders. The result is
then capped, in order, by `max_position` (held + open buys), `max_order_qty`, spendable cash
(`available_cash - cash_floor`) and rounded down to whole lots. A signal whose expected edge is below the
trader's `expected_return` is not traded at all. `Sizing.binding` names the rule that set the size, so
a rationale can say why an order is the size it is.

Sells are long-only: never more than held minus what open sell orders already offer.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import sub, truediv

from traders.snapshot import InstrumentSpec, TraderView
from traders.trader_config import RiskSettings

TARGET_VOL = 0.01  # per-cycle return volatility a full-conviction position targets at risk_aversion 1
VOL_FLOOR = 0.002  # volatility assumed at least, so a quiet series cannot ask for an infinite position
MAX_WEIGHT = 1.0  # never more than the whole equity in one symbol


@dataclass(frozen=True, slots=True)
class Sizing:
    qty: int
    binding: str  # "risk", "max_position", "max_order_qty", "cash", "lot", "edge", "at_target", "held"
    target_qty: int = 0  # shares the risk rule wants in total (before caps)


def log_returns(series: Sequence[float]) -> list[float]:
    """log(b / a) of each consecutive pair (a, b) where both are positive."""
    if len(series) > 1 and min(series) > 0 and not any(map(math.isnan, series)):
        # every pair is kept (min() alone may pass over a NaN): the same quotients and logs, in C
        return list(map(math.log, map(truediv, series[1:], series)))
    return [math.log(b / a) for a, b in zip(series, series[1:], strict=False) if a > 0 and b > 0]


def squared_deviations(values: Sequence[float], mean: float) -> float:
    """sum((x - mean) ** 2 for x in values): the same subtractions, powers and additions in the same order,
    by C maps instead of a Python step per value."""
    return sum(map(pow, map(sub, values, repeat(mean)), repeat(2)))


def realized_vol(series: Sequence[float], lookback: int = 20) -> float:
    """Sample standard deviation of per-cycle log returns over the last `lookback` returns, floored."""
    window = series[-(lookback + 1):]
    if type(window) is tuple:  # a snapshot's history: several traders ask for the same one in a cycle
        return _vol_of(window)
    return _vol_of.__wrapped__(window)


@functools.lru_cache(maxsize=256)
def _vol_of(window: Sequence[float]) -> float:
    rets = log_returns(window)
    if len(rets) < 2:
        return VOL_FLOOR
    mean = sum(rets) / len(rets)
    var = squared_deviations(rets, mean) / (len(rets) - 1)
    return max(math.sqrt(var), VOL_FLOOR)


def risk_weight(conviction: float, vol: float, risk_aversion: float) -> float:
    c = min(max(conviction, 0.0), 1.0)
    return min(MAX_WEIGHT, c * TARGET_VOL / (risk_aversion * max(vol, VOL_FLOOR)))


def buy_size(
    view: TraderView,
    risk: RiskSettings,
    spec: InstrumentSpec,
    price: int,
    conviction: float,
    vol: float,
    edge: float | None = None,
    spent: int = 0,
) -> Sizing:
    """Shares to buy of `spec.symbol` at `price` (cents) under the risk-adjusted rule and all caps."""
    if edge is not None and edge < risk.expected_return:
        return Sizing(0, "edge")
    sym = spec.symbol
    held = view.qty(sym) + view.open_qty(sym, "buy")
    target = int(risk_weight(conviction, vol, risk.risk_aversion) * max(view.equity(), 0.0) / price)
    if target - held <= 0:
        return Sizing(0, "at_target", target)
    return cap_buy(view, risk, spec, price, target - held, target, spent)


def cap_buy(
    view: TraderView, risk: RiskSettings, spec: InstrumentSpec, price: int, want: int, target: int = 0,
    spent: int = 0,
) -> Sizing:
    """`want` more shares, capped by max_position (held + open buys), max_order_qty, cash, lots.

    `spent` is cash (cents) already committed by earlier buys of the same decision.
    """
    held = view.qty(spec.symbol) + view.open_qty(spec.symbol, "buy")
    binding = "risk"
    caps = (
        (risk.max_position - held, "max_position"),
        (risk.max_order_qty, "max_order_qty"),
        ((view.available_cash - risk.cash_floor - spent) // price, "cash"),
    )
    for cap, name in caps:
        if cap < want:
            want, binding = max(cap, 0), name
    lots = spec.round_lot(want)
    if lots < want and binding == "risk":
        binding = "lot"
    return Sizing(lots, binding, target or want)


def sell_size(view: TraderView, risk: RiskSettings, spec: InstrumentSpec, wanted: int) -> Sizing:
    """Shares to sell (long-only): `wanted`, capped by what is held and not already offered."""
    free = view.qty(spec.symbol) - view.open_qty(spec.symbol, "sell")
    qty, binding = wanted, "risk"
    if free < qty:
        qty, binding = max(free, 0), "held"
    if risk.max_order_qty < qty:
        qty, binding = risk.max_order_qty, "max_order_qty"
    return Sizing(spec.round_lot(qty), binding, wanted)


def exit_sell(view: TraderView, cfg, symbol: str):
    """The order that exits a held position now: a marketable sell inside the collar, sized by the risk
    settings; None when there is nothing to sell or no price. Shared by the directional theories."""
    from traders.base import marketable_price
    from traders.decision import ProposedOrder

    px = marketable_price(view, symbol, "sell", cfg.risk.max_relative_spread)
    size = sell_size(view, cfg.risk, view.market.instruments[symbol], view.qty(symbol))
    if px is None or size.qty <= 0:
        return None
    return ProposedOrder(symbol=symbol, side="sell", qty=size.qty, limit_price=px)
