"""Sentiment-driven: trade on what the floor says and on the market's mood.

Two scores in [-1, 1] per symbol are blended:
- chat: the lexicon sentiment of this cycle's messages that mention the symbol; for the ETF (the market
  as a whole) the floor's overall chat sentiment is used when the ETF itself was not discussed;
- market: tanh of the symbol's return over `market_lookback` cycles in units of its volatility over
  that horizon (a one-sigma rise is about +0.76), i.e. how good the tape feels.

score = chat_weight * chat + market_weight * market (+ news_weight * news when a scenario's headlines
concern the symbol this cycle: their mean tone, traders/headline_tone.py). Above `threshold` buys (the strongest first),
below -threshold sells holdings. The expected edge is score * volatility. Chat text only ever reaches
this trader as a bounded number, so no message can make it trade beyond its risk settings.
"""
from __future__ import annotations

import math

from pydantic import Field

from traders.base import Theory, TheoryParams, marketable_price, usd
from traders.decision import Decision, ProposedOrder
from traders.headline_tone import news_score
from traders.registry import register
from traders.sizing import buy_size, exit_sell, realized_vol
from traders.snapshot import TraderView
from traders.trader_config import TraderConfig


class SentimentParams(TheoryParams):
    chat_weight: float = Field(default=0.6, ge=0, le=1)
    market_weight: float = Field(default=0.4, ge=0, le=1)
    threshold: float = Field(default=0.3, gt=0, le=1)
    news_weight: float = Field(default=0.5, ge=0, le=1)  # weight of this cycle's scenario headlines (when any)
    market_lookback: int = Field(default=3, ge=1, le=100)
    vol_lookback: int = Field(default=20, ge=2, le=200)
    max_orders: int = Field(default=2, ge=1)
    symbols: tuple[str, ...] | None = None


@register
class SentimentTrader(Theory):
    name = "sentiment"
    description = (
        "Sentiment-driven: read the mood of the floor's group chat (a lexicon score per message, averaged "
        "per symbol) and of the market (recent returns in units of volatility), blend them, buy symbols "
        "whose blended sentiment is strongly positive and sell holdings when it turns strongly negative."
    )
    Params = SentimentParams

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: SentimentParams = self.params(cfg)
        snap = view.market
        scores: dict[str, tuple[float, float, float]] = {}
        signals: dict[str, float] = {"chat.overall": snap.chat_sentiment, "threshold": p.threshold}
        for sym in p.symbols or snap.symbols:
            spec = snap.instruments.get(sym)
            if spec is None:
                continue
            chat = snap.chat_sentiment_by_symbol.get(sym)
            if chat is None:
                chat = snap.chat_sentiment if spec.is_etf else 0.0
            s = snap.series(sym, p.market_lookback + 1)
            market = 0.0
            if len(s) == p.market_lookback + 1 and s[0] > 0:
                vol = realized_vol(snap.series(sym), p.vol_lookback) * math.sqrt(p.market_lookback)
                market = math.tanh((s[-1] / s[0] - 1.0) / vol)
            score = p.chat_weight * chat + p.market_weight * market
            news = news_score(snap.headlines, sym, is_etf=spec.is_etf) if snap.headlines else None
            if news is not None:  # a scenario's headlines (traders/headline_tone.py); none in a calm market
                score += p.news_weight * news
                signals[f"{sym}.news"] = news
            scores[sym] = (score, chat, market)
            signals[f"{sym}.score"] = score
        if snap.chat_messages:
            signals["chat.messages"] = float(len(snap.chat_messages))
        if not scores:
            return self.hold(view, cfg, "No symbols to read sentiment on: holding.", signals)

        orders: list[ProposedOrder] = []
        lines: list[str] = []
        for sym, (score, chat, market) in scores.items():
            if score < -p.threshold and view.qty(sym) > 0 and (o := exit_sell(view, cfg, sym)) is not None:
                orders.append(o)
                lines.append(
                    f"sentiment on {sym} soured to {score:+.2f} (chat {chat:+.2f}, tape {market:+.2f}), "
                    f"below -{p.threshold:.2f}: selling {o.qty} shares at {usd(o.limit_price)} limit"
                )
        spent = 0
        bulls = [s for s in sorted(scores, key=lambda s: -scores[s][0]) if scores[s][0] > p.threshold]
        for sym in bulls[: p.max_orders]:
            score, chat, market = scores[sym]
            spec = snap.instruments[sym]
            px = marketable_price(view, sym, "buy", cfg.risk.max_relative_spread)
            if px is None:
                continue
            vol = realized_vol(snap.series(sym), p.vol_lookback)
            size = buy_size(view, cfg.risk, spec, px, min(1.0, score), vol, score * vol, spent)
            if size.qty > 0:
                spent += size.qty * px
                orders.append(ProposedOrder(symbol=sym, side="buy", qty=size.qty, limit_price=px))
                lines.append(
                    f"sentiment on {sym} is {score:+.2f} (chat {chat:+.2f}, tape {market:+.2f}), above "
                    f"{p.threshold:.2f}: buying {size.qty} shares at {usd(px)} limit"
                )
            else:
                lines.append(f"{sym} sentiment is {score:+.2f} but I add nothing ({size.binding.replace('_', ' ')})")
        if not orders:
            best = max(scores, key=lambda s: abs(scores[s][0]))
            head = "; ".join(lines) + ". " if lines else ""
            return self.hold(
                view, cfg,
                f"{head}Sentiment is not decisive (strongest: {best} {scores[best][0]:+.2f}, threshold "
                f"{p.threshold:.2f}; floor chat overall {snap.chat_sentiment:+.2f}): holding.",
                signals,
            )
        return self.decision(view, cfg, orders, "; ".join(lines) + ".", signals)
