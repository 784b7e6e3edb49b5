"""Choose what the floor talks about this cycle, from market events.

Three kinds of event compete, each scored as its magnitude over its "worth talking about" threshold
from `TopicSettings`:
- biggest mover: |return over `mover_lookback` cycles| / `min_move_pct`;
- ETF dislocation: |ETF mid / NAV - 1| / `etf_dislocation_pct`;
- big fill: fill quantity / `big_fill_qty` (fills the graph reports in `snapshot.recent_fills`).
The highest score wins (ties keep that order: mover, ETF, fill; symbols in snapshot order). A scenario's
headline of this cycle (`snapshot.headlines`: news, a rumour with its source, a halt, ...) beats them all. If nothing
reaches a score of 1 the topic is "quiet", still naming the biggest mover so there is something to
say. Deterministic: the same snapshot always gives the same topic.
"""
from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Literal

from pydantic import BaseModel, ConfigDict

from floor.config import TopicSettings
from traders.snapshot import MarketSnapshot


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["biggest_mover", "etf_dislocation", "big_fill", "quiet", "news"]
    symbol: str | None = None
    headline: str
    magnitude: float = 0.0  # the return, the premium, or the fill quantity
    score: float = 0.0  # magnitude over its threshold


def _movers(snap: MarketSnapshot, lookback: int) -> dict[str, float]:
    out = {}
    for sym in snap.symbols:
        s = snap.series(sym, lookback + 1)
        if len(s) == lookback + 1 and s[0] > 0:
            out[sym] = s[-1] / s[0] - 1.0
    return out


_score = itemgetter(0)
_NEWSWORTHY = ("breaker", "flash_crash", "news", "rumour", "halt", "drought")  # most newsworthy first


def _news_topic(snap: MarketSnapshot) -> Topic | None:
    """A scenario headline of this cycle, when there is one: it is what the floor talks about (the most
    newsworthy kind first, then the first in time); a rumour names its source. Resumes are not news."""
    ranked = [h for h in snap.headlines if h.kind in _NEWSWORTHY]
    if not ranked:
        return None
    h = min(ranked, key=lambda h: _NEWSWORTHY.index(h.kind))
    text = h.headline if not h.source or h.source in h.headline else f"{h.headline} (source: {h.source})"
    return Topic(kind="news", symbol=h.symbol, headline=text, magnitude=h.move_pct or 0.0, score=100.0)


def choose_topic(snap: MarketSnapshot, settings: TopicSettings | None = None) -> Topic:
    cfg = settings or TopicSettings()
    if snap.headlines and (news := _news_topic(snap)) is not None:
        return news
    # (score, kind, symbol, magnitude, headline maker): only the winner's Topic and headline are built
    candidates: list[tuple[float, str, str, float, Callable[[], str]]] = []
    movers = _movers(snap, cfg.mover_lookback)
    if movers:
        sym = max(movers, key=lambda s: abs(movers[s]))  # first of equals in snapshot order
        r = movers[sym]
        span = "cycle" if cfg.mover_lookback == 1 else f"{cfg.mover_lookback} cycles"
        candidates.append((abs(r) / cfg.min_move_pct, "biggest_mover", sym, r, lambda sym=sym, r=r: (
            f"{sym} is the biggest mover: {'up' if r >= 0 else 'down'} {abs(r):.2%} over the last {span}")))
    for etf in snap.etfs:
        nav = etf.nav if etf.nav is not None else etf.nav_from(snap.mids())
        mid = snap.mid(etf.symbol)
        if nav and mid:
            prem = mid / nav - 1.0
            candidates.append((abs(prem) / cfg.etf_dislocation_pct, "etf_dislocation", etf.symbol, prem,
                               lambda sym=etf.symbol, prem=prem, mid=mid, nav=nav: (
                f"{sym} trades {abs(prem):.2%} {'above' if prem >= 0 else 'below'} its basket NAV "
                f"({mid / 100:,.2f} vs {nav / 100:,.2f})")))
    if snap.recent_fills:
        fill = max(snap.recent_fills, key=lambda f: f.qty)
        who = f" ({fill.buyer} bought from {fill.seller})" if fill.buyer and fill.seller else ""
        candidates.append((fill.qty / cfg.big_fill_qty, "big_fill", fill.symbol, float(fill.qty), lambda: (
            f"Big fill: {fill.qty} {fill.symbol} at {fill.price / 100:,.2f}{who}")))
    if not candidates:
        return Topic(kind="quiet", headline="No market data yet: strategies and plans")
    best = max(candidates, key=_score)  # max keeps the first of equal scores
    if best[0] >= 1.0:
        score, kind, symbol, magnitude, headline = best
        return Topic(kind=kind, symbol=symbol, magnitude=magnitude, score=score, headline=headline())
    mover = candidates[0] if candidates[0][1] == "biggest_mover" else None
    return Topic(
        kind="quiet",
        symbol=mover[2] if mover else None,
        magnitude=mover[3] if mover else 0.0,
        score=best[0],
        headline="Quiet market" + (f"; the biggest mover is {mover[2]} at {mover[3]:+.2%}" if mover else ""),
    )
