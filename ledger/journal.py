"""Explicit transfers: account opening, cash deposits/withdrawals/transfers, share deposits.

Each transfer debits one account and credits another by the same amount of one asset ("$" for cash
or a symbol for shares). `@external` is the outside world (it goes negative by what the floor was
given); `@fees` collects fees. Transfer ids make retries idempotent: the same id with the same
content is a no-op, the same id with other content is rejected. Trade legs are not stored here but in
`fills` (see the `journal` view, which unions both).

Shares only enter from `@external` (endowments and share deposits), each with a cost price that
opens a FIFO lot. Share transfers between floor accounts happen only through fills.
"""
from __future__ import annotations

import sqlite3

from ledger import lots
from ledger.errors import RejectCode, Rejection
from ledger.lineage import lineage
from ledger.lots import CHUNK_INSERT, chunk_row
from ledger.state import BranchState
from ledger.types import CASH, EXTERNAL

INSERT = ("INSERT INTO transfers(run_id, branch_id, cycle, transfer_id, debit_account, credit_account, "
          "asset, amount, price, kind) VALUES (?,?,?,?,?,?,?,?,?,?)")


def find_transfer(conn: sqlite3.Connection, branch_id: int, transfer_id: str) -> tuple | None:
    for b, max_cycle in lineage(conn, branch_id):
        row = conn.execute("SELECT cycle, debit_account, credit_account, asset, amount, price, kind "
                           "FROM transfers WHERE branch_id=? AND transfer_id=?", (b, transfer_id)).fetchone()
        if row is not None and row[0] <= max_cycle:
            return tuple(row)
    return None


def check_transfer(conn: sqlite3.Connection, st: BranchState, *, transfer_id: str, debit: str, credit: str,
                   asset: str, amount: int, cycle: int, kind: str, price: int | None
                   ) -> Rejection | bool:
    """Validate; returns a Rejection, True for an exact retry (no-op), or False (new, may be applied)."""
    old = find_transfer(conn, st.branch_id, transfer_id)
    if old is not None:
        if old == (cycle, debit, credit, asset, amount, price, kind):
            return True
        return Rejection(RejectCode.DUPLICATE_ID_CONFLICT,
                         f"transfer id {transfer_id} already exists with different content")
    if amount <= 0:
        return Rejection(RejectCode.NON_POSITIVE_AMOUNT, f"transfer {transfer_id} moves {amount}, not > 0")
    for who in (debit, credit):
        if who not in st.accounts:
            return Rejection(RejectCode.UNKNOWN_ACCOUNT, f"unknown account {who!r}")
    if debit == credit:
        return Rejection(RejectCode.SELF_TRADE, f"transfer {transfer_id} moves from {debit!r} to itself")
    if asset == CASH:
        cfg = st.accounts[debit]
        if cfg.kind != "system":
            avail = st.cash.get(debit, 0) - st.rcash.get(debit, 0) + cfg.credit_limit
            if amount > avail:
                return Rejection(RejectCode.INSUFFICIENT_CASH,
                                 f"{debit} has {avail} cents available, {amount} requested")
        return False
    if asset not in st.symbols:
        return Rejection(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {asset!r}")
    if debit != EXTERNAL:
        return Rejection(RejectCode.INSUFFICIENT_SHARES,
                         "shares move between floor accounts only through fills; deposits come from @external")
    if price is None or price < 0:
        return Rejection(RejectCode.NON_POSITIVE_PRICE, f"share deposit {transfer_id} needs a cost price >= 0")
    p = st.pos.get((credit, asset))
    if p is not None and p.so > p.sc:
        return Rejection(RejectCode.SHORT_LIMIT, f"{credit} is short {asset}; cover through the market first")
    return False


def apply_transfer(conn: sqlite3.Connection, st: BranchState, *, transfer_id: str, debit: str, credit: str,
                   asset: str, amount: int, cycle: int, kind: str, price: int | None) -> None:
    """Write a validated transfer and its effect on balances (and a lot for share deposits)."""
    conn.execute(INSERT, (st.run_id, st.branch_id, cycle, transfer_id, debit, credit, asset, amount, price, kind))
    if asset == CASH:
        st.cash[debit] = st.cash.get(debit, 0) - amount
        st.cash[credit] = st.cash.get(credit, 0) + amount
        st.dirty_cash.update((debit, credit))
    else:
        for who, delta in ((debit, -amount), (credit, amount)):
            key = (who, asset)
            st.shares[key] = st.shares.get(key, 0) + delta
            st.dirty_shares.add(key)
        key = (credit, asset)
        pos = st.position(key)
        conn.execute(CHUNK_INSERT, chunk_row(st.run_id, st.branch_id, credit, asset, 1, pos.lo, cycle,
                                             [amount], [price], [transfer_id]))
        if pos.lm == pos.lo and len(pos.long) < lots.LOT_WINDOW:  # a complete queue, not full (state.Pos)
            pos.long.append([pos.lo, amount, price])
            pos.lm = pos.lo + amount
        pos.lo += amount
        pos.cost += amount * price
        st.dirty_pos.add(key)
    st.flush(conn, cycle)
