"""ETF arbitrage: trade the ETF against the NAV of its basket, net of the spread.

NAV per ETF share comes from the component mids. What can actually be captured is measured at the
prices we would trade at, so the spread is paid up front:
- cheap ETF: edge = (NAV - ETF ask) / NAV. Above `threshold`, buy the ETF at the ask.
- rich ETF:  edge = (ETF bid - NAV) / NAV. Above `threshold`, sell the ETF we hold at the bid.
- converged: holding ETF bought cheap and the bid is back at or above NAV: sell it, take the profit.

The floor is long-only, so by default only the ETF side is traded (buy cheap, sell rich or converged).
With `hedge: true` the other leg is added where possible: buying the ETF also sells the matching
component shares we already hold, and selling the ETF buys them back (one creation unit of `units`
ETF shares against the basket's component shares; the ETF quantity is rounded to whole units).
"""
from __future__ import annotations

from pydantic import Field

from traders.base import Theory, TheoryParams, marketable_price, usd
from traders.decision import Decision, ProposedOrder
from traders.registry import register
from traders.sizing import buy_size, cap_buy, realized_vol, sell_size
from traders.snapshot import EtfBasket, TraderView
from traders.trader_config import TraderConfig


class ArbitrageParams(TheoryParams):
    etf: str | None = None  # None: the first ETF in the snapshot
    threshold: float = Field(default=0.002, gt=0)  # net mispricing (fraction of NAV) worth trading
    hedge: bool = False
    vol_lookback: int = Field(default=20, ge=2, le=200)


@register
class EtfArbitrage(Theory):
    name = "arbitrage"
    reads_chat = False
    description = (
        "ETF arbitrage: compute the ETF's fair value (NAV) from its basket's component prices. If the ETF "
        "can be bought below NAV by more than a threshold after paying the spread, buy it; if it can be "
        "sold above NAV (or the discount has closed) and I hold it, sell it. Optionally hedge with the "
        "component shares. Trades only real, net-of-spread mispricings."
    )
    Params = ArbitrageParams

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: ArbitrageParams = self.params(cfg)
        snap = view.market
        etf = snap.etf(p.etf) if p.etf else (snap.etfs[0] if snap.etfs else None)
        if etf is None:
            return self.hold(view, cfg, "No ETF in the market to arbitrage: holding.", {})
        nav = etf.nav if etf.nav is not None else etf.nav_from(snap.mids())
        quote = snap.quotes.get(etf.symbol)
        if nav is None or quote is None or quote.mid is None:
            return self.hold(view, cfg, f"No NAV or quote for {etf.symbol} yet: holding.", {})
        spec = snap.instruments[etf.symbol]
        signals = {"nav": nav, "etf.mid": quote.mid, "premium": quote.mid / nav - 1.0, "threshold": p.threshold}
        cheap = (nav - quote.ask) / nav if quote.ask is not None else None
        rich = (quote.bid - nav) / nav if quote.bid is not None else None
        if cheap is not None:
            signals["edge.buy"] = cheap
        if rich is not None:
            signals["edge.sell"] = rich
        held = view.qty(etf.symbol)
        risk = cfg.risk

        if cheap is not None and cheap > p.threshold:
            px = marketable_price(view, etf.symbol, "buy", risk.max_relative_spread) or quote.ask
            vol = realized_vol(snap.series(etf.symbol), p.vol_lookback)
            size = buy_size(view, risk, spec, px, min(1.0, cheap / (2 * p.threshold)), vol, cheap)
            qty = size.qty - size.qty % etf.units if p.hedge else size.qty
            if qty <= 0:
                return self.hold(view, cfg, f"{etf.symbol} is {cheap:.2%} below NAV {usd(nav)} but I add nothing ({size.binding.replace('_', ' ')}): holding.", signals)
            orders = [ProposedOrder(symbol=etf.symbol, side="buy", qty=qty, limit_price=px)]
            text = (f"{etf.symbol} ask {usd(quote.ask)} is {cheap:.2%} below its basket NAV {usd(nav)} after the "
                    f"spread, above my {p.threshold:.2%} threshold: buying {qty} shares at {usd(px)} limit")
            if p.hedge:
                orders += self._hedge(view, cfg, etf, qty, "sell")
            return self.decision(view, cfg, orders, text + self._hedge_note(orders) + ".", signals)

        converged = held > 0 and rich is not None and rich >= 0
        if held > 0 and rich is not None and (rich > p.threshold or converged):
            px = marketable_price(view, etf.symbol, "sell", risk.max_relative_spread)
            size = sell_size(view, risk, spec, held)
            qty = size.qty - size.qty % etf.units if p.hedge else size.qty
            if px is not None and qty > 0:
                why = "rich" if rich > p.threshold else "back at fair value"
                orders = [ProposedOrder(symbol=etf.symbol, side="sell", qty=qty, limit_price=px)]
                text = (f"{etf.symbol} bid {usd(quote.bid)} is {rich:+.2%} against NAV {usd(nav)} ({why}): "
                        f"selling {qty} of my {held} shares at {usd(px)} limit")
                if p.hedge:
                    orders += self._hedge(view, cfg, etf, qty, "buy")
                return self.decision(view, cfg, orders, text + self._hedge_note(orders) + ".", signals)
        return self.hold(
            view, cfg,
            f"{etf.symbol} mid {usd(quote.mid)} vs NAV {usd(nav)} ({signals['premium']:+.2%}): no mispricing "
            f"beyond {p.threshold:.2%} net of the spread: holding.",
            signals,
        )

    @staticmethod
    def _hedge(view: TraderView, cfg: TraderConfig, etf: EtfBasket, etf_qty: int, side: str) -> list[ProposedOrder]:
        """The component leg for `etf_qty` ETF shares; only what long-only holdings and limits allow."""
        out: list[ProposedOrder] = []
        spent = 0
        for sym, shares in etf.components:
            want = etf_qty // etf.units * shares
            spec = view.market.instruments.get(sym)
            px = marketable_price(view, sym, side, cfg.risk.max_relative_spread)
            if spec is None or px is None or want <= 0:
                continue
            if side == "sell":
                qty = sell_size(view, cfg.risk, spec, want).qty
            else:
                qty = cap_buy(view, cfg.risk, spec, px, want, spent=spent).qty
                spent += qty * px
            if qty > 0:
                out.append(ProposedOrder(symbol=sym, side=side, qty=qty, limit_price=px))
        return out

    @staticmethod
    def _hedge_note(orders: list[ProposedOrder]) -> str:
        legs = orders[1:]
        if not legs:
            return ""
        side = "selling" if legs[0].side == "sell" else "buying"
        return "; hedging by " + side + " " + ", ".join(f"{o.qty} {o.symbol}" for o in legs)
