"""A scenario's events on the report's price charts: a dotted line per event cycle, a marker carrying the
headline on hover, and a table under the chart. Nothing is added for a run without a scenario.

Read from the ledger's `scenario_event` traces (graphs/nodes/market_tick.py), active branch. Headlines are
text from a scenario file: escaped for the hover label and the table, never rendered as markup.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

EVENTS_TRACE = "scenario events"


def scenario_events(ledger) -> list[dict]:
    """The run's scenario events, oldest first: cycle, tick, kind, symbol, headline, source."""
    rows = [{**t["payload"], "cycle": t["cycle"]} for t in ledger.traces(kind="scenario_event", limit=None)]
    return sorted(rows, key=lambda e: (e["cycle"], e.get("tick", 0)))


def mark_events(fig: go.Figure, events: list[dict], marks: dict[str, list[tuple[int, int]]]) -> None:
    """Add the events to a price chart (x: cycle, y: dollars). A marker sits on its symbol's mark at the
    event's cycle; a market-wide event's marker sits on the highest mark of that cycle."""
    if not events:
        return
    at = {sym: dict(hist) for sym, hist in marks.items()}
    xs, ys, texts = [], [], []
    for c in sorted({e["cycle"] for e in events}):
        fig.add_vline(x=c, line=dict(color="#999", dash="dot", width=1))
    for e in events:
        c, sym = e["cycle"], e.get("symbol")
        prices = [at[sym][c]] if sym in at and c in at[sym] else [h[c] for h in at.values() if c in h]
        if not prices:
            continue
        xs.append(c)
        ys.append(max(prices) / 100)
        texts.append(html.escape(f"cycle {c}: {e['headline']}" + (f" (source: {e['source']})" if e.get("source") else "")))
    fig.add_trace(go.Scatter(x=xs, y=ys, name=EVENTS_TRACE, mode="markers", hovertext=texts, hoverinfo="text",
                             marker=dict(symbol="triangle-down", size=11, color="#d62728")))


def events_table(events: list[dict]) -> str:
    """The events as an HTML table (escaped); empty without events."""
    if not events:
        return ""
    rows = "".join(
        f"<tr><td>{e['cycle']}</td><td>{html.escape(e['kind'])}</td><td>{html.escape(e.get('symbol') or 'market')}"
        f"</td><td style='text-align:left'>{html.escape(e['headline'])}</td>"
        f"<td>{html.escape(e.get('source') or '')}</td></tr>" for e in events)
    return ("<p>Scenario events (dotted lines and red markers on the chart):</p><table><thead><tr><th>cycle</th>"
            f"<th>event</th><th>symbol</th><th>headline</th><th>source</th></tr></thead><tbody>{rows}</tbody></table>")
