"""The live dashboard's data: what the sidebar's Dashboard element (public/elements/Dashboard.jsx) draws.

Pure over the ledger and the floor's marks, so it is tested without Chainlit. Every amount is formatted
here from integer cents (tidy numbers); chart series are dollars (floats, the display edge) against
integer cycles, thinned to at most `MAX_POINTS` points so a long run costs the browser the same as a
short one. The tape carries both the floor traders' trades and the background traffic, flagged, so the
element can show background traffic as a toggle without asking the server again. A scenario's events
(the ledger's `scenario_event` traces) become markers on the price charts: a vertical line at the event's
cycle, its headline on hover.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chat_ui.numbers import pct, signed_usd, usd

MAX_POINTS = 120
MAX_EVENT_MARKERS = 40  # per price chart: a scenario's events, newest kept
TAPE_ROWS = 15


def thin(points: Sequence[tuple[int, float]], limit: int = MAX_POINTS) -> list[tuple[int, float]]:
    """At most `limit` points, evenly spaced, always keeping the last one."""
    pts = list(points)
    if len(pts) <= limit:
        return pts
    step = len(pts) / (limit - 1)
    out = [pts[int(i * step)] for i in range(limit - 1)]
    return out + [pts[-1]]


def nav_history(basket: Sequence[tuple[str, int]], units: int,
                marks: Mapping[str, Sequence[tuple[int, int]]]) -> list[tuple[int, float]]:
    """An ETF's NAV per share (cents) at each cycle where every component has a mark."""
    by_cycle = [dict(marks.get(sym, ())) for sym, _ in basket]
    if not by_cycle:
        return []
    cycles = sorted(set.intersection(*(set(d) for d in by_cycle)))
    return [(c, sum(q * d[c] for (_, q), d in zip(basket, by_cycle, strict=True)) / units) for c in cycles]


def _series(points: Sequence[tuple[int, float]], scale: float = 100.0, base: float = 0.0) -> list[list[float]]:
    return [[int(c), round((v - base) / scale, 2)] for c, v in thin(points)]


def _sign(cents: float) -> int:
    """+1, -1, or 0 for an amount that shows as $0.00 (drawn neither green nor red)."""
    return 0 if round(cents) == 0 else (1 if cents > 0 else -1)


def leaderboard_rows(board: list[dict]) -> list[dict[str, Any]]:
    return [{"rank": i, "trader": r["account"], "theory": r.get("theory", ""), "value": usd(r["value"]),
             "pnl": signed_usd(r["change"]), "ret": pct(r["return_pct"]), "realized": signed_usd(r["realized_pnl"]),
             "unrealized": signed_usd(r.get("unrealized_pnl", 0)), "fees": usd(r.get("fees", 0)),
             "sign": _sign(r["change"])} for i, r in enumerate(board, 1)]


def position_rows(positions: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    return [{"trader": t, "symbol": p.symbol, "shares": f"{p.qty:,}", "cost": usd(abs(p.cost_basis)),
             "avg": usd(p.avg_cost), "mark": usd(p.mark), "upnl": signed_usd(p.unrealized_pnl),
             "sign": _sign(p.unrealized_pnl or 0)}
            for t, ps in positions.items() for p in ps if p.qty]


def tape_rows(floor_fills: Sequence[dict], background_fills: Sequence[dict], traders: Sequence[str],
              limit: int = TAPE_ROWS) -> list[dict[str, Any]]:
    """The newest floor trades and the newest background trades (each up to `limit`), newest first."""
    names = set(traders)
    seen, rows = set(), []
    for f in [*floor_fills, *background_fills]:
        if f["fill_id"] in seen:
            continue
        seen.add(f["fill_id"])
        rows.append(f)
    rows.sort(key=lambda f: (f["cycle"], f["tick"], f["fill_id"]), reverse=True)
    out, counts = [], {True: 0, False: 0}
    for f in rows:
        floor = f["buyer"] in names or f["seller"] in names
        if counts[floor] >= limit:
            continue
        counts[floor] += 1
        out.append({"id": f["fill_id"], "cycle": f["cycle"], "tick": f["tick"], "symbol": f["symbol"],
                    "qty": f"{f['qty']:,}", "price": usd(f["price"]), "buyer": f["buyer"], "seller": f["seller"],
                    "floor": floor})
    return out


def event_markers(events: Sequence[dict], symbol: str, first_cycle: int | None,
                  limit: int = MAX_EVENT_MARKERS) -> list[dict[str, Any]]:
    """A price chart's scenario-event markers: the events about `symbol` and the market-wide ones (no
    symbol), at cycles the chart shows (from `first_cycle` on), the newest `limit`, oldest first; one
    marker per cycle, its headlines joined (the hover text)."""
    by_cycle: dict[int, list[dict]] = {}
    for e in events:
        if e.get("symbol") in (None, symbol) and first_cycle is not None and e["cycle"] >= first_cycle:
            by_cycle.setdefault(int(e["cycle"]), []).append(e)
    return [{"cycle": c, "kinds": [e["kind"] for e in es], "headline": " · ".join(e["headline"] for e in es)}
            for c, es in sorted(by_cycle.items())[-limit:]]


def build(floor: Any, *, cycle: int, thread: str | None, branch: int | None, status: str) -> dict[str, Any]:
    """The Dashboard element's props at the floor's current (aligned) cycle."""
    ledger = floor.ledger
    marks = floor.marks()
    traders = list(floor.trader_names)
    board = ledger.leaderboard(marks)
    positions = {t: ledger.positions(t, marks) for t in traders}
    cash = [{"trader": t, "cash": usd(ledger.cash(t)), "available": usd(ledger.available_cash(t))} for t in traders]
    marks_hist = {i.symbol: ledger.marks_history(i.symbol) for i in floor.instruments}
    events = [{**t["payload"], "cycle": t["cycle"]} for t in ledger.traces(kind="scenario_event", limit=None)]
    prices = []
    for inst in floor.instruments:
        hist = marks_hist[inst.symbol]
        item = {"symbol": inst.symbol, "last": usd(hist[-1][1]) if hist else "n/a", "series": _series(hist)}
        if events:  # a scenario's events on the chart (a run without one: the props are as before)
            item["events"] = event_markers(events, inst.symbol, hist[0][0] if hist else None)
        if inst.basket:
            nav = nav_history(inst.basket, inst.units, marks_hist)
            item["nav"] = _series(nav)
            if nav and hist:
                item["premium"] = pct((hist[-1][1] - nav[-1][1]) / nav[-1][1] * 100) if nav[-1][1] else "n/a"
        prices.append(item)
    initial = {t.name: t.initial_cash for t in floor.config.traders}
    pnl = [{"name": t, "points": _series(ledger.value_history(t), base=initial.get(t, 0))} for t in traders]
    floor_fills = [f for t in traders for f in ledger.fills(account=t, limit=TAPE_ROWS)]
    tape = tape_rows(floor_fills, ledger.fills(limit=TAPE_ROWS * 2), traders)
    return {"cycle": cycle, "thread": thread or "", "branch": branch, "status": status,
            "leaderboard": leaderboard_rows(board), "positions": position_rows(positions), "cash": cash,
            "prices": prices, "pnl": pnl, "tape": tape}
