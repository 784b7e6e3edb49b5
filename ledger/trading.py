"""Write side of the `Ledger` facade: accounts, transfers, reservations, settlement (a mixin)."""
from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence

from ledger import branches, fee_schedule, journal, reservations, settlement
from ledger.branches import check_writable
from ledger.errors import LedgerError, RejectCode, Rejection
from ledger.state import AccountCfg
from ledger.types import CASH, EXTERNAL, Fill, SettleResult, fill_row


class TradingMixin:
    def add_symbols(self, symbols: Iterable[str]) -> None:
        st = self._state()
        new = sorted(set(symbols) - st.symbols)
        with self.transaction():
            self.conn.executemany("INSERT INTO symbols(run_id, symbol) VALUES (?,?)", [(st.run_id, s) for s in new])
        st.symbols.update(new)

    def symbols(self) -> list[str]:
        return sorted(self._state().symbols)

    @property
    def branch_fee_bps(self) -> int:
        """The active branch's opening fee (basis points per side, on each fill's notional): its config's
        `fee_bps`. A scenario's fee change makes another fee be in force from its cycle on (`fee_bps_now`)."""
        st = self._state()
        return st.fee_bps if st.opening_fee_bps is None else st.opening_fee_bps

    @property
    def fee_bps_now(self) -> int:
        """The fee in force on the active branch now: what the next settled fills are charged."""
        return self._state().fee_bps

    def fee_at(self, cycle: int) -> int:
        """The fee in force on the active branch at `cycle` (its parent's fee below its fork cycle)."""
        return fee_schedule.fee_at(self.conn, self._state().branch_id, cycle)

    def fee_changes(self) -> list[tuple[int, int]]:
        """The active branch's own fee changes: [(cycle, fee_bps), ...], oldest first."""
        return fee_schedule.changes(self.conn, self._state().branch_id)

    def orders_over_budget(self, fee_bps: int) -> list[tuple[str, str]]:
        """The open buy orders, (order id, account), to cancel before the fee can become `fee_bps`
        (fee_schedule.over_budget)."""
        return fee_schedule.over_budget(self._state(), fee_bps)

    def change_fee(self, cycle: int, fee_bps: int) -> None:
        """From `cycle` on, the active branch charges `fee_bps` (a scenario's fee change): a `fee_changes` row,
        and the cash held for open buy orders re-held at the new fee. Refused (LedgerError, writes nothing)
        for a bad fee, a cycle whose fills are already settled or an earlier change's, and when an account's
        open buys cannot afford the new fee (cancel `orders_over_budget(fee_bps)` first)."""
        st = self._state()
        check_writable(st, cycle)
        if not isinstance(fee_bps, int) or isinstance(fee_bps, bool) or not 0 <= fee_bps <= fee_schedule.MAX_FEE_BPS:
            raise LedgerError(RejectCode.NON_POSITIVE_AMOUNT,
                              f"a fee must be 0 to {fee_schedule.MAX_FEE_BPS} basis points, not {fee_bps!r}")
        late = [c for c in (st.last_fill_cycle, st.fee_since) if c is not None and c >= cycle]
        if late:
            raise LedgerError(RejectCode.FEE_FIXED,
                              f"branch {st.branch_id} has settled fills or a fee change at cycle {max(late)}: "
                              f"a fee change at cycle {cycle} would come after them")
        _refuse_unaffordable(st, fee_bps, "cancel them before the fee changes")
        with self.transaction():
            fee_schedule.record_change(self.conn, st, cycle, fee_bps)

    def set_fee(self, fee_bps: int) -> None:
        """Make the active branch charge `fee_bps` (a fork's own config). Allowed only while the branch has
        settled nothing of its own: a fresh fork, or a run still at cycle 0. Cash held for open buy orders
        is re-held at the new fee. Raises LedgerError (FEE_FIXED) otherwise; writes nothing then."""
        st = self._state()
        if not isinstance(fee_bps, int) or fee_bps < 0:
            raise LedgerError(RejectCode.NON_POSITIVE_AMOUNT, f"a fee must be >= 0 basis points, not {fee_bps!r}")
        if fee_bps == st.fee_bps == self.branch_fee_bps:
            return
        last, start = self.last_cycle() or 0, st.fork_cycle or 0
        if last > start:
            raise LedgerError(RejectCode.FEE_FIXED,
                              f"branch {st.branch_id} has recorded cycles up to {last} at {st.fee_bps} bps, so "
                              f"its fee cannot become {fee_bps} bps; fork it to go on with another fee")
        _refuse_unaffordable(st, fee_bps, f"its fee cannot become {fee_bps} bps while they are open")
        with self.transaction():
            branches.set_fee(self.conn, st, fee_bps)

    def open_account(self, name: str, *, theory: str = "", cash: int, holdings: Mapping[str, int] | None = None,
                     kind: str = "trader", cycle: int = 0, cost: Mapping[str, int] | None = None,
                     allow_short: bool | None = None, short_limit: int | None = None,
                     credit_limit: int | None = None) -> None:
        """Open an account funded from @external: `cash` cents and `holdings` shares.

        Symbols in `holdings` join the run's universe. `cost` gives the cost price per share of the
        initial holdings (default 0: the endowment is a gift, so its FIFO cost basis is zero).
        Shorting and credit default to the ledger's settings and may be overridden per account
        (e.g. a background market maker). Raises LedgerError on invalid input; writes nothing then.
        """
        st = self._state()
        cycle = self._cyc(cycle)
        check_writable(st, cycle)
        holdings = {s: q for s, q in (holdings or {}).items() if q}
        if name in st.accounts:
            raise LedgerError(RejectCode.DUPLICATE_ACCOUNT, f"account {name!r} already exists")
        if not name or name.startswith("@"):
            raise LedgerError(RejectCode.UNKNOWN_ACCOUNT, f"invalid account name {name!r} ('@' is for system accounts)")
        if not isinstance(cash, int) or cash < 0:
            raise LedgerError(RejectCode.NON_POSITIVE_AMOUNT, f"initial cash must be >= 0 cents, not {cash!r}")
        for s, q in holdings.items():
            if not isinstance(q, int) or q < 0:
                raise LedgerError(RejectCode.NON_POSITIVE_QTY, f"initial holding of {s} must be >= 0, not {q!r}")
        ash = self.allow_short if allow_short is None else allow_short
        sl = self.short_limit if short_limit is None else short_limit
        cl = self.credit_limit if credit_limit is None else credit_limit
        with self.transaction():
            new_syms = sorted(set(holdings) - st.symbols)
            self.conn.executemany("INSERT INTO symbols(run_id, symbol) VALUES (?,?)",
                                  [(st.run_id, s) for s in new_syms])
            st.symbols.update(new_syms)
            self.conn.execute(
                "INSERT INTO accounts(run_id, branch_id, cycle, name, theory, kind, initial_cash, initial_holdings, "
                "allow_short, short_limit, credit_limit) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (st.run_id, st.branch_id, cycle, name, theory, kind, cash, json.dumps(holdings, sort_keys=True),
                 int(ash), sl, cl))
            st.accounts[name] = AccountCfg(name, theory, kind, cycle, cash, dict(holdings), ash, sl, cl)
            st.cash[name] = 0
            st.rcash[name] = 0
            st.dirty_cash.add(name)
            if cash:
                self._post(f"open:{name}:cash", EXTERNAL, name, CASH, cash, cycle, "open", None)
            for s in sorted(holdings):
                self._post(f"open:{name}:{s}", EXTERNAL, name, s, holdings[s], cycle, "open",
                           int((cost or {}).get(s, 0)))
            st.flush(self.conn, cycle)

    def open_accounts_from_range(self, accounts: Mapping[str, str] | Sequence[str], *, seed: int,
                                 cash: int | tuple[int, int], stocks: int | tuple[int, int],
                                 symbols: Sequence[str] | None = None, cost: Mapping[str, int] | None = None,
                                 kind: str = "trader", cycle: int = 0) -> dict[str, tuple[int, dict[str, int]]]:
        """Seed 001's endowments: cash (cents) and shares of each symbol drawn uniformly from a range
        (inclusive) with their own `seed`, or fixed when an int is given. `accounts` maps name -> theory
        (or is a list of names). Returns {name: (cash, holdings)} in the order opened."""
        rng = random.Random(seed)
        syms = sorted(symbols if symbols is not None else self._state().symbols)

        def draw(spec: int | tuple[int, int]) -> int:
            return spec if isinstance(spec, int) else rng.randint(spec[0], spec[1])

        theories = dict(accounts) if isinstance(accounts, Mapping) else {n: "" for n in accounts}
        out = {}
        with self.transaction():
            for name, theory in theories.items():
                c = draw(cash)
                h = {s: draw(stocks) for s in syms}
                self.open_account(name, theory=theory, cash=c, holdings=h, kind=kind, cycle=cycle, cost=cost)
                out[name] = (c, h)
        return out

    def _post(self, transfer_id: str, debit: str, credit: str, asset: str, amount: int, cycle: int, kind: str,
              price: int | None) -> Rejection | None:
        st = self._state()
        check = journal.check_transfer(self.conn, st, transfer_id=transfer_id, debit=debit, credit=credit,
                                       asset=asset, amount=amount, cycle=cycle, kind=kind, price=price)
        if isinstance(check, Rejection):
            return check
        if check is False:
            check_writable(st, cycle)
            journal.apply_transfer(self.conn, st, transfer_id=transfer_id, debit=debit, credit=credit, asset=asset,
                                   amount=amount, cycle=cycle, kind=kind, price=price)
        return None

    def transfer(self, transfer_id: str, *, debit: str, credit: str, amount: int, asset: str = CASH,
                 cycle: int | None = None, kind: str = "transfer", price: int | None = None) -> Rejection | None:
        """A single double-entry transfer; idempotent by id. Returns a Rejection (nothing written) or None."""
        with self.transaction():
            return self._post(transfer_id, debit, credit, asset, amount, self._cyc(cycle), kind, price)

    def deposit(self, account: str, amount: int, *, transfer_id: str, cycle: int | None = None) -> Rejection | None:
        return self.transfer(transfer_id, debit=EXTERNAL, credit=account, amount=amount, cycle=cycle, kind="deposit")

    def withdraw(self, account: str, amount: int, *, transfer_id: str, cycle: int | None = None) -> Rejection | None:
        return self.transfer(transfer_id, debit=account, credit=EXTERNAL, amount=amount, cycle=cycle,
                             kind="withdrawal")

    def deposit_shares(self, account: str, symbol: str, qty: int, *, price: int, transfer_id: str,
                       cycle: int | None = None) -> Rejection | None:
        return self.transfer(transfer_id, debit=EXTERNAL, credit=account, amount=qty, asset=symbol, cycle=cycle,
                             kind="deposit", price=price)

    def reserve(self, *, order_id: str, account: str, side: str, symbol: str, qty: int, limit_price: int,
                cycle: int | None = None) -> Rejection | None:
        """Hold cash (buy: qty x (limit + fee cap)) or shares (sell) for an open order.

        Market orders need a price cap from the caller (e.g. the risk collar) as `limit_price`.
        Returns a Rejection (nothing written) or None."""
        st = self._state()
        side = str(getattr(side, "value", side)).lower()
        rej = reservations.check_reserve(self.conn, st, order_id=order_id, account=account, side=side,
                                         symbol=symbol, qty=qty, limit_price=limit_price)
        if rej is not None:
            return rej
        cycle = self._cyc(cycle)
        check_writable(st, cycle)
        with self.transaction():
            reservations.apply_reserve(self.conn, st, order_id=order_id, account=account, side=side,
                                       symbol=symbol, qty=qty, limit_price=limit_price, cycle=cycle)
        return None

    def release(self, order_id: str, qty: int | None = None, *, cycle: int | None = None) -> Rejection | None:
        """Give back the reservation of a cancelled/expired order (all of it, or `qty` shares of it)."""
        st = self._state()
        rej = reservations.check_release(st, order_id, qty)
        if rej is not None:
            return rej
        cycle = self._cyc(cycle)
        check_writable(st, cycle)
        with self.transaction():
            reservations.apply_release(self.conn, st, order_id, qty, cycle)
        return None

    def reserved_for(self, order_id: str) -> tuple[int, int] | None:
        """(remaining shares, cash held) of an open reservation, or None."""
        st = self._state()
        r = st.res.get(order_id)
        if r is None:
            return None
        return r.remaining, (st.res_cash(r) if r.side == "buy" else 0)

    def settle(self, cycle: int, fills: Sequence[Fill]) -> SettleResult:
        """Apply one cycle's fills in ONE transaction. Idempotent by fill_id; all or nothing."""
        return self.settle_rows(cycle, list(map(fill_row, fills)))

    def settle_rows(self, cycle: int, rows: Sequence[tuple]) -> SettleResult:
        """`settle` for fills given as plain tuples in `Fill` field order (what `Fill.key()` returns:
        fill_id, cycle, tick, symbol, price, qty, buyer, seller, buy_order_id, sell_order_id). Same checks,
        same rows, same result as `settle([Fill(*r) for r in rows])`, without building the dataclasses."""
        self._cyc(cycle)
        try:
            with self.transaction():
                return settlement.settle(self.conn, self._state(), cycle, rows)
        except settlement.BatchRejected as e:
            return SettleResult(settled=0, duplicates=0, rejection=e.rejection)


def _refuse_unaffordable(st, fee_bps: int, remedy: str) -> None:
    """LedgerError (INSUFFICIENT_CASH) when some account's open buys would hold more cash at `fee_bps`
    than it may spend; `remedy` ends the sentence."""
    short = branches.unaffordable_at(st, fee_bps)
    if short:
        acct, need, has = short
        raise LedgerError(RejectCode.INSUFFICIENT_CASH,
                          f"at {fee_bps} bps, {acct}'s open buy orders would hold {need:,} cents, more than the "
                          f"{has:,} it may spend: {remedy}")
