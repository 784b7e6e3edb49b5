"""Mean reversion: prices stretched far from their recent average tend to come back.

The z-score of the current mid against the mean and standard deviation of the previous `lookback`
cycles (the current value excluded, so a spike does not dilute its own score) drives the trade:
z below -entry_z buys (the expected edge is the distance back to the mean); z above +entry_z sells the
holding, more of it the more stretched the price is. Long-only: with nothing held, a spike is noted but
not shorted.
"""
from __future__ import annotations

import math

from pydantic import Field

from traders.base import Theory, TheoryParams, marketable_price, usd
from traders.decision import Decision, ProposedOrder
from traders.registry import register
from traders.sizing import buy_size, realized_vol, sell_size, squared_deviations
from traders.snapshot import TraderView
from traders.trader_config import TraderConfig


class MeanReversionParams(TheoryParams):
    lookback: int = Field(default=20, ge=3, le=200)
    entry_z: float = Field(default=2.0, gt=0)
    max_orders: int = Field(default=2, ge=1)
    symbols: tuple[str, ...] | None = None


def zscore(series: tuple[float, ...], lookback: int) -> tuple[float, float, float] | None:
    """(z, mean, std) of the last value against the `lookback` values before it; None if too short."""
    if len(series) < lookback + 1:
        return None
    window = series[-lookback - 1:-1]
    mean = sum(window) / len(window)
    std = math.sqrt(squared_deviations(window, mean) / (len(window) - 1))
    std = max(std, mean * 1e-4)  # a perfectly flat window: one basis point, not a division by zero
    return (series[-1] - mean) / std, mean, std


@register
class MeanReversion(Theory):
    name = "mean_reversion"
    reads_chat = False
    description = (
        "Mean reversion: measure how many standard deviations the price sits from its recent average "
        "(z-score). Buy when it is stretched far below (z < -entry), sell holdings when stretched far "
        "above (z > +entry), expecting a return to the mean. Long-only; size scales with the stretch."
    )
    Params = MeanReversionParams

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: MeanReversionParams = self.params(cfg)
        snap = view.market
        zs: dict[str, tuple[float, float, float]] = {}
        for sym in p.symbols or snap.symbols:
            z = zscore(snap.series(sym), p.lookback)
            if z is not None:
                zs[sym] = z
        signals = {f"{sym}.z": z[0] for sym, z in zs.items()}
        signals["entry_z"] = p.entry_z
        if not zs:
            return self.hold(view, cfg, f"Fewer than {p.lookback + 1} cycles of history: holding.", signals)

        orders: list[ProposedOrder] = []
        lines: list[str] = []
        spent = 0
        for sym in sorted(zs, key=lambda s: -abs(zs[s][0]))[: p.max_orders]:
            z, mean, _std = zs[sym]
            spec = snap.instruments[sym]
            price_now = snap.series(sym)[-1]
            if z > p.entry_z:
                held = view.qty(sym)
                if held <= 0:
                    lines.append(f"{sym} is {z:.1f} sd above its {p.lookback}-cycle mean but I hold none")
                    continue
                frac = min(1.0, z / (2 * p.entry_z))
                size = sell_size(view, cfg.risk, spec, max(spec.lot_size, math.ceil(held * frac)))
                px = marketable_price(view, sym, "sell", cfg.risk.max_relative_spread)
                if px is not None and size.qty > 0:
                    orders.append(ProposedOrder(symbol=sym, side="sell", qty=size.qty, limit_price=px))
                    lines.append(
                        f"{sym} spiked to {usd(price_now)}, {z:.1f} sd above its {p.lookback}-cycle mean "
                        f"{usd(mean)}: selling {size.qty} of my {held} shares at {usd(px)} limit"
                    )
            elif z < -p.entry_z:
                px = marketable_price(view, sym, "buy", cfg.risk.max_relative_spread)
                if px is None:
                    continue
                edge = mean / px - 1.0
                vol = realized_vol(snap.series(sym), p.lookback)
                size = buy_size(view, cfg.risk, spec, px, min(1.0, -z / (2 * p.entry_z)), vol, edge, spent)
                signals[f"{sym}.edge"] = edge
                if size.qty > 0:
                    spent += size.qty * px
                    orders.append(ProposedOrder(symbol=sym, side="buy", qty=size.qty, limit_price=px))
                    lines.append(
                        f"{sym} dropped to {usd(price_now)}, {-z:.1f} sd below its {p.lookback}-cycle mean "
                        f"{usd(mean)}: buying {size.qty} shares at {usd(px)} limit for the reversion"
                    )
                else:
                    lines.append(f"{sym} is {-z:.1f} sd cheap but I add nothing ({size.binding.replace('_', ' ')})")
        if not orders:
            best = max(zs, key=lambda s: abs(zs[s][0]))
            head = "; ".join(lines) + ". " if lines else ""
            return self.hold(
                view, cfg,
                f"{head}Nothing stretched beyond {p.entry_z:.1f} sd that I can trade "
                f"(most stretched: {best} at z={zs[best][0]:+.1f}): holding.",
                signals,
            )
        return self.decision(view, cfg, orders, "; ".join(lines) + ".", signals)
