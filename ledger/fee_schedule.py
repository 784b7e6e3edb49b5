"""The fee in force: a function of (branch, cycle), stored in the ledger.

A branch has an opening fee (`branches.fee_bps`: its config's `fee_bps`) and a history of changes
(`fee_changes`: from `cycle` on, this branch charges `fee_bps` per side). The fee in force at cycle c on
branch b is b's latest own change at a cycle <= c, else b's opening fee. `fee_changes` is a history table
like the others: a rollback to a cycle before a change deletes it (and the state's reserved cash goes back
to the older fee, see `undo.undo_after`); a fork copies the fee in force at its fork cycle, not the
parent's later changes (`branches.fork`: when that differs from the fork's opening fee, the fork gets a
change row of its own at its fork cycle, so it charges exactly what its parent charged there).

Settlement charges `BranchState.fee_bps`, the fee in force at the state's cycle: a change recorded at cycle
N (`record_change`) is written before anything of cycle N settles, and it re-holds the cash of every open
buy reservation at the new fee (`remaining * (limit + fee cap)`), so fills and releases after the change
give back exactly what is held. A change that some account's open buys cannot afford is refused
(`over_budget` names the orders the caller cancels first, newest first, until the rest fits).
"""
from __future__ import annotations

from ledger.dialect import dialect_of
from ledger.state import BranchState, fee_for

MAX_FEE_BPS = 1000  # the floor config's cap (10 % per side)


def has_table(conn) -> bool:
    """Files made before fee changes existed (opened read-only) have no `fee_changes` table: no changes."""
    return dialect_of(conn).has_table(conn, "fee_changes")


def own_change_at(conn, branch_id: int, cycle: int | None = None) -> tuple[int, int] | None:
    """The branch's latest own change at a cycle <= `cycle` (None: any): (cycle, fee_bps), else None."""
    if not has_table(conn):
        return None
    if cycle is None:
        return conn.execute("SELECT cycle, fee_bps FROM fee_changes WHERE branch_id=? ORDER BY cycle DESC LIMIT 1",
                            (branch_id,)).fetchone()
    return conn.execute("SELECT cycle, fee_bps FROM fee_changes WHERE branch_id=? AND cycle<=? "
                        "ORDER BY cycle DESC LIMIT 1", (branch_id, cycle)).fetchone()


def fee_in_force(conn, branch_id: int, cycle: int, opening_fee: int) -> int:
    """The fee (bps per side) branch `branch_id`, whose opening fee is `opening_fee`, charges at `cycle`."""
    row = own_change_at(conn, branch_id, cycle)
    return opening_fee if row is None else row[1]


def fee_at(conn, branch_id: int, cycle: int) -> int:
    """The fee in force at `cycle` as seen from `branch_id`: below its fork cycle, its parent's (recursively)."""
    from ledger.state import branch_row

    _, parent, fork_cycle, opening = branch_row(conn, branch_id)
    if parent is not None and cycle < fork_cycle:
        return fee_at(conn, parent, cycle)
    return fee_in_force(conn, branch_id, cycle, opening)


def changes(conn, branch_id: int) -> list[tuple[int, int]]:
    """The branch's own fee changes, oldest first: [(cycle, fee_bps), ...]."""
    if not has_table(conn):
        return []
    return [tuple(r) for r in conn.execute("SELECT cycle, fee_bps FROM fee_changes WHERE branch_id=? ORDER BY cycle",
                                           (branch_id,))]


def insert_change(conn, run_id: int, branch_id: int, cycle: int, fee_bps: int) -> None:
    conn.execute("INSERT INTO fee_changes(run_id, branch_id, cycle, fee_bps) VALUES (?,?,?,?)",
                 (run_id, branch_id, cycle, fee_bps))


def rehold_cash(st: BranchState, fee_bps: int) -> None:
    """Switch the in-memory state `st` to `fee_bps`: every account's reserved cash becomes what its open buy
    reservations hold at that fee (`remaining * (limit + fee cap)`); changed balances are marked dirty."""
    st.fee_bps = fee_bps
    held = dict.fromkeys(st.rcash, 0)
    for r in st.res.values():
        if r.side == "buy":
            held[r.account] = held.get(r.account, 0) + st.res_cash(r)
    for acct, amount in held.items():
        if st.rcash.get(acct, 0) != amount:
            st.rcash[acct] = amount
            st.dirty_cash.add(acct)


def over_budget(st: BranchState, fee_bps: int) -> list[tuple[str, str]]:
    """The open buy orders to cancel before the fee becomes `fee_bps`: for each account (by name) whose
    open buys would hold more cash at that fee than it may spend (cash plus credit limit), its newest buys
    (latest cycle, then order id, last first) until the rest fits: [(order id, account), ...] in account
    order, then newest first."""
    buys: dict[str, list] = {}
    for r in st.res.values():
        if r.side == "buy":
            buys.setdefault(r.account, []).append(r)
    out: list[tuple[str, str]] = []
    for acct in sorted(buys):
        cfg = st.accounts.get(acct)
        has = st.cash.get(acct, 0) + (cfg.credit_limit if cfg is not None else 0)
        mine = sorted(buys[acct], key=lambda r: (r.cycle, r.order_id))
        need = sum(r.remaining * (r.limit_price + fee_for(r.limit_price, fee_bps)) for r in mine)
        while need > has and mine:
            r = mine.pop()
            need -= r.remaining * (r.limit_price + fee_for(r.limit_price, fee_bps))
            out.append((r.order_id, acct))
    return out


def record_change(conn, st: BranchState, cycle: int, fee_bps: int) -> None:
    """From `cycle` on, the active branch charges `fee_bps`: the change row, and the reserved cash re-held
    (inside the caller's transaction; the caller checked that every account can afford it)."""
    insert_change(conn, st.run_id, st.branch_id, cycle, fee_bps)
    rehold_cash(st, fee_bps)
    st.fee_since = cycle
    st.flush(conn, cycle)
