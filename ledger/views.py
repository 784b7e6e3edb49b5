"""Read-side views computed from a branch's in-memory state: accounts, positions, PnL, endowment,
leaderboard, and a canonical dump used to compare states exactly (tests, rollback checks).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ledger.lots import read_lots
from ledger.state import BranchState
from ledger.types import AccountView, PositionView


def account_view(st: BranchState, name: str) -> AccountView:
    c = st.accounts[name]
    holdings = {s: q for (a, s), q in sorted(st.shares.items()) if a == name and q}
    return AccountView(name, c.theory, c.kind, st.cash.get(name, 0), st.rcash.get(name, 0), holdings)


def account_keys(st: BranchState, name: str) -> list[tuple[str, str]] | tuple[()]:
    """The account's (account, symbol) position keys, sorted by symbol: from an index of `st.pos` by account,
    built again only when positions were added (len grew) or removed (the remover drops it)."""
    idx = st.pos_index
    if idx is None or idx[0] != len(st.pos):
        by: dict[str, list[tuple[str, str]]] = {}
        for key in sorted(st.pos):
            lst = by.get(key[0])
            if lst is None:
                by[key[0]] = [key]
            else:
                lst.append(key)
        idx = st.pos_index = (len(st.pos), by)
    return idx[1].get(name, ())


def position_views(st: BranchState, name: str, marks: Mapping[str, int] | None) -> list[PositionView]:
    out = []
    # this account's positions by symbol (the order of sorting every account's (account, symbol) keys): the
    # floor's traders ask once each per cycle, so the keys come from an index by account, not a scan and sort
    pos, shares, rshares = st.pos, st.shares, st.rshares
    for key in account_keys(st, name):
        p = pos[key]
        q = shares.get(key, 0)
        if not q and not p.realized and not p.fees:
            continue
        sym = key[1]
        mark = None if marks is None else marks.get(sym)
        mv = None if mark is None else q * mark
        cost = p.cost
        out.append(PositionView(  # positional, in field order: account, symbol, qty, reserved, cost_basis, avg_cost,
            name, sym, q, rshares.get(key, 0), cost,  # realized_pnl, fees, mark, market_value, unrealized_pnl
            abs(cost) / abs(q) if q else None, p.realized, p.fees, mark, mv, None if mv is None else mv - cost))
    return out


def open_positions(st: BranchState, name: str) -> list[tuple[str, int, float]]:
    """(symbol, qty, |cost| / |qty|) of each position with shares, by symbol (`position_views`' avg_cost)."""
    out = []
    pos, shares = st.pos, st.shares
    for key in account_keys(st, name):
        q = shares.get(key, 0)
        if q:
            out.append((key[1], q, abs(pos[key].cost) / abs(q)))
    return out


def unrealized(st: BranchState, name: str, marks: Mapping[str, int]) -> int:
    total = 0
    for (a, sym), p in st.pos.items():
        if a == name:
            q = st.shares.get((a, sym), 0)
            if q:
                total += q * marks[sym] - p.cost
    return total


def value_of(cash: int, holdings: Mapping[str, int], marks: Mapping[str, int]) -> int:
    return cash + sum(q * marks[s] for s, q in holdings.items() if q)


def endowment(st: BranchState, name: str, marks: Mapping[str, int]) -> dict[str, Any]:
    """Initial state (seed 001's Endowment) against the current one, both valued at `marks`."""
    c = st.accounts[name]
    now = account_view(st, name)
    initial_value = value_of(c.initial_cash, c.initial_holdings, marks)
    current_value = value_of(now.cash, now.holdings, marks)
    return {
        "account": name, "theory": c.theory,
        "initial_cash": c.initial_cash, "initial_holdings": dict(c.initial_holdings),
        "initial_value": initial_value,
        "current_cash": now.cash, "current_holdings": now.holdings, "current_value": current_value,
        "change": current_value - initial_value,
        "return_pct": 100.0 * (current_value - initial_value) / initial_value if initial_value else 0.0,
    }


def leaderboard(st: BranchState, marks: Mapping[str, int], kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Accounts ranked by return against their own endowment valued at the same marks.

    Endowments differ (seed 001 draws them from a range), so ranking uses the return, not the amount;
    comparing with the endowment at today's marks makes it "better than holding what you were given".
    """
    rows = []
    for name, c in st.accounts.items():
        if c.kind not in kinds:
            continue
        e = endowment(st, name, marks)
        realized = sum(p.realized for (a, _), p in st.pos.items() if a == name)
        fees = sum(p.fees for (a, _), p in st.pos.items() if a == name)
        rows.append({"account": name, "theory": c.theory, "kind": c.kind, "value": e["current_value"],
                     "change": e["change"], "return_pct": e["return_pct"], "realized_pnl": realized,
                     "unrealized_pnl": unrealized(st, name, marks), "fees": fees})
    rows.sort(key=lambda r: (-r["return_pct"], -r["change"], r["account"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows


def dump_state(conn: sqlite3.Connection, branch_id: int) -> dict[str, Any]:
    """The branch's state as stored (not the mirror), canonical and comparable with ==.

    Lots are reduced to the open part (remaining quantity), so two branches with the same positions
    and queues compare equal regardless of bookkeeping history.
    """
    q = conn.execute
    bal = {(a, s): (x, r) for a, s, x, r in q(
        "SELECT account, asset, amount, reserved FROM balances WHERE branch_id=?", (branch_id,)) if x or r}
    pos, lots = {}, {}
    for a, s, cost, real, fees, lo, lc, so, sc in q(
            "SELECT account, symbol, cost_basis, realized_pnl, fees, long_opened, long_consumed, short_opened, "
            "short_consumed FROM positions WHERE branch_id=?", (branch_id,)):
        if cost or real or fees or lo > lc or so > sc:
            pos[(a, s)] = (cost, real, fees, lo - lc, so - sc)
        for side, consumed, opened in ((1, lc, lo), (-1, sc, so)):
            open_lots = []
            for start, qty, price, _, _ in read_lots(conn, branch_id, a, s, side, consumed, opened):
                open_lots.append((min(qty, start + qty - consumed), price))
            if open_lots:
                lots[(a, s, side)] = open_lots
    res = {oid: (a, side, s, lim, rem) for oid, a, side, s, lim, rem in q(
        "SELECT order_id, account, side, symbol, limit_price, remaining FROM reservations "
        "WHERE branch_id=? AND remaining>0", (branch_id,))}
    accts = sorted(n for (n,) in q("SELECT name FROM accounts WHERE branch_id=?", (branch_id,)))
    return {"accounts": accts, "balances": bal, "positions": pos, "lots": lots, "reservations": res}
