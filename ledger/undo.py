"""Exact undo of a branch's own rows after a cycle, applied to an in-memory `BranchState`.

Used by `truncate_after` (then flushed onto the same branch, and the undone rows deleted) and by
`fork` (applied to a copy of the source's state, then written as the new branch's state, leaving the
source untouched). The work is proportional to the rows undone plus the state they touch:
* fills: reverse both cash legs, fees, shares, and each side's FIFO deltas (counters, realized PnL,
  cost basis, fees); give their quantity back to the orders' reservations;
* releases: give their quantity back to the reservations;
* transfers: reverse them (share deposits also pull their lot back);
* reservations created after the cycle, and accounts opened after it, disappear;
* fee changes after the cycle: the fee in force at the cycle comes back, and reserved cash is re-held at it;
* the open-lot queues of the touched (account, symbol) pairs are reread from `lots`, bounded by the
  restored counters (lots opened after the cycle lie above `opened` and are ignored or deleted).
"""
from __future__ import annotations

import sqlite3
from collections import defaultdict, deque
from dataclasses import dataclass, field

from ledger import background_fills, fillkeys, lots
from ledger.fee_schedule import own_change_at, rehold_cash
from ledger.lots import load_window, read_lots
from ledger.state import BranchState, Res, set_fill_cursor
from ledger.types import CASH, FEES


@dataclass
class UndoReport:
    touched_positions: set[tuple[str, str]] = field(default_factory=set)
    dropped_accounts: set[str] = field(default_factory=set)
    dropped_orders: set[str] = field(default_factory=set)
    rows: int = 0


def undo_after(conn: sqlite3.Connection, st: BranchState, k: int, lots_branch: int | None = None) -> UndoReport:
    """Reverse every row of `st.branch_id` with cycle > k in the mirror `st`, marking rows dirty.

    `lots_branch` is the branch whose `lots` rows rebuild the queues (default: st.branch_id).
    """
    b = st.branch_id
    rep = UndoReport()
    cash, shares = st.cash, st.shares
    give_back: dict[str, int] = defaultdict(int)
    touched_cash: set[str] = set()
    touched_shares: set[tuple[str, str]] = set()
    # both layouts: `fills` rows and packed bg-vs-bg fills (background_fills.py)
    for (*_, sym, p, q, buyer, seller, bo, so, bf, sf, cover, close, rb, rs, cb, cs) in background_fills.rows(
            conn, b, k + 1, fillkeys.MAX_CYCLE):
        rep.rows += 1
        n = p * q
        cash[buyer] += n + bf
        cash[seller] -= n - sf
        cash[FEES] = cash.get(FEES, 0) - bf - sf
        touched_cash.update((buyer, seller, FEES))
        bk, sk = (buyer, sym), (seller, sym)
        shares[bk] -= q
        shares[sk] += q
        pb, ps = st.position(bk), st.position(sk)
        pb.sc -= cover
        pb.lo -= q - cover
        pb.realized -= rb
        pb.cost -= cb
        pb.fees -= bf
        ps.lc -= close
        ps.so -= q - close
        ps.realized -= rs
        ps.cost -= cs
        ps.fees -= sf
        rep.touched_positions.update((bk, sk))
        if bo:
            give_back[bo] += q
        if so:
            give_back[so] += q
    for oid, q in conn.execute("SELECT order_id, qty FROM releases WHERE branch_id=? AND cycle>?", (b, k)):
        rep.rows += 1
        give_back[oid] += q
    for debit, credit, asset, amount, price in conn.execute(
            "SELECT debit_account, credit_account, asset, amount, price FROM transfers "
            "WHERE branch_id=? AND cycle>?", (b, k)):
        rep.rows += 1
        if asset == CASH:
            cash[debit] = cash.get(debit, 0) + amount
            cash[credit] = cash.get(credit, 0) - amount
            touched_cash.update((debit, credit))
        else:
            shares[(debit, asset)] += amount
            shares[(credit, asset)] -= amount
            touched_shares.update(((debit, asset), (credit, asset)))
            p = st.position((credit, asset))
            p.lo -= amount
            p.cost -= amount * price
            rep.touched_positions.add((credit, asset))
    st.dirty_cash.update(touched_cash)
    st.dirty_shares.update(rep.touched_positions)
    st.dirty_shares.update(touched_shares)
    st.dirty_pos.update(rep.touched_positions)
    _undo_reservations(conn, st, k, give_back, rep)
    for (name,) in conn.execute("SELECT name FROM accounts WHERE branch_id=? AND cycle>?", (b, k)):
        rep.dropped_accounts.add(name)
    _drop_accounts(st, rep.dropped_accounts)
    _fee_back(conn, st, k)
    src = st.branch_id if lots_branch is None else lots_branch
    for key in rep.touched_positions:
        p = st.pos.get(key)
        if p is None:
            continue
        p.lm = _restore_queue(conn, src, key, 1, p.long, p.lc, p.lm, p.lo)
        p.sm = _restore_queue(conn, src, key, -1, p.short, p.sc, p.sm, p.so)
    refresh_fill_cursor(conn, st, k)
    return rep


def _restore_queue(conn: sqlite3.Connection, src: int, key: tuple[str, str], side: int, dq: deque,
                   consumed: int, end: int, opened: int) -> int:
    """Bring an open-lot queue back to restored counters, reading only the lots that changed; returns the
    stream position its lots reach (state.Pos: `lm`/`sm`, which was `end`).

    Lots opened after the cycle sit at the tail (start >= opened): drop them. Lots consumed after it
    sit just before the current head: read back those overlapping [consumed, head). The queue then
    keeps its oldest `lots.LOT_WINDOW` lots (the newer ones are still stored)."""
    while dq and dq[-1][0] >= opened:
        dq.pop()
    end = min(end, opened)
    head = dq[0][0] if dq else end
    if consumed < head:
        older = read_lots(conn, src, key[0], key[1], side, consumed, head)
        dq.extendleft([s, q, p] for s, q, p, _, _ in reversed(older))
    if len(dq) > lots.LOT_WINDOW:
        while len(dq) > lots.LOT_WINDOW:
            dq.pop()
        end = dq[-1][0] + dq[-1][1]
    elif not dq and consumed < opened:  # everything it held was undone: the lots from `consumed` on
        _, end = load_window(conn, src, key[0], key[1], side, consumed, opened, dq)
    return end if dq else opened


def _fee_back(conn: sqlite3.Connection, st: BranchState, k: int) -> None:
    """The fee in force at cycle k (a change after k is undone): reserved cash re-held at it."""
    change = own_change_at(conn, st.branch_id, k)
    fee = (st.fee_bps if st.opening_fee_bps is None else st.opening_fee_bps) if change is None else change[1]
    st.fee_since = None if change is None else change[0]
    if fee != st.fee_bps:
        rehold_cash(st, fee)


def refresh_fill_cursor(conn: sqlite3.Connection, st: BranchState, k: int) -> None:
    """Reset the next fill sequence number to follow the branch's last stored fill (exact replays)."""
    set_fill_cursor(conn, st, fillkeys.upto(st.branch_id, k))


def _undo_reservations(conn: sqlite3.Connection, st: BranchState, k: int, give_back: dict[str, int],
                       rep: UndoReport) -> None:
    b = st.branch_id
    dropped = {oid for (oid,) in conn.execute(
        "SELECT order_id FROM reservations WHERE branch_id=? AND cycle>?", (b, k))}
    rep.dropped_orders = dropped
    affected: set[str] = set()
    for oid in dropped:
        r = st.res.pop(oid, None)
        if r is not None:
            affected.add(r.account)
            st.dirty_shares.add((r.account, r.symbol))
    missing = [oid for oid in give_back if oid not in dropped and oid not in st.res]
    for i in range(0, len(missing), 500):
        chunk = missing[i:i + 500]
        for row in conn.execute(
                "SELECT order_id, account, side, symbol, qty, limit_price, remaining, cycle FROM reservations "
                f"WHERE branch_id=? AND order_id IN ({','.join('?' * len(chunk))})", (b, *chunk)):
            st.res[row[0]] = Res(*row)
    for oid, q in give_back.items():
        if oid in dropped:
            continue
        r = st.res.get(oid)
        if r is None:
            continue  # a fill of an order that never had a reservation
        r.remaining += q
        st.dirty_res.add(oid)
        affected.add(r.account)
        st.dirty_shares.add((r.account, r.symbol))
    if not affected:
        return
    rcash = dict.fromkeys(affected, 0)
    rshares: dict[tuple[str, str], int] = {}
    for r in st.res.values():
        if r.account in affected:
            if r.side == "buy":
                rcash[r.account] += st.res_cash(r)
            else:
                rshares[(r.account, r.symbol)] = rshares.get((r.account, r.symbol), 0) + r.remaining
    for a in affected:
        st.rcash[a] = rcash[a]
        st.dirty_cash.add(a)
    for key in list(st.rshares):
        if key[0] in affected:
            st.rshares[key] = rshares.get(key, 0)
            st.dirty_shares.add(key)


def _drop_accounts(st: BranchState, names: set[str]) -> None:
    if not names:
        return
    for n in names:
        st.accounts.pop(n, None)
        st.cash.pop(n, None)
        st.rcash.pop(n, None)
        st.dirty_cash.discard(n)
    for key in [k for k in st.shares if k[0] in names]:
        st.shares.pop(key, None)
        st.rshares.pop(key, None)
        st.dirty_shares.discard(key)
    for key in [k for k in st.pos if k[0] in names]:
        st.pos.pop(key)
        st.dirty_pos.discard(key)
    st.pos_index = None
