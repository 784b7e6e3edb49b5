"""Reservations: cash held for open buy orders, shares held for open sell orders.

A buy reservation holds `remaining * (limit + fee cap per share)`, where the fee cap is the fee on one
share at the limit, rounded up. Being linear in the remaining quantity, a fill of q shares releases
exactly q times that, and a fill at a better price than the limit leaves the difference available.
A sell reservation holds `remaining` shares. Partial releases (cancel of part, expiry) are rows in
`releases`, so truncation can restore the remaining quantity exactly.
"""
from __future__ import annotations

import sqlite3

from ledger.errors import RejectCode, Rejection
from ledger.lineage import state_lineage
from ledger.state import BranchState, Res


def order_known(conn: sqlite3.Connection, st: BranchState, order_id: str) -> bool:
    if order_id in st.res:
        return True
    for b, max_cycle in state_lineage(conn, st):
        row = conn.execute("SELECT cycle FROM reservations WHERE branch_id=? AND order_id=?",
                           (b, order_id)).fetchone()
        if row is not None and row[0] <= max_cycle:
            return True
    return False


def check_reserve(conn: sqlite3.Connection, st: BranchState, *, order_id: str, account: str, side: str,
                  symbol: str, qty: int, limit_price: int) -> Rejection | None:
    if side not in ("buy", "sell"):
        return Rejection(RejectCode.BAD_SIDE, f"side must be 'buy' or 'sell', not {side!r}")
    if not isinstance(qty, int) or qty <= 0:
        return Rejection(RejectCode.NON_POSITIVE_QTY, f"quantity must be a positive whole number, not {qty!r}")
    if not isinstance(limit_price, int) or limit_price <= 0:
        return Rejection(RejectCode.NON_POSITIVE_PRICE, f"limit price must be positive cents, not {limit_price!r}")
    cfg = st.accounts.get(account)
    if cfg is None or cfg.kind == "system":
        return Rejection(RejectCode.UNKNOWN_ACCOUNT, f"unknown account {account!r}")
    if symbol not in st.symbols:
        return Rejection(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    if order_known(conn, st, order_id):
        return Rejection(RejectCode.DUPLICATE_ORDER, f"order id {order_id} already has a reservation")
    if side == "buy":
        need = qty * (limit_price + st.fee_cap_per_share(limit_price))
        avail = st.cash.get(account, 0) - st.rcash.get(account, 0) + cfg.credit_limit
        if need > avail:
            return Rejection(RejectCode.INSUFFICIENT_CASH,
                             f"{account} needs {need} cents for {qty} {symbol} at {limit_price} "
                             f"but has {avail} available")
        return None
    key = (account, symbol)
    avail = st.shares.get(key, 0) - st.rshares.get(key, 0)
    floor = -cfg.short_limit if cfg.allow_short else 0
    if avail - qty < floor:
        if cfg.allow_short:
            return Rejection(RejectCode.SHORT_LIMIT, f"selling {qty} {symbol} would take {account} past its "
                                                     f"short limit of {cfg.short_limit}")
        return Rejection(RejectCode.INSUFFICIENT_SHARES,
                         f"{account} has {avail} {symbol} available, cannot sell {qty}")
    return None


def apply_reserve(conn: sqlite3.Connection, st: BranchState, *, order_id: str, account: str, side: str,
                  symbol: str, qty: int, limit_price: int, cycle: int) -> None:
    conn.execute("INSERT INTO reservations(run_id, branch_id, cycle, order_id, account, side, symbol, qty, "
                 "limit_price, remaining) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (st.run_id, st.branch_id, cycle, order_id, account, side, symbol, qty, limit_price, qty))
    r = st.res[order_id] = Res(order_id, account, side, symbol, qty, limit_price, qty, cycle)
    if side == "buy":
        st.rcash[account] = st.rcash.get(account, 0) + st.res_cash(r)
        st.dirty_cash.add(account)
    else:
        key = (account, symbol)
        st.rshares[key] = st.rshares.get(key, 0) + qty
        st.dirty_shares.add(key)
    st.flush(conn, cycle)


def check_release(st: BranchState, order_id: str, qty: int | None) -> Rejection | None:
    r = st.res.get(order_id)
    if r is None:
        return Rejection(RejectCode.UNKNOWN_ORDER, f"order {order_id} has no open reservation")
    if qty is not None and (qty <= 0 or qty > r.remaining):
        return Rejection(RejectCode.NON_POSITIVE_QTY if qty <= 0 else RejectCode.OVERFILL,
                         f"cannot release {qty} of order {order_id} (remaining {r.remaining})")
    return None


def apply_release(conn: sqlite3.Connection, st: BranchState, order_id: str, qty: int | None, cycle: int) -> int:
    r = st.res[order_id]
    q = r.remaining if qty is None else qty
    conn.execute("INSERT INTO releases(run_id, branch_id, cycle, order_id, qty) VALUES (?,?,?,?,?)",
                 (st.run_id, st.branch_id, cycle, order_id, q))
    if r.side == "buy":
        st.rcash[r.account] -= q * (r.limit_price + st.fee_cap_per_share(r.limit_price))
        st.dirty_cash.add(r.account)
    else:
        key = (r.account, r.symbol)
        st.rshares[key] -= q
        st.dirty_shares.add(key)
    r.remaining -= q
    st.dirty_res.add(order_id)
    if not r.remaining:
        del st.res[order_id]
    st.flush(conn, cycle)
    return q
