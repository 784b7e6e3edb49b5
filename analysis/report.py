"""`trading-floor report`: one self-contained HTML file (Plotly, its JavaScript inlined) about a run.

Sections, each under an `<h2 id=...>`: price charts (with a scenario's events marked), the ETF against
its NAV, PnL per trader, the leaderboard (with the metrics of trader_metrics.py), drawdowns, market
metrics, and the stylized-facts table. Everything is read from the ledger's active branch: marks per cycle, portfolio snapshots, fills
and the market node's traces. The stylized facts here are computed on the run's own per-cycle mark
returns (short runs give few observations, so they are indicative); `trading-floor realism` is the full
check on many seeds at a finer sampling interval, and its table can be passed in to replace them.
"""
from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from analysis import metrics as m
from analysis import stylized_facts as sf
from analysis.market_metrics import flow_return_relation, spread_stats
from analysis.report_events import events_table, mark_events, scenario_events
from analysis.trader_metrics import all_trader_metrics
from market.instruments import DEFAULT_UNIVERSE, Instrument, InstrumentKind

SECTIONS = ("prices", "etf-nav", "pnl", "leaderboard", "drawdowns", "market", "stylized-facts")


def _fig_html(fig: go.Figure, first: bool) -> str:
    fig.update_layout(height=380, margin=dict(l=50, r=20, t=40, b=40), template="plotly_white")
    return pio.to_html(fig, full_html=False, include_plotlyjs=bool(first))


def _table(rows: list[dict], columns: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(_fmt(r.get(key)))}</td>" for key, _ in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:,.4f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def marks_by_symbol(ledger, instruments) -> dict[str, list[tuple[int, int]]]:
    return {i.symbol: ledger.marks_history(i.symbol) for i in instruments}


def build_report(ledger, instruments: Sequence[Instrument] = DEFAULT_UNIVERSE, *, title: str = "Trading Floor report",
                 facts: list[dict] | None = None) -> str:
    """The report as an HTML string, from the ledger's active branch."""
    insts = tuple(instruments)
    marks = marks_by_symbol(ledger, insts)
    traders = all_trader_metrics(ledger, [i.symbol for i in insts])
    parts: list[str] = []
    first = True

    def add_fig(fig):
        nonlocal first
        parts.append(_fig_html(fig, first))
        first = False

    # prices
    parts.append('<h2 id="prices">Prices</h2><p>Mark per cycle (last trade), in dollars.</p>')
    fig = go.Figure()
    for sym, hist in marks.items():
        if hist:
            fig.add_trace(go.Scatter(x=[c for c, _ in hist], y=[p / 100 for _, p in hist], name=sym, mode="lines"))
    events = scenario_events(ledger)  # a scenario's events, marked on the chart (analysis/report_events.py)
    mark_events(fig, events, marks)
    fig.update_layout(title="Price per cycle", xaxis_title="cycle", yaxis_title="$")
    add_fig(fig)
    parts.append(events_table(events))

    # ETF against NAV
    parts.append('<h2 id="etf-nav">ETF against NAV</h2>')
    for etf in (i for i in insts if i.kind is InstrumentKind.ETF):
        comps = {s: dict(marks.get(s, [])) for s, _ in etf.basket}
        xs, px, nav = [], [], []
        for c, p in marks.get(etf.symbol, []):
            if all(c in comps[s] for s in comps):
                xs.append(c)
                px.append(p / 100)
                nav.append(etf.nav({s: comps[s][c] for s in comps}) / 100)
        fig = go.Figure([go.Scatter(x=xs, y=px, name=f"{etf.symbol} mark"),
                         go.Scatter(x=xs, y=nav, name="basket NAV", line=dict(dash="dash"))])
        gap = [1e4 * (a / b - 1) for a, b in zip(px, nav, strict=True) if b]
        fig.update_layout(title=f"{etf.symbol} against its NAV", xaxis_title="cycle", yaxis_title="$")
        add_fig(fig)
        if gap:
            parts.append(f"<p>{etf.symbol} premium to NAV: mean {np.mean(gap):+.1f} bp, "
                         f"max |gap| {np.max(np.abs(gap)):.1f} bp over {len(gap)} cycles.</p>")

    # PnL per trader
    parts.append('<h2 id="pnl">PnL per trader</h2>')
    fig = go.Figure()
    for r in traders:
        path = r["value_path"]
        if path:
            v0 = path[0][1]
            fig.add_trace(go.Scatter(x=[c for c, _ in path], y=[(v - v0) / 100 for _, v in path], name=r["account"]))
    fig.update_layout(title="Portfolio value change since the first snapshot", xaxis_title="cycle", yaxis_title="$")
    add_fig(fig)

    # leaderboard
    parts.append('<h2 id="leaderboard">Leaderboard</h2>')
    rows = []
    for rank, r in enumerate(traders, 1):
        rows.append({**r, "rank": rank, "value": f"${r['value'] / 100:,.2f}", "total_pnl": f"{r['total_pnl'] / 100:+,.2f}",
                     "realized_pnl": f"{r['realized_pnl'] / 100:+,.2f}", "unrealized_pnl": f"{r['unrealized_pnl'] / 100:+,.2f}",
                     "fees": f"{r['fees'] / 100:,.2f}", "return": f"{100 * r['return']:+.2f}%",
                     "max_drawdown": f"{100 * r['max_drawdown']:.2f}%", "spread_paid": f"{r['spread_paid'] / 100:,.2f}"})
    parts.append(_table(rows, [("rank", "#"), ("account", "trader"), ("value", "value"), ("total_pnl", "PnL $"),
                               ("return", "return"), ("realized_pnl", "realized $"), ("unrealized_pnl", "unrealized $"),
                               ("fees", "fees $"), ("sharpe", "Sharpe/cycle"), ("sortino", "Sortino/cycle"),
                               ("max_drawdown", "max DD"), ("turnover", "turnover"), ("hit_rate", "hit rate"),
                               ("avg_holding_cycles", "avg hold (cycles)"), ("fills", "fills"),
                               ("spread_paid", "spread paid $"), ("shortfall_bps", "shortfall bp")]))

    # drawdowns
    parts.append('<h2 id="drawdowns">Drawdowns</h2>')
    fig = go.Figure()
    for r in traders:
        path = r["value_path"]
        if path:
            dd = m.drawdown_path([max(v, 1) for _, v in path])
            fig.add_trace(go.Scatter(x=[c for c, _ in path], y=(-100 * dd).tolist(), name=r["account"]))
    fig.update_layout(title="Drawdown from the running peak", xaxis_title="cycle", yaxis_title="%")
    add_fig(fig)

    # market metrics
    parts.append('<h2 id="market">Market metrics</h2>')
    parts.append(_table(market_rows(ledger, insts), [("symbol", "symbol"), ("mean_spread_bps", "mean spread bp"),
                                                     ("mean_volume", "mean volume / cycle"),
                                                     ("ofi_same", "corr(tick-rule imbalance, same-cycle return)"),
                                                     ("ofi_next", "corr(imbalance, next-cycle return)")]))

    # stylized facts
    parts.append('<h2 id="stylized-facts">Stylized facts</h2>')
    if facts is None:
        series = [m.log_returns([p for _, p in hist]) for hist in marks.values() if len(hist) > 12]
        series = [s for s in series if s.size and s.std() > 0]
        facts = [f.as_dict() for f in sf.return_facts(series, lags=5, abs_lags=10)] if series else []
        parts.append("<p>On this run's per-cycle mark returns (indicative for a short run; "
                     "run <code>trading-floor realism</code> for the full check).</p>")
    parts.append(_table(facts, [("name", "fact"), ("value", "value"), ("target", "target"), ("verdict", "verdict")])
                 if facts else "<p>Too few cycles for the stylized facts.</p>")

    style = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}")
    nav = " · ".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><p>{nav}</p>{''.join(parts)}</body></html>")


def market_rows(ledger, insts) -> list[dict]:
    """Spread (from the market node's traced quotes), volume and trade-sign imbalance per cycle (from fills)."""
    spreads: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t in ledger.traces(kind="market_moved", limit=None):
        for sym, q in (t.get("payload") or {}).get("quotes", {}).items():
            if q and q.get("bid") and q.get("ask"):
                spreads[sym].append((q["ask"] - q["bid"], (q["ask"] + q["bid"]) / 2))
    # The ledger does not store the aggressor side, so trades are signed by the tick rule (Lee and Ready,
    # 1991): up from the previous trade price is buyer-initiated, down is seller-initiated, unchanged keeps
    # the previous sign.
    vol: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    last: dict[str, tuple[int, int]] = {}
    fills = sorted(ledger.fills(limit=None), key=lambda f: (f["cycle"], f["tick"], f["fill_id"]))
    for f in fills:
        sym = f["symbol"]
        prev_price, prev_sign = last.get(sym, (f["price"], 0))
        sign = 1 if f["price"] > prev_price else -1 if f["price"] < prev_price else prev_sign
        last[sym] = (f["price"], sign)
        v = vol[sym][f["cycle"]]
        v[0] += f["qty"]
        v[1] += sign * f["qty"]
    rows = []
    for inst in insts:
        sym = inst.symbol
        s = spreads.get(sym, [])
        st = spread_stats([a for a, _ in s], [b for _, b in s]) if s else {"mean_bps": math.nan}
        hist = dict(ledger.marks_history(sym))
        cycles = sorted(hist)
        volume = [vol[sym][c][0] if c in vol[sym] else 0 for c in cycles]
        signed = [vol[sym][c][1] if c in vol[sym] else 0 for c in cycles]
        rel = flow_return_relation(signed, volume, [hist[c] for c in cycles]) if cycles else {}
        rows.append({"symbol": sym, "mean_spread_bps": st.get("mean_bps", math.nan),
                     "mean_volume": float(np.mean(volume)) if volume else math.nan,
                     "ofi_same": rel.get("corr_same_cycle", math.nan), "ofi_next": rel.get("corr_next_cycle", math.nan)})
    return rows


def write_report(ledger, out: str | Path, **kwargs) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(ledger, **kwargs), encoding="utf-8")
    return path
