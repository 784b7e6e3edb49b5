"""Runs and branches: start, truncate_after (rollback) and fork.

Choices:
* `truncate_after(k)` undoes the branch's own rows with cycle > k (see `undo.py`), upserts only the
  state rows they touched, and deletes those rows through (branch_id, cycle) indexes: O(rows removed
  + state touched). If k is below the branch's fork point, the branch is rebuilt from its parent at
  k (as a fork would be) and its fork point moves down to k.
* `fork(at_cycle)` copies state, not history: the source's current state is loaded, the source's rows
  after `at_cycle` are undone in memory, and the result (accounts, balances, positions, open lots,
  open reservations) is written under the new branch id: O(accounts x symbols + open lots + rows
  after at_cycle). History rows (fills, transfers, orders, traces, messages, snapshots) are not
  copied; the new branch reads its parent's rows with cycle <= at_cycle through its lineage.
  The source branch is only read.
* Fees are per branch and cycle (`branches.fee_bps` is a branch's opening fee, `fee_changes` its changes:
  ledger/fee_schedule.py): a fork inherits the fee in force on the branch it forks at its fork cycle unless
  given another, so a what-if fork may charge other fees while its parent keeps its own. The opening fee
  can change only while the branch has settled nothing of its own (`set_fee`); later, a change is a
  `fee_changes` row at its cycle (`Ledger.change_fee`), which a rollback across it undoes. When a fork's fee differs from the state it copies, the cash held
  for open buy orders is re-held at the new fee (`rehold_cash`): reservations stay linear in their
  remaining quantity, so fills and releases on the fork give back exactly what the fork holds.
"""
from __future__ import annotations

import json
import sqlite3

from ledger import background_fills, fillkeys
from ledger.dialect import dialect_of
from ledger.errors import LedgerError, RejectCode
from ledger.fee_schedule import fee_in_force, insert_change, rehold_cash
from ledger.lots import copy_stream, delete_from
from ledger.schema import HISTORY_TABLES
from ledger.state import BranchState, branch_row, fee_for, load_state
from ledger.types import CASH
from ledger.undo import undo_after


def new_branch(conn: sqlite3.Connection, run_id: int, parent_id: int | None, fork_cycle: int | None,
               name: str | None, fee_bps: int | None = None) -> int:
    """A branch row. `fee_bps` None: the parent's fee (a root branch: the run's)."""
    if fee_bps is None:
        fee_bps = branch_fee(conn, parent_id) if parent_id is not None else conn.execute(
            "SELECT coalesce(fee_bps, 0) FROM runs WHERE run_id=?", (run_id,)).fetchone()[0]
    return dialect_of(conn).insert_id(
        conn, "INSERT INTO branches(run_id, parent_id, fork_cycle, cycle, name, fee_bps) VALUES (?,?,?,?,?,?)",
        (run_id, parent_id, fork_cycle, fork_cycle or 0, name, fee_bps), "branch_id")


def branch_fee(conn: sqlite3.Connection, branch_id: int) -> int:
    """The fee (basis points per side) a branch charges."""
    return branch_row(conn, branch_id)[3]


def unaffordable_at(st: BranchState, fee_bps: int) -> tuple[str, int, int] | None:
    """The first account (by name) whose open buy orders would hold more cash at `fee_bps` than it may
    spend (its cash plus its credit limit): (account, cents needed, cents it may spend), else None."""
    need: dict[str, int] = {}
    for r in st.res.values():
        if r.side == "buy":
            need[r.account] = need.get(r.account, 0) + r.remaining * (r.limit_price + fee_for(r.limit_price, fee_bps))
    for acct in sorted(need):
        has = st.cash.get(acct, 0) + st.accounts[acct].credit_limit
        if need[acct] > has:
            return acct, need[acct], has
    return None


def set_fee(conn: sqlite3.Connection, st: BranchState, fee_bps: int) -> None:
    """Store the active branch's new fee and re-hold its reserved cash at it (inside the caller's
    transaction; the caller checked that the branch has settled nothing of its own)."""
    conn.execute("UPDATE branches SET fee_bps=? WHERE branch_id=?", (fee_bps, st.branch_id))
    conn.execute("DELETE FROM fee_changes WHERE branch_id=?", (st.branch_id,))  # at most a fork's inherited one
    rehold_cash(st, fee_bps)
    st.opening_fee_bps, st.fee_since = fee_bps, None
    st.flush(conn, st.fork_cycle or 0)


def state_at(conn: sqlite3.Connection, branch_id: int, cycle: int) -> tuple[BranchState, int]:
    """The state of a branch at the end of `cycle`, in memory: (state, branch it was derived from).

    If `cycle` is below the branch's fork point, the answer comes from its parent (recursively).
    """
    parent, fork_cycle = conn.execute("SELECT parent_id, fork_cycle FROM branches WHERE branch_id=?",
                                      (branch_id,)).fetchone()
    if parent is not None and cycle < fork_cycle:
        return state_at(conn, parent, cycle)
    st = load_state(conn, branch_id)
    undo_after(conn, st, cycle)
    st.clear_dirty()
    return st, branch_id


def write_full_state(conn: sqlite3.Connection, st: BranchState, source_branch: int, target: int,
                     cycle: int) -> None:
    """Write the whole in-memory state `st` (derived from `source_branch`) as branch `target`'s state."""
    r = st.run_id
    conn.executemany(
        "INSERT INTO accounts(run_id, branch_id, cycle, name, theory, kind, initial_cash, initial_holdings, "
        "allow_short, short_limit, credit_limit) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(r, target, a.cycle, a.name, a.theory, a.kind, a.initial_cash, json.dumps(a.initial_holdings),
          int(a.allow_short), a.short_limit, a.credit_limit) for a in st.accounts.values()])
    rows = [(r, target, cycle, a, CASH, v, st.rcash.get(a, 0)) for a, v in st.cash.items()]
    rows += [(r, target, cycle, k[0], k[1], v, st.rshares.get(k, 0)) for k, v in st.shares.items()]
    conn.executemany("INSERT INTO balances(run_id, branch_id, cycle, account, asset, amount, reserved) "
                     "VALUES (?,?,?,?,?,?,?)", rows)
    conn.executemany(
        "INSERT INTO positions(run_id, branch_id, cycle, account, symbol, cost_basis, realized_pnl, fees, "
        "long_opened, long_consumed, short_opened, short_consumed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [(r, target, cycle, k[0], k[1], p.cost, p.realized, p.fees, p.lo, p.lc, p.so, p.sc)
         for k, p in st.pos.items()])
    for (acct, sym), p in st.pos.items():
        if p.lo > p.lc:
            copy_stream(conn, source_branch, target, acct, sym, 1, p.lc, p.lo)
        if p.so > p.sc:
            copy_stream(conn, source_branch, target, acct, sym, -1, p.sc, p.so)
    conn.executemany(
        "INSERT INTO reservations(run_id, branch_id, cycle, order_id, account, side, symbol, qty, limit_price, "
        "remaining) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(r, target, x.cycle, x.order_id, x.account, x.side, x.symbol, x.qty, x.limit_price, x.remaining)
         for x in st.res.values()])


def fork(conn: sqlite3.Connection, branch_id: int, at_cycle: int, name: str | None,
         fee_bps: int | None = None) -> int:
    """Create a branch seeing `branch_id` exactly as at the end of `at_cycle`; returns its id.
    It charges `fee_bps` (its opening fee), by default what `branch_id` charges at `at_cycle`: its opening
    fee, and, when a fee change of `branch_id` at or before `at_cycle` is in force there, a change row of
    the new branch at `at_cycle` carrying that fee (so the opening fee stays the config's)."""
    st, src = state_at(conn, branch_id, at_cycle)
    opening = branch_fee(conn, branch_id)
    if fee_bps is None:  # the fee in force on `branch_id` at the fork cycle, carried over exactly
        fee = fee_in_force(conn, branch_id, at_cycle, opening)
    else:
        fee = opening = fee_bps
    if fee != st.fee_bps:
        rehold_cash(st, fee)
    new_id = new_branch(conn, st.run_id, src, at_cycle, name, opening)
    write_full_state(conn, st, src, new_id, at_cycle)
    if fee != opening:  # a fee change of the source before the fork: the fork's own row, at its fork cycle
        insert_change(conn, st.run_id, new_id, at_cycle, fee)
    return new_id


def _delete_branch_rows(conn: sqlite3.Connection, branch_id: int) -> None:
    conn.execute("DELETE FROM fills WHERE seq BETWEEN ? AND ?", fillkeys.branch(branch_id))
    for t in ("accounts", "balances", "positions", "lots", "reservations", *HISTORY_TABLES):
        conn.execute(f"DELETE FROM {t} WHERE branch_id=?", (branch_id,))


def truncate_after(conn: sqlite3.Connection, st: BranchState, k: int) -> tuple[int, bool]:
    """Remove the active branch's rows after cycle k and restore its state exactly.

    Returns (rows undone, whether the branch was rebuilt from its parent). Mutates the mirror `st`
    in place (exactly, see undo.py) unless rebuilt; the caller reloads it if rebuilt or on failure.
    """
    b = st.branch_id
    if st.parent_id is not None and k < st.fork_cycle:
        (n,) = conn.execute("SELECT count(*) FROM fills WHERE seq BETWEEN ? AND ?", fillkeys.branch(b)).fetchone()
        n += background_fills.count(conn, b)
        _delete_branch_rows(conn, b)
        dialect_of(conn).rewind_ids(conn, HISTORY_TABLES)
        pst, src = state_at(conn, st.parent_id, k)
        opening = st.fee_bps if st.opening_fee_bps is None else st.opening_fee_bps
        # a branch that inherited its parent's opening fee takes the parent's fee in force at k, as a fork
        # would; one with a fee of its own keeps it
        fee = fee_in_force(conn, st.parent_id, k, branch_fee(conn, st.parent_id)) \
            if opening == branch_fee(conn, st.parent_id) else opening
        if pst.fee_bps != fee:
            rehold_cash(pst, fee)
        write_full_state(conn, pst, src, b, k)
        if fee != opening:
            insert_change(conn, st.run_id, b, k, fee)
        conn.execute("UPDATE branches SET parent_id=?, fork_cycle=?, cycle=? WHERE branch_id=?", (src, k, k, b))
        return n, True
    rep = undo_after(conn, st, k)
    for a in rep.dropped_accounts:
        for t in ("accounts", "balances", "positions", "lots"):
            col = "name" if t == "accounts" else "account"
            conn.execute(f"DELETE FROM {t} WHERE branch_id=? AND {col}=?", (b, a))
    st.flush(conn, k)
    for acct, asset in conn.execute("SELECT account, asset FROM balances WHERE branch_id=? AND cycle>?", (b, k)):
        if asset == CASH:
            st.cash.pop(acct, None)
            st.rcash.pop(acct, None)
        else:
            st.shares.pop((acct, asset), None)
            st.rshares.pop((acct, asset), None)
    for acct, sym in conn.execute("SELECT account, symbol FROM positions WHERE branch_id=? AND cycle>?",
                                  (b, k)).fetchall():
        st.pos.pop((acct, sym), None)
        st.pos_index = None
        for side in (1, -1):  # a position born after k: every lot of it was opened after k
            delete_from(conn, b, acct, sym, side, 0)
    conn.execute("DELETE FROM balances WHERE branch_id=? AND cycle>?", (b, k))
    conn.execute("DELETE FROM positions WHERE branch_id=? AND cycle>?", (b, k))
    for acct, sym in rep.touched_positions:
        p = st.pos.get((acct, sym))
        if p is None:
            continue
        delete_from(conn, b, acct, sym, 1, p.lo)
        delete_from(conn, b, acct, sym, -1, p.so)
    conn.execute("DELETE FROM fills WHERE seq BETWEEN ? AND ?", fillkeys.after(b, k))
    conn.execute("DELETE FROM reservations WHERE branch_id=? AND cycle>?", (b, k))
    for t in HISTORY_TABLES:
        conn.execute(f"DELETE FROM {t} WHERE branch_id=? AND cycle>?", (b, k))
    dialect_of(conn).rewind_ids(conn, HISTORY_TABLES)
    return rep.rows, False


def check_writable(st: BranchState, cycle: int) -> None:
    if st.fork_cycle is not None and cycle <= st.fork_cycle:
        raise LedgerError(RejectCode.INHERITED_PAST,
                          f"branch {st.branch_id} was forked at cycle {st.fork_cycle}; "
                          f"cycle {cycle} belongs to its parent")
