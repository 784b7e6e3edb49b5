"""A theory's situation as a fixed-order numeric vector: the inputs its rule looked at.

Every theory uses the same feature names, in this order, missing ones 0: the last return, its z-score,
volatility, sentiment, the trader's position (shares signed, scaled by `position_scale`) and cash share.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

FEATURES = ("ret", "zscore", "vol", "sentiment", "position", "cash_share")


def situation_vector(inputs: Mapping[str, float], *, position_scale: float = 100.0) -> list[float]:
    out = []
    for name in FEATURES:
        v = float(inputs.get(name, 0.0) or 0.0)
        out.append(v / position_scale if name == "position" else v)
    return out


def series_features(mids: Sequence[float]) -> tuple[float, float, float]:
    """(last return, z-score of the last mid against the mids' mean, volatility of their returns) of a
    window of per-cycle mids, oldest first; missing (0 or None) mids are skipped."""
    series = [float(x) for x in mids if x]
    rets = [b / a - 1.0 for a, b in zip(series, series[1:], strict=False) if a > 0]
    ret = rets[-1] if rets else 0.0
    mean = sum(series) / len(series) if series else 0.0
    sd = (sum((x - mean) ** 2 for x in series) / len(series)) ** 0.5 if series else 0.0
    zscore = (series[-1] - mean) / sd if sd > 0 else 0.0
    rmean = sum(rets) / len(rets) if rets else 0.0
    vol = (sum((r - rmean) ** 2 for r in rets) / len(rets)) ** 0.5 if rets else 0.0
    return ret, zscore, vol


# Every trader of a cycle sees the same mids history (one tuple per symbol, shared by the views' market
# snapshots), so its features are computed once: keyed by that tuple's identity, which the cache holds.
_features: dict[tuple[str, int], tuple[tuple, tuple[float, float, float]]] = {}


def _cached_features(history: tuple, window: int) -> tuple[float, float, float]:
    key = (id(history), window)
    hit = _features.get(key)
    if hit is not None and hit[0] is history:
        return hit[1]
    out = series_features(history[-(window + 1):])
    if len(_features) > 256:
        _features.clear()
    _features[key] = (history, out)
    return out


def from_view(view, symbol: str, window: int = 20) -> list[float]:
    """The situation of `symbol` as a trader's view shows it (a TraderView): last return, z-score of the
    last mid against the window's mean, volatility of the window's returns, chat sentiment, position
    and the share of equity held in cash."""
    return situations_of(view, (symbol,), window)[symbol]


def situations_of(view, symbols: Sequence[str], window: int = 20) -> dict[str, list[float]]:
    """`from_view` for each of `symbols`, sharing the work the symbols (and the cycle's traders) have in common."""
    m = view.market
    equity = view.equity()
    cash_share = view.cash / equity if equity else 1.0
    out = {}
    by_symbol, overall = m.chat_sentiment_by_symbol, m.chat_sentiment
    history = m.history
    cash_share = float(cash_share or 0.0)
    for symbol in symbols:  # `situation_vector`'s layout, written out
        ret, zscore, vol = _cached_features(history.get(symbol, ()), window)
        out[symbol] = [float(ret or 0.0), float(zscore or 0.0), float(vol or 0.0),
                       float(by_symbol.get(symbol, overall) or 0.0), float(view.qty(symbol)) / 100.0, cash_share]
    return out
