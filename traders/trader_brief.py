"""What an LLM trader is told about itself: its theory's parameters, its risk limits in shares and dollars
right now, and its own rule computation as a second opinion.

Everything here is read from the trader's `TraderView` and `TraderConfig`, so the numbers are the ones the
risk check (floor/risk.py) will apply: a buy may add at most `max_order_qty` shares per order, up to
`max_position` held plus open buys, paid from `available_cash - cash_floor`, at a limit price inside the
collar `mid * (1 +- max_relative_spread)`. `buy_room` uses the same caps as the theories' sizing
(`traders.sizing.cap_buy`), so "max buy now" is exactly what an order could still get through.

Plain text, compact: one line per limit, one table row per symbol (see `traders.view_text`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from traders.snapshot import TraderView
from traders.trader_config import TraderConfig

MAX_SIGNALS = 10  # rule signals shown; the rationale carries the rest


def _pct(x: float) -> str:
    """0.015 -> '1.5%'; 0.0001 -> '0.01% (1 bp)'."""
    text = f"{x * 100:.4g}%"
    return f"{text} ({x * 1e4:.3g} bp)" if 0 < abs(x) < 0.001 else text


def _cycles(v: Any) -> str:
    return f"{v} cycles"


# What each built-in theory's parameters mean, and how to print them. A parameter not listed here is
# printed as `name value` (custom theories).
PARAM_NOTES: dict[str, dict[str, tuple[Callable[[Any], str], str]]] = {
    "momentum": {
        "lookback": (_cycles, "window of the return"),
        "threshold": (_pct, "return over the window that counts as momentum (buy above, exit below minus it)"),
        "vol_lookback": (_cycles, "window of the volatility used for sizing"),
        "max_orders": (str, "buys per cycle at most"),
    },
    "mean_reversion": {
        "lookback": (_cycles, "window of the mean and standard deviation"),
        "entry_z": (str, "z-score (standard deviations from the mean) that opens a trade"),
        "max_orders": (str, "orders per cycle at most"),
    },
    "trend_following": {
        "fast": (_cycles, "fast moving average"),
        "slow": (_cycles, "slow moving average"),
        "band": (_pct, "gap between the averages that counts as a trend"),
        "max_orders": (str, "orders per cycle at most"),
    },
    "arbitrage": {
        "etf": (str, "the ETF traded against its basket"),
        "threshold": (_pct, "mispricing against NAV, net of the spread, worth trading"),
        "hedge": (str, "trade the basket's components against the ETF"),
        "vol_lookback": (_cycles, "window of the volatility used for sizing"),
    },
    "risk_parity": {
        "lookback": (_cycles, "window of the volatilities"),
        "method": (str, "how target weights are set"),
        "gross_exposure": (_pct, "share of equity invested"),
        "band": (_pct, "drift from a target weight that triggers a rebalance"),
        "include_etf": (str, "hold the ETF too"),
    },
    "sentiment": {
        "chat_weight": (str, "weight of the chat score in the blend"),
        "market_weight": (str, "weight of the tape score (return in volatility units) in the blend"),
        "threshold": (str, "blended score (-1..1) that triggers a buy (above) or an exit (below minus it)"),
        "market_lookback": (_cycles, "window of the tape score"),
        "vol_lookback": (_cycles, "window of the volatility"),
        "max_orders": (str, "buys per cycle at most"),
    },
}


def _usd(cents: float | None) -> str:
    return "n/a" if cents is None else f"${cents / 100:,.2f}"


def theory_parameters(cfg: TraderConfig) -> str:
    """'Your theory's parameters: threshold 1.5% (return over ...); ...' (None values left out)."""
    notes = PARAM_NOTES.get(cfg.theory, {})
    parts = []
    for name, value in cfg.params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        fmt, note = notes.get(name, (str, ""))
        parts.append(f"{name} {fmt(value)}" + (f" ({note})" if note else ""))
    return f"Your {cfg.theory} parameters: " + ("; ".join(parts) if parts else "defaults") + "."


def spendable_cash(view: TraderView, cfg: TraderConfig) -> int:
    """Cents a buy may still spend: available cash (cash less open buys' reservations) above the floor."""
    return max(0, view.available_cash - cfg.risk.cash_floor)


def buy_room(view: TraderView, cfg: TraderConfig, symbol: str, price: int | None) -> int:
    """Shares one buy of `symbol` at `price` (cents) could still get through every limit right now."""
    spec = view.market.instruments.get(symbol)
    if spec is None or not price or price <= 0:
        return 0
    held = view.qty(symbol) + view.open_qty(symbol, "buy")
    room = min(cfg.risk.max_order_qty, cfg.risk.max_position - held, spendable_cash(view, cfg) // price)
    return spec.round_lot(max(room, 0))


def sell_room(view: TraderView, cfg: TraderConfig, symbol: str) -> int:
    """Shares one sell of `symbol` could offer: held less open sells (long-only), per-order cap."""
    spec = view.market.instruments.get(symbol)
    free = view.qty(symbol) - view.open_qty(symbol, "sell")
    if spec is None or free <= 0:
        return 0
    return spec.round_lot(min(free, cfg.risk.max_order_qty))


def collar(view: TraderView, cfg: TraderConfig, symbol: str) -> tuple[int, int] | None:
    """(lowest, highest) limit price in cents the risk check accepts now, on the tick; None without a mid."""
    spec, mid = view.market.instruments.get(symbol), view.market.mid(symbol)
    if spec is None or mid is None:
        return None
    band = cfg.risk.max_relative_spread
    return spec.round_to_tick(mid * (1 - band), "up"), spec.round_to_tick(mid * (1 + band), "down")


def risk_limits(view: TraderView, cfg: TraderConfig) -> str:
    """The trader's limits, each with what it means now."""
    r = cfg.risk
    return "\n".join([
        "Your risk limits (the risk check rejects any order beyond them):",
        f"- at most {r.max_order_qty} shares per order; at most {r.max_position} shares per symbol, held plus "
        f"open buys; long-only;",
        f"- cash floor {_usd(r.cash_floor)} is never spent: {_usd(spendable_cash(view, cfg))} spendable now "
        f"(cash {_usd(view.cash)} less {_usd(view.cash - view.available_cash)} held by open buys, less the floor);",
        f"- limit prices within {_pct(r.max_relative_spread)} of mid; stop-loss: a holding {_pct(r.stop_loss_pct)} "
        f"below its average cost is sold automatically;",
        f"- trade only an expected edge of at least {_pct(r.expected_return)}; risk aversion {r.risk_aversion:g}.",
    ])


def _number(x: float) -> str:
    return f"{x:+.4g}" if x else "0"


def rule_opinion(view: TraderView, cfg: TraderConfig, decide: Callable[[], Any] | None = None) -> str:
    """The theory's own rule decision on this view, as a second opinion (never sent as such)."""
    if decide is None:
        from traders.base import rule_decision

        def decide() -> Any:
            return rule_decision(view, cfg)
    try:
        decision = decide()
    except Exception as exc:  # noqa: BLE001 - a theory that cannot decide still leaves a prompt
        return f"Your rule computation failed ({type(exc).__name__}); decide from the data."
    orders = "; ".join(
        f"{o.side.upper()} {o.qty} {o.symbol} @ {_usd(o.limit_price)} {o.order_type}" for o in decision.orders
    ) or "none"
    signals: Mapping[str, float] = decision.signals
    shown = ", ".join(f"{k} {_number(v)}" for k, v in list(signals.items())[:MAX_SIGNALS])
    more = f" (+{len(signals) - MAX_SIGNALS} more)" if len(signals) > MAX_SIGNALS else ""
    return (f"Your theory's rule computation (a second opinion; weigh it, it is not sent): {decision.rationale}\n"
            f"It would send: {orders}. Signals: {shown or 'none'}{more}.")
