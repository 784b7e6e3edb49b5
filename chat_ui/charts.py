"""Plotly figures: one price chart per symbol (the ETF against its NAV), value and PnL per trader.

Pure over histories read from the ledger: `marks_history(symbol)` and `value_history(trader)` are
(cycle, cents) pairs. The ETF's NAV per cycle is rebuilt from its components' marks with its basket.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from market.instruments import Instrument


def nav_history(etf: Instrument, marks: Mapping[str, Sequence[tuple[int, int]]]) -> list[tuple[int, float]]:
    """NAV per ETF share at each cycle where every component has a mark."""
    by_cycle = [dict(marks.get(sym, ())) for sym, _ in etf.basket]
    cycles = sorted(set.intersection(*(set(d) for d in by_cycle))) if by_cycle else []
    return [(c, sum(q * d[c] for (_, q), d in zip(etf.basket, by_cycle, strict=True)) / etf.units) for c in cycles]


def price_figure(inst: Instrument, marks: Mapping[str, Sequence[tuple[int, int]]]) -> go.Figure:
    fig = go.Figure()
    hist = marks.get(inst.symbol, ())
    fig.add_trace(go.Scatter(x=[c for c, _ in hist], y=[p / 100 for _, p in hist], mode="lines",
                             name=f"{inst.symbol} price"))
    if inst.basket:
        nav = nav_history(inst, marks)
        fig.add_trace(go.Scatter(x=[c for c, _ in nav], y=[v / 100 for _, v in nav], mode="lines",
                                 name=f"{inst.symbol} NAV", line={"dash": "dash"}))
    fig.update_layout(title=f"{inst.symbol}" + (" vs NAV" if inst.basket else ""), xaxis_title="cycle",
                      yaxis_title="USD", height=300, margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def traders_figure(values: Mapping[str, Sequence[tuple[int, int]]], initial: Mapping[str, int],
                   *, pnl: bool) -> go.Figure:
    """Portfolio value (pnl=False) or PnL against the initial cash (pnl=True) per trader over cycles."""
    fig = go.Figure()
    for trader, hist in values.items():
        base = initial.get(trader, 0) if pnl else 0
        fig.add_trace(go.Scatter(x=[c for c, _ in hist], y=[(v - base) / 100 for _, v in hist], mode="lines",
                                 name=trader))
    fig.update_layout(title="PnL per trader" if pnl else "Portfolio value per trader", xaxis_title="cycle",
                      yaxis_title="USD", height=320, margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig
