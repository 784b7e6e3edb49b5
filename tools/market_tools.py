"""Market read tools as plain functions over an `Exchange`: quote, depth, tape, bars, ETF vs NAV.

One implementation, two front doors: the LangChain tools (`tools.toolset`) and, later, MCP servers call
these. Each returns a JSON-ready dict; an unknown symbol gives `{"error": "..."}`, never an exception.
Prices are dollars (2 decimals) with integer cents beside them where exactness matters. The callers
hold the desk lock around these calls (the exchange is not thread-safe); these functions never lock.

Fundamentals: the only fundamental exposed is the ETF's basket NAV computed from the component mids,
i.e. what any market participant can compute. The background market's hidden fair values are not
shown: that would hand the LLM the simulator's answer key.
"""
from __future__ import annotations

from typing import Any

from market.instruments import InstrumentKind
from tools.formatting import bounded, dollars, error, find_symbol, price

MAX_LEVELS = 20
MAX_TRADES = 30  # the tool loop cuts answers at 4,000 characters; 30 rows stay well under
MAX_BARS = 60


def reference_price(exchange: Any, symbol: str) -> int | float | None:
    """Mid when both sides are quoted, else the last trade, else None (cents)."""
    mid = exchange.mid(symbol)
    return mid if mid is not None else exchange.last_price(symbol)


def marks(exchange: Any) -> dict[str, int]:
    """The floor's one definition of a mark price, per listed symbol: the last trade, else the rounded mid,
    else the instrument's initial price (so a never-traded symbol still values). The ledger's value
    snapshots, the leaderboard and the traders' portfolio tools all value positions with it."""
    out = {}
    for sym, inst in exchange.instruments.items():
        last = exchange.last_price(sym)
        if last is None:
            mid = exchange.mid(sym)
            last = int(round(mid)) if mid is not None else inst.initial_price
        out[sym] = last
    return out


def quote(exchange: Any, symbol: str) -> dict[str, Any]:
    """Best bid/ask with sizes, mid, spread and last trade of one symbol."""
    sym, err = find_symbol(exchange, symbol)
    if err:
        return err
    bid, ask, last = exchange.best_bid(sym), exchange.best_ask(sym), exchange.last_price(sym)
    top = exchange.depth(sym, 1)
    mid = exchange.mid(sym)
    out: dict[str, Any] = {"symbol": sym, **price("bid", bid), "bid_size": top.bids[0][1] if top.bids else 0,
                           **price("ask", ask), "ask_size": top.asks[0][1] if top.asks else 0,
                           "mid": dollars(mid, 3), **price("last", last)}
    if bid is not None and ask is not None:
        out["spread"] = dollars(ask - bid)
        out["spread_bps"] = round(1e4 * (ask - bid) / mid, 1)
    else:
        out["note"] = "one side of the book is empty"
    out["cycle"], out["tick"] = exchange.cycle, exchange.tick
    return out


def _levels(levels: tuple) -> list[dict[str, Any]]:
    return [{"price": dollars(p), "price_cents": p, "qty": q, "orders": n} for p, q, n in levels]


def depth(exchange: Any, symbol: str, levels: int = 5) -> dict[str, Any]:
    """Aggregated book levels, best first (at most MAX_LEVELS per side)."""
    sym, err = find_symbol(exchange, symbol)
    if err:
        return err
    d = exchange.depth(sym, bounded(levels, 1, MAX_LEVELS))
    return {"symbol": sym, "bids": _levels(d.bids), "asks": _levels(d.asks)}


def recent_trades(exchange: Any, symbol: str | None = None, limit: int = 15, *,
                  me: str | None = None) -> dict[str, Any]:
    """The latest trades, oldest first (all symbols when `symbol` is None). The tape is anonymous;
    with `me` given, a trade where that account was a party is marked "you": "bought"/"sold"."""
    sym = None
    if symbol is not None:
        sym, err = find_symbol(exchange, symbol)
        if err:
            return err
    rows = []
    for t in exchange.trades(sym, bounded(limit, 1, MAX_TRADES)):
        row = {"cycle": t.cycle, "tick": t.tick, "symbol": t.symbol, "price": dollars(t.price),
               "price_cents": t.price, "qty": t.qty, "aggressor": str(t.aggressor.value)}
        if me is not None and me in (t.buyer, t.seller):
            row["you"] = "bought" if t.buyer == me else "sold"
        rows.append(row)
    return {"symbol": sym or "ALL", "count": len(rows), "trades": rows}


def price_history(exchange: Any, symbol: str, cycles: int = 20) -> dict[str, Any]:
    """OHLCV bars of the last `cycles` completed cycles (compact rows, dollars) plus the current bar."""
    sym, err = find_symbol(exchange, symbol)
    if err:
        return err
    n = bounded(cycles, 1, MAX_BARS)
    bars = exchange.bars(sym)[-n:]
    rows = [[b.cycle, dollars(b.open), dollars(b.high), dollars(b.low), dollars(b.close), b.volume] for b in bars]
    out: dict[str, Any] = {"symbol": sym, "columns": ["cycle", "open", "high", "low", "close", "volume"],
                           "bars": rows}
    cur = exchange.current_bar(sym)
    if cur is not None:
        out["current_cycle_so_far"] = [cur.cycle, dollars(cur.open), dollars(cur.high), dollars(cur.low),
                                       dollars(cur.close), cur.volume]
    if len(bars) >= 2 and bars[0].close:
        out["change_pct"] = round(100.0 * (bars[-1].close - bars[0].close) / bars[0].close, 3)
    if not bars:
        out["note"] = "no completed cycle has traded in this symbol yet"
    return out


def etf_nav(exchange: Any) -> dict[str, Any]:
    """Each ETF's price against the NAV of its basket at component mids (last trade when a side is
    empty), with the premium and the edges an arbitrageur could take at the touch."""
    etfs = []
    for sym, inst in sorted(exchange.instruments.items()):
        if inst.kind is not InstrumentKind.ETF:
            continue
        comps, prices, missing = [], {}, []
        for comp, shares in inst.basket:
            ref = reference_price(exchange, comp) if comp in exchange.instruments else None
            if ref is None:
                missing.append(comp)
            else:
                prices[comp] = ref
            comps.append({"symbol": comp, "shares_per_unit": shares, "price": dollars(ref, 3)})
        row: dict[str, Any] = {"symbol": sym, "units": inst.units, "components": comps}
        bid, ask = exchange.best_bid(sym), exchange.best_ask(sym)
        etf_ref = reference_price(exchange, sym)
        row.update({**price("bid", bid), **price("ask", ask), "price": dollars(etf_ref, 3)})
        if missing:
            row["nav"] = None
            row["note"] = f"no price for {', '.join(missing)}, so the NAV is unknown"
        else:
            nav = inst.nav(prices)
            row["nav"] = dollars(nav, 3)
            if etf_ref is not None:
                row["premium"] = dollars(etf_ref - nav, 3)
                row["premium_bps"] = round(1e4 * (etf_ref - nav) / nav, 1)
            if ask is not None:
                row["buy_etf_edge"] = dollars(nav - ask, 3)  # > 0: the ETF's ask is below NAV
            if bid is not None:
                row["sell_etf_edge"] = dollars(bid - nav, 3)  # > 0: the ETF's bid is above NAV
        etfs.append(row)
    if not etfs:
        return error("no ETF is listed on this exchange")
    return {"etfs": etfs}


def instruments(exchange: Any) -> dict[str, Any]:
    """The listed symbols with their tick and lot sizes (and an ETF's basket)."""
    rows = []
    for sym, inst in sorted(exchange.instruments.items()):
        row: dict[str, Any] = {"symbol": sym, "name": inst.name, "kind": str(inst.kind.value),
                               "tick_size": dollars(inst.tick_size), "lot_size": inst.lot_size}
        if inst.kind is InstrumentKind.ETF:
            row["basket"] = {s: q for s, q in inst.basket}
            row["units"] = inst.units
        rows.append(row)
    return {"instruments": rows}
