"""The in-memory mirror of one branch's current state, and its loading from and flushing to SQLite.

The ledger keeps the active branch's balances, reservations and open FIFO lots in dicts, so the hot
path (`settle`) rarely reads SQLite: of each lot stream only the oldest open lots are kept (at most
`lots.LOT_WINDOW`, the ones consumed next), so the mirror's size does not grow with the run's length.
Every change marks the touched keys dirty; `flush` upserts exactly those rows inside the caller's
transaction. If a transaction fails, the mirror is reloaded from the database, which is the truth.
Another connection's commit is noticed through `PRAGMA data_version` and also triggers a reload, so a
second Ledger on the same file stays correct (single writer at a time).

FIFO lots are stored as contiguous streams per (account, symbol, side): each lot records `start`, the
number of shares opened on that stream before it. A position keeps four counters: shares opened and
consumed on its long stream and on its short stream. The open lots are exactly those whose
[start, start + qty) range lies above the consumed counter, so consuming lots never updates lot rows,
and undoing a fill only moves counters back (see `undo.py`).
"""
from __future__ import annotations

import json
import sqlite3
from collections import deque
from dataclasses import dataclass, field

from ledger import background_fills, fillkeys
from ledger.lots import load_window
from ledger.types import CASH


def fee_for(notional: int, fee_bps: int) -> int:
    """Fee in cents on a notional, rounded up (so per-share reservations always cover it)."""
    return (notional * fee_bps + 9999) // 10000 if fee_bps else 0


@dataclass(slots=True)
class AccountCfg:
    name: str
    theory: str
    kind: str
    cycle: int
    initial_cash: int
    initial_holdings: dict[str, int]
    allow_short: bool
    short_limit: int
    credit_limit: int


@dataclass(slots=True)
class Res:
    order_id: str
    account: str
    side: str  # "buy" | "sell"
    symbol: str
    qty: int
    limit_price: int
    remaining: int
    cycle: int


@dataclass(slots=True)
class Pos:
    cost: int = 0
    realized: int = 0
    fees: int = 0
    lo: int = 0  # long shares opened (cumulative)
    lc: int = 0  # long shares consumed
    so: int = 0  # short shares opened
    sc: int = 0  # short shares consumed
    long: deque = field(default_factory=deque)  # the oldest open long lots: [start, qty, price]
    short: deque = field(default_factory=deque)
    # Stream positions the queues' lots reach: `long` holds exactly the open lots overlapping [lc, lm).
    # lm == lo when it holds all of them; otherwise (more than lots.LOT_WINDOW open lots) the lots in
    # [lm, lo) are only in the `lots` table, and the queue is refilled from it as FIFO consumes it. A
    # queue is never left empty while lots are open (lm == lo == lc then). Likewise `short` and sm.
    lm: int = 0
    sm: int = 0


@dataclass(slots=True)
class BranchState:
    run_id: int
    branch_id: int
    parent_id: int | None
    fork_cycle: int | None
    fee_bps: int  # the fee in force now (ledger/fee_schedule.py): what fills settled now are charged
    opening_fee_bps: int | None = None  # the branch's own `branches.fee_bps` (None: same as fee_bps)
    fee_since: int | None = None  # the cycle of the fee change in force (None: the opening fee)
    symbols: set[str] = field(default_factory=set)
    accounts: dict[str, AccountCfg] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    rcash: dict[str, int] = field(default_factory=dict)
    shares: dict[tuple[str, str], int] = field(default_factory=dict)
    rshares: dict[tuple[str, str], int] = field(default_factory=dict)
    pos: dict[tuple[str, str], Pos] = field(default_factory=dict)
    res: dict[str, Res] = field(default_factory=dict)  # open reservations only
    next_seq: int = 0  # position in `last_fill_cycle` of the next fill (see fillkeys.py)
    last_fill_cycle: int | None = None
    dirty_cash: set[str] = field(default_factory=set)
    dirty_shares: set[tuple[str, str]] = field(default_factory=set)
    dirty_pos: set[tuple[str, str]] = field(default_factory=set)
    dirty_res: set[str] = field(default_factory=set)
    # bg-vs-bg fills written packed (background_fills.py); False: every fill a `fills` row (the old layout)
    pack_background: bool = field(default_factory=background_fills.packed_by_default)
    # the branch's lineage (lineage.py), read once: a branch's parent and fork cycle change only when
    # truncation rebuilds it from its parent, after which the mirror is reloaded (a new BranchState)
    lin: list[tuple[int, int]] | None = None
    # `pos`'s keys by account, each account's sorted by symbol (views.account_keys), with len(pos) when built:
    # positions are only added (a larger len rebuilds it); code that removes one sets this to None
    pos_index: tuple[int, dict[str, list[tuple[str, str]]]] | None = None
    # per history table written once per cycle (snapshots, marks, traces and messages packs): the newest cycle
    # of the branch's rows there as far as this mirror knows, read once (max) and raised by each write
    # (records.rows_may_exist), so a cycle's first write skips the look for rows of that cycle already there
    hist_max: dict[str, int] = field(default_factory=dict)
    # (account, asset) of balances rows and (account, symbol) of positions rows known to be stored (loaded, or
    # flushed since): `flush` UPDATEs those and upserts only the others. A row removed since (truncation) is
    # noticed by the UPDATE's count, and the batch is upserted whole, as before
    stored_bal: set[tuple[str, str]] = field(default_factory=set)
    stored_pos: set[tuple[str, str]] = field(default_factory=set)

    # --- helpers -------------------------------------------------------------------------------
    def fee_cap_per_share(self, limit_price: int) -> int:
        return fee_for(limit_price, self.fee_bps)

    def res_cash(self, r: Res) -> int:
        """Cash a buy reservation holds: linear in remaining shares, so fills release it exactly."""
        return r.remaining * (r.limit_price + self.fee_cap_per_share(r.limit_price))

    def position(self, key: tuple[str, str]) -> Pos:
        p = self.pos.get(key)
        if p is None:
            p = self.pos[key] = Pos()
        return p

    def clear_dirty(self) -> None:
        self.dirty_cash.clear()
        self.dirty_shares.clear()
        self.dirty_pos.clear()
        self.dirty_res.clear()

    # --- persistence ---------------------------------------------------------------------------
    def flush(self, conn: sqlite3.Connection, cycle: int) -> None:
        """Upsert every dirty state row (inside the caller's transaction).

        A state row's `cycle` is the cycle it was created in (never updated), so truncation can delete
        the rows born after the cut, which makes the stored state identical to the state at the cut.

        On SQLite the rows known to be stored (`stored_bal`, `stored_pos`) are UPDATEd (cheaper than an
        upsert) and only the others upserted, in the same sorted order, so new rows are inserted in the order
        the upsert of the whole batch gives them; when the UPDATE finds fewer rows than it was given (one was
        removed since), the whole batch is upserted, as before (the updated ones get the same values again)."""
        r, b = self.run_id, self.branch_id
        update_first = UPDATE_FIRST and isinstance(conn, sqlite3.Connection)
        # sorted: the rows' insertion order must not depend on string hashing (PYTHONHASHSEED)
        cash, rcash, shares, rshares = self.cash, self.rcash, self.shares, self.rshares
        bal = [(cash.get(a, 0), rcash.get(a, 0), b, a, CASH) for a in sorted(self.dirty_cash)]
        bal += [(shares.get(k, 0), rshares.get(k, 0), b, k[0], k[1]) for k in sorted(self.dirty_shares)]
        if bal:
            fresh = _update_known(conn, _UPDATE_BALANCE, bal, self.stored_bal) if update_first else bal
            if fresh:
                conn.executemany(_UPSERT_BALANCE, [(r, b, cycle, a, asset, x, rs) for x, rs, _, a, asset in fresh])
        if self.dirty_pos:
            pos = self.pos
            rows = [(p.cost, p.realized, p.fees, p.lo, p.lc, p.so, p.sc, b, k[0], k[1])
                    for k in sorted(self.dirty_pos) for p in (pos[k],)]
            fresh = _update_known(conn, _UPDATE_POSITION, rows, self.stored_pos) if update_first else rows
            if fresh:
                conn.executemany(_UPSERT_POSITION, [(r, b, cycle, a, sym, *vals) for *vals, _, a, sym in fresh])
        if self.dirty_res:
            rows = []
            for oid in sorted(self.dirty_res):
                x = self.res.get(oid)
                rows.append((x.remaining if x else 0, b, oid))
            conn.executemany("UPDATE reservations SET remaining=? WHERE branch_id=? AND order_id=?", rows)
        self.clear_dirty()


UPDATE_FIRST = True  # `flush` on SQLite: UPDATE, then upsert only a batch with a new row (False: upsert, as before)
_UPSERT_BALANCE = ("INSERT INTO balances(run_id, branch_id, cycle, account, asset, amount, reserved) "
                   "VALUES (?,?,?,?,?,?,?) ON CONFLICT(branch_id, account, asset) DO UPDATE SET "
                   "amount=excluded.amount, reserved=excluded.reserved")
_UPDATE_BALANCE = "UPDATE balances SET amount=?, reserved=? WHERE branch_id=? AND account=? AND asset=?"
_UPSERT_POSITION = (
    "INSERT INTO positions(run_id, branch_id, cycle, account, symbol, cost_basis, realized_pnl, "
    "fees, long_opened, long_consumed, short_opened, short_consumed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(branch_id, account, symbol) DO UPDATE SET "
    "cost_basis=excluded.cost_basis, realized_pnl=excluded.realized_pnl, fees=excluded.fees, "
    "long_opened=excluded.long_opened, long_consumed=excluded.long_consumed, "
    "short_opened=excluded.short_opened, short_consumed=excluded.short_consumed")
_UPDATE_POSITION = ("UPDATE positions SET cost_basis=?, realized_pnl=?, fees=?, long_opened=?, long_consumed=?, "
                    "short_opened=?, short_consumed=? WHERE branch_id=? AND account=? AND symbol=?")


def _update_known(conn: sqlite3.Connection, sql: str, rows: list[tuple], stored: set[tuple[str, str]]) -> list[tuple]:
    """UPDATE the rows (values..., branch, key 1, key 2) whose key is in `stored`; return the rows left to upsert:
    the others, or all of them when a stored one was not found. Afterwards every key is stored."""
    known = [x for x in rows if x[-2:] in stored]
    fresh = rows if len(known) == len(rows) else [x for x in rows if x[-2:] not in stored]
    if known and conn.executemany(sql, known).rowcount != len(known):
        fresh = rows  # a row removed since it was noted: the upsert writes the whole batch, as before
    elif len(known) == len(rows):
        return []
    stored.update(x[-2:] for x in fresh)
    return fresh


def branch_row(conn: sqlite3.Connection, branch_id: int) -> tuple[int, int | None, int | None, int]:
    """(run_id, parent_id, fork_cycle, fee_bps) of a branch. The fee is the branch's own (a fork may charge
    another fee than its parent); NULL, in files made before branches had a fee, means the run's fee."""
    try:
        row = conn.execute("SELECT b.run_id, b.parent_id, b.fork_cycle, coalesce(b.fee_bps, r.fee_bps) "
                           "FROM branches b JOIN runs r ON r.run_id = b.run_id WHERE b.branch_id=?",
                           (branch_id,)).fetchone()
    except sqlite3.OperationalError as exc:  # an older file opened read-only: no branches.fee_bps column
        if "fee_bps" not in str(exc):
            raise
        row = conn.execute("SELECT b.run_id, b.parent_id, b.fork_cycle, r.fee_bps FROM branches b "
                           "JOIN runs r ON r.run_id = b.run_id WHERE b.branch_id=?", (branch_id,)).fetchone()
    run_id, parent_id, fork_cycle, fee_bps = row
    return run_id, parent_id, fork_cycle, fee_bps or 0


def load_state(conn: sqlite3.Connection, branch_id: int) -> BranchState:
    from ledger.fee_schedule import own_change_at

    run_id, parent_id, fork_cycle, fee_bps = branch_row(conn, branch_id)
    st = BranchState(run_id, branch_id, parent_id, fork_cycle, fee_bps or 0, fee_bps or 0)
    change = own_change_at(conn, branch_id)
    if change is not None:
        st.fee_since, st.fee_bps = change
    st.symbols = {s for (s,) in conn.execute("SELECT symbol FROM symbols WHERE run_id=?", (run_id,))}
    for name, theory, kind, cyc, icash, ihold, ash, sl, cl in conn.execute(
            "SELECT name, theory, kind, cycle, initial_cash, initial_holdings, allow_short, short_limit, "
            "credit_limit FROM accounts WHERE branch_id=?", (branch_id,)):
        st.accounts[name] = AccountCfg(name, theory, kind, cyc, icash, json.loads(ihold), bool(ash), sl, cl)
    for acct, asset, amount, reserved in conn.execute(
            "SELECT account, asset, amount, reserved FROM balances WHERE branch_id=?", (branch_id,)):
        if asset == CASH:
            st.cash[acct], st.rcash[acct] = amount, reserved
        else:
            st.shares[(acct, asset)], st.rshares[(acct, asset)] = amount, reserved
        st.stored_bal.add((acct, asset))
    for acct, sym, cost, real, fees, lo, lc, so, sc in conn.execute(
            "SELECT account, symbol, cost_basis, realized_pnl, fees, long_opened, long_consumed, "
            "short_opened, short_consumed FROM positions WHERE branch_id=?", (branch_id,)):
        p = Pos(cost, real, fees, lo, lc, so, sc, lm=lo, sm=so)
        if lo > lc:
            p.long, p.lm = load_window(conn, branch_id, acct, sym, 1, lc, lo)
        if so > sc:
            p.short, p.sm = load_window(conn, branch_id, acct, sym, -1, sc, so)
        st.pos[(acct, sym)] = p
        st.stored_pos.add((acct, sym))
    for oid, acct, side, sym, qty, lim, rem, cyc in conn.execute(
            "SELECT order_id, account, side, symbol, qty, limit_price, remaining, cycle FROM reservations "
            "WHERE branch_id=? AND remaining > 0", (branch_id,)):
        st.res[oid] = Res(oid, acct, side, sym, qty, lim, rem, cyc)
    set_fill_cursor(conn, st, fillkeys.branch(branch_id))
    return st


def set_fill_cursor(conn: sqlite3.Connection, st: BranchState, seq_range: tuple[int, int]) -> None:
    """Point the fill cursor after the last stored fill in `seq_range` (one rowid probe)."""
    (last,) = conn.execute("SELECT max(seq) FROM fills WHERE seq BETWEEN ? AND ?", seq_range).fetchone()
    b, lo, _ = fillkeys.decode(seq_range[0])
    packed = None if seq_range[0] > seq_range[1] else background_fills.last_seq(
        conn, b, lo, fillkeys.decode(seq_range[1])[1])
    if packed is not None and (last is None or packed > last):
        last = packed
    if last is None:
        st.last_fill_cycle, st.next_seq = None, 0
    else:
        _, cycle, i = fillkeys.decode(last)
        st.last_fill_cycle, st.next_seq = cycle, i + 1


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
