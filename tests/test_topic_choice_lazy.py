"""choose_topic builds only the winning Topic; it chooses and words exactly what building every candidate did."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from floor.config import TopicSettings
from market.instruments import DEFAULT_UNIVERSE
from traders.chat.topic import Topic, _movers, _news_topic, choose_topic
from traders.snapshot import FillNote, MarketSnapshot, synthetic_snapshot

SYMBOLS = [i.symbol for i in DEFAULT_UNIVERSE]


def former_choose_topic(snap: MarketSnapshot, settings: TopicSettings | None = None) -> Topic:
    cfg = settings or TopicSettings()
    if snap.headlines and (news := _news_topic(snap)) is not None:
        return news
    candidates: list[Topic] = []
    movers = _movers(snap, cfg.mover_lookback)
    if movers:
        sym = max(movers, key=lambda s: abs(movers[s]))  # first of equals in snapshot order
        r = movers[sym]
        span = "cycle" if cfg.mover_lookback == 1 else f"{cfg.mover_lookback} cycles"
        candidates.append(Topic(
            kind="biggest_mover", symbol=sym, magnitude=r, score=abs(r) / cfg.min_move_pct,
            headline=f"{sym} is the biggest mover: {'up' if r >= 0 else 'down'} {abs(r):.2%} over the last {span}",
        ))
    for etf in snap.etfs:
        nav = etf.nav if etf.nav is not None else etf.nav_from(snap.mids())
        mid = snap.mid(etf.symbol)
        if nav and mid:
            prem = mid / nav - 1.0
            candidates.append(Topic(
                kind="etf_dislocation", symbol=etf.symbol, magnitude=prem, score=abs(prem) / cfg.etf_dislocation_pct,
                headline=f"{etf.symbol} trades {abs(prem):.2%} {'above' if prem >= 0 else 'below'} its basket NAV "
                         f"({mid / 100:,.2f} vs {nav / 100:,.2f})",
            ))
    if snap.recent_fills:
        fill = max(snap.recent_fills, key=lambda f: f.qty)
        who = f" ({fill.buyer} bought from {fill.seller})" if fill.buyer and fill.seller else ""
        candidates.append(Topic(
            kind="big_fill", symbol=fill.symbol, magnitude=float(fill.qty), score=fill.qty / cfg.big_fill_qty,
            headline=f"Big fill: {fill.qty} {fill.symbol} at {fill.price / 100:,.2f}{who}",
        ))
    if not candidates:
        return Topic(kind="quiet", headline="No market data yet: strategies and plans")
    best = max(candidates, key=lambda t: t.score)  # max keeps the first of equal scores
    if best.score >= 1.0:
        return best
    mover = candidates[0] if candidates[0].kind == "biggest_mover" else None
    return Topic(
        kind="quiet",
        symbol=mover.symbol if mover else None,
        magnitude=mover.magnitude if mover else 0.0,
        score=best.score,
        headline="Quiet market" + (f"; the biggest mover is {mover.symbol} at {mover.magnitude:+.2%}" if mover else ""),
    )


moves = st.floats(-0.08, 0.08)


@st.composite
def snapshots(draw):
    n = draw(st.integers(1, 6))
    hist = {}
    for sym, inst in zip(SYMBOLS, DEFAULT_UNIVERSE, strict=True):
        if sym != "FLOR" and draw(st.booleans()) is False and len(hist) > 1:
            continue
        path = [float(inst.initial_price)]
        for _ in range(n - 1):
            path.append(round(path[-1] * (1 + draw(moves)) * 2) / 2)
        hist[sym] = path
    fills = tuple(draw(st.lists(st.builds(
        FillNote, symbol=st.sampled_from(SYMBOLS), price=st.integers(1, 100_000), qty=st.integers(1, 1000),
        buyer=st.sampled_from(["", "momentum"]), seller=st.sampled_from(["", "value"])), max_size=3)))
    return synthetic_snapshot(hist, spread=draw(st.integers(0, 40)), recent_fills=fills)


topic_settings = st.builds(
    TopicSettings, mover_lookback=st.integers(1, 4), min_move_pct=st.sampled_from([0.001, 0.005, 0.05]),
    etf_dislocation_pct=st.sampled_from([0.0005, 0.003, 0.5]), big_fill_qty=st.sampled_from([1, 200, 5000]))


@settings(max_examples=400, deadline=None)
@given(snapshots(), topic_settings)
def test_same_topic_as_building_every_candidate(snap, cfg):
    got = choose_topic(snap, cfg)
    want = former_choose_topic(snap, cfg)
    assert got == want and got.model_dump() == want.model_dump()


def test_empty_market_is_quiet():
    snap = MarketSnapshot(cycle=0, instruments={}, quotes={})
    assert choose_topic(snap) == former_choose_topic(snap) == Topic(
        kind="quiet", headline="No market data yet: strategies and plans")
