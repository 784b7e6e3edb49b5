"""Trend following: ride established trends, identified by a moving-average crossover.

Unlike momentum (a raw return over a short window), a trend here is the fast moving average sitting
above the slow one by more than `band`, with the price above the slow average too. Trend strength is
fast/slow - 1; it sets conviction and is the expected edge. When the fast average falls below the slow
one by more than the band, the trend has broken and the holding is sold out. Long-only.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from traders.base import Theory, TheoryParams, marketable_price, pct, usd
from traders.decision import Decision, ProposedOrder
from traders.registry import register
from traders.sizing import buy_size, exit_sell, realized_vol
from traders.snapshot import TraderView
from traders.trader_config import TraderConfig


class TrendParams(TheoryParams):
    fast: int = Field(default=5, ge=1)
    slow: int = Field(default=20, ge=2, le=256)
    band: float = Field(default=0.002, ge=0)
    max_orders: int = Field(default=2, ge=1)
    symbols: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _fast_below_slow(self) -> TrendParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


@register
class TrendFollowing(Theory):
    name = "trend_following"
    reads_chat = False
    description = (
        "Trend following: compare a fast and a slow moving average of each price. When the fast one is "
        "above the slow one by more than a band (and the price is above the slow average), the trend is "
        "up: buy and hold it; when the fast average crosses below, the trend is broken: sell. Size grows "
        "with trend strength and shrinks with volatility and risk aversion."
    )
    Params = TrendParams

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: TrendParams = self.params(cfg)
        snap = view.market
        strength: dict[str, float] = {}
        for sym in p.symbols or snap.symbols:
            s = snap.series(sym, p.slow)
            if len(s) < p.slow:
                continue
            fast = sum(s[-p.fast:]) / p.fast
            slow = sum(s) / p.slow
            if slow > 0:
                # Price below the slow average disqualifies an up-trend (a stale crossover).
                strength[sym] = fast / slow - 1.0 if (fast <= slow or s[-1] >= slow) else 0.0
        signals = {f"{sym}.trend": v for sym, v in strength.items()}
        signals["band"] = p.band
        if not strength:
            return self.hold(view, cfg, f"Fewer than {p.slow} cycles of history for the slow average: holding.", signals)

        orders: list[ProposedOrder] = []
        lines: list[str] = []
        for sym, st in strength.items():
            if st < -p.band and view.qty(sym) > 0 and (o := exit_sell(view, cfg, sym)) is not None:
                orders.append(o)
                lines.append(
                    f"{sym}'s {p.fast}-cycle average crossed {pct(st)} below its {p.slow}-cycle average: "
                    f"trend broken, selling {o.qty} shares at {usd(o.limit_price)} limit"
                )
        spent = 0
        ups = [s for s in sorted(strength, key=lambda s: -strength[s]) if strength[s] > p.band]
        for sym in ups[: p.max_orders]:
            st = strength[sym]
            spec = snap.instruments[sym]
            px = marketable_price(view, sym, "buy", cfg.risk.max_relative_spread)
            if px is None:
                continue
            vol = realized_vol(snap.series(sym), p.slow)
            size = buy_size(view, cfg.risk, spec, px, min(1.0, st / (5 * p.band or 1.0)), vol, st, spent)
            if size.qty > 0:
                spent += size.qty * px
                orders.append(ProposedOrder(symbol=sym, side="buy", qty=size.qty, limit_price=px))
                lines.append(
                    f"{sym} is trending up: its {p.fast}-cycle average is {pct(st)} above the {p.slow}-cycle "
                    f"average: buying {size.qty} shares at {usd(px)} limit (size set by {size.binding})"
                )
            else:
                lines.append(f"{sym} is trending up ({pct(st)}) but I add nothing ({size.binding.replace('_', ' ')})")
        if not orders:
            best = max(strength, key=lambda s: abs(strength[s]))
            head = "; ".join(lines) + ". " if lines else ""
            return self.hold(
                view, cfg,
                f"{head}No tradeable trend beyond the {p.band:.1%} band (strongest: {best} "
                f"{pct(strength[best])}): holding.",
                signals,
            )
        return self.decision(view, cfg, orders, "; ".join(lines) + ".", signals)
