"""Momentum: what went up over the last few cycles keeps going up for a while.

For each symbol, the return over `lookback` cycles is compared with `threshold`. The strongest risers
above it are bought (at most `max_orders`), sized by the shared risk-adjusted rule with conviction
growing with the move; a held symbol that fell by more than the threshold is sold out (momentum has
turned). Long-only: nothing is sold short.
"""
from __future__ import annotations

from pydantic import Field

from traders.base import Theory, TheoryParams, marketable_price, pct, usd
from traders.decision import Decision, ProposedOrder
from traders.registry import register
from traders.sizing import buy_size, exit_sell, realized_vol
from traders.snapshot import TraderView
from traders.trader_config import TraderConfig


class MomentumParams(TheoryParams):
    lookback: int = Field(default=10, ge=1, le=200)
    threshold: float = Field(default=0.015, gt=0)  # return over the lookback that counts as momentum
    vol_lookback: int = Field(default=20, ge=2, le=200)
    max_orders: int = Field(default=2, ge=1)
    symbols: tuple[str, ...] | None = None  # None: every symbol in the snapshot


@register
class Momentum(Theory):
    name = "momentum"
    reads_chat = False
    description = (
        "Momentum: buy the symbols whose price rose most over the last few cycles, above a threshold, "
        "expecting the move to continue; sell a holding once its return over the same window turns "
        "negative by more than the threshold. Position size scales with the strength of the move and "
        "inversely with volatility and risk aversion."
    )
    Params = MomentumParams

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: MomentumParams = self.params(cfg)
        snap = view.market
        rets: dict[str, float] = {}
        for sym in p.symbols or snap.symbols:
            s = snap.series(sym, p.lookback + 1)
            if len(s) == p.lookback + 1 and s[0] > 0:
                rets[sym] = s[-1] / s[0] - 1.0
        signals = {f"{sym}.return": r for sym, r in rets.items()}
        signals["threshold"] = p.threshold
        if not rets:
            return self.hold(view, cfg, f"Not enough history yet for a {p.lookback}-cycle return: holding.", signals)

        orders: list[ProposedOrder] = []
        lines: list[str] = []
        for sym in sorted(rets, key=lambda s: rets[s]):  # sells first (most negative)
            r = rets[sym]
            if r < -p.threshold and view.qty(sym) > 0 and (o := exit_sell(view, cfg, sym)) is not None:
                orders.append(o)
                lines.append(
                    f"{sym} fell {pct(r)} over {p.lookback} cycles, past my -{p.threshold:.1%} exit: "
                    f"selling {o.qty} shares at {usd(o.limit_price)} limit"
                )
        spent = 0
        risers = [s for s in sorted(rets, key=lambda s: -rets[s]) if rets[s] > p.threshold]
        for sym in risers[: p.max_orders]:
            r = rets[sym]
            spec = snap.instruments[sym]
            px = marketable_price(view, sym, "buy", cfg.risk.max_relative_spread)
            if px is None:
                continue
            vol = realized_vol(snap.series(sym), p.vol_lookback)
            conviction = min(1.0, r / (3 * p.threshold))
            size = buy_size(view, cfg.risk, spec, px, conviction, vol, edge=r, spent=spent)
            signals[f"{sym}.vol"] = vol
            signals[f"{sym}.conviction"] = conviction
            if size.qty > 0:
                spent += size.qty * px
                orders.append(ProposedOrder(symbol=sym, side="buy", qty=size.qty, limit_price=px))
                lines.append(
                    f"{sym} rose {pct(r)} over {p.lookback} cycles, above my {p.threshold:.1%} threshold: "
                    f"buying {size.qty} shares at {usd(px)} limit (size set by {size.binding})"
                )
            else:
                lines.append(f"{sym} rose {pct(r)} but I add nothing ({size.binding.replace('_', ' ')})")
        if not orders:
            best = max(rets, key=lambda s: abs(rets[s]))
            head = "; ".join(lines) + ". " if lines else ""
            return self.hold(
                view, cfg,
                f"{head}No actionable momentum beyond {p.threshold:.1%} over {p.lookback} cycles "
                f"(largest move: {best} {pct(rets[best])}): holding.",
                signals,
            )
        return self.decision(view, cfg, orders, "; ".join(lines) + ".", signals)
