"""A theory's situation as a fixed-order numeric vector: the inputs its rule looked at.

Every theory uses the same feature names, in this order, missing ones 0: the last return, its z-score,
volatility, sentiment, the trader's position (shares signed, scaled by `position_scale`) and cash share.
"""
from __future__ import annotations

from collections.abc import Mapping

FEATURES = ("ret", "zscore", "vol", "sentiment", "position", "cash_share")


def situation_vector(inputs: Mapping[str, float], *, position_scale: float = 100.0) -> list[float]:
    out = []
    for name in FEATURES:
        v = float(inputs.get(name, 0.0) or 0.0)
        out.append(v / position_scale if name == "position" else v)
    return out


def from_view(view, symbol: str, window: int = 20) -> list[float]:
    """The situation of `symbol` as a trader's view shows it (a TraderView): last return, z-score of the
    last mid against the window's mean, volatility of the window's returns, chat sentiment, position
    and the share of equity held in cash."""
    series = [float(x) for x in view.market.series(symbol, window + 1) if x]
    rets = [b / a - 1.0 for a, b in zip(series, series[1:], strict=False) if a > 0]
    ret = rets[-1] if rets else 0.0
    mean = sum(series) / len(series) if series else 0.0
    sd = (sum((x - mean) ** 2 for x in series) / len(series)) ** 0.5 if series else 0.0
    zscore = (series[-1] - mean) / sd if sd > 0 else 0.0
    rmean = sum(rets) / len(rets) if rets else 0.0
    vol = (sum((r - rmean) ** 2 for r in rets) / len(rets)) ** 0.5 if rets else 0.0
    m = view.market
    sentiment = m.chat_sentiment_by_symbol.get(symbol, m.chat_sentiment)
    equity = view.equity()
    cash_share = view.cash / equity if equity else 1.0
    return situation_vector({"ret": ret, "zscore": zscore, "vol": vol, "sentiment": sentiment,
                             "position": view.qty(symbol), "cash_share": cash_share})
