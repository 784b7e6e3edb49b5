"""Read side and records of the `Ledger` facade (a mixin): balances, positions, PnL, history queries,
and the orders/traces/messages/snapshots the graph writes."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from ledger import background_fills, packed_history, records, views
from ledger.branches import check_writable
from ledger.errors import LedgerError, RejectCode
from ledger.lineage import journal_sql, lineage, lineage_sql
from ledger.lots import read_lots
from ledger.types import CASH, FEES, AccountView, JournalEntry, Lot, PositionView


class ReadingMixin:
    # ---------------------------------------------------------------- balances and positions
    def _acct(self, name: str):
        st = self._state()
        if name not in st.accounts:
            raise LedgerError(RejectCode.UNKNOWN_ACCOUNT, f"unknown account {name!r}")
        return st

    def accounts(self, *, kinds: Iterable[str] | None = None) -> list[AccountView]:
        """All accounts (system accounts `@...` only when `kinds` includes "system")."""
        st = self._state()
        want = None if kinds is None else set(kinds)
        return [views.account_view(st, n) for n, c in sorted(st.accounts.items())
                if (c.kind in want if want is not None else c.kind != "system")]

    def cash(self, name: str) -> int:
        return self._acct(name).cash.get(name, 0)

    def reserved_cash(self, name: str) -> int:
        return self._acct(name).rcash.get(name, 0)

    def available_cash(self, name: str) -> int:
        """Cash minus what open buy orders hold (credit, if any, comes on top for buying power)."""
        st = self._acct(name)
        return st.cash.get(name, 0) - st.rcash.get(name, 0)

    def holdings(self, name: str) -> dict[str, int]:
        return views.account_view(self._acct(name), name).holdings

    def available_shares(self, name: str, symbol: str) -> int:
        st = self._acct(name)
        return st.shares.get((name, symbol), 0) - st.rshares.get((name, symbol), 0)

    def positions(self, name: str, marks: Mapping[str, int] | None = None) -> list[PositionView]:
        return views.position_views(self._acct(name), name, marks)

    def open_positions(self, name: str) -> list[tuple[str, int, float]]:
        """(symbol, qty, avg cost) of the account's open positions (qty != 0), by symbol: what
        `positions(name)` says of them (`avg_cost`), without a PositionView each (a trader's view per cycle)."""
        return views.open_positions(self._acct(name), name)

    def realized_pnl(self, name: str) -> int:
        st = self._acct(name)
        return sum(p.realized for (a, _), p in st.pos.items() if a == name)

    def unrealized_pnl(self, name: str, marks: Mapping[str, int]) -> int:
        return views.unrealized(self._acct(name), name, marks)

    def lots(self, name: str, symbol: str | None = None) -> list[Lot]:
        """Open FIFO lots, oldest first, with their remaining quantity."""
        st = self._acct(name)
        out = []
        for (a, sym), p in sorted(st.pos.items()):
            if a != name or (symbol is not None and sym != symbol):
                continue
            for side, consumed, opened in ((1, p.lc, p.lo), (-1, p.sc, p.so)):
                if opened <= consumed:
                    continue
                for start, qty, price, cyc, src in read_lots(self.conn, st.branch_id, a, sym, side, consumed, opened):
                    out.append(Lot(a, sym, side, cyc, min(qty, start + qty - consumed), price, src))
        return out

    def endowment(self, name: str, marks: Mapping[str, int]) -> dict[str, Any]:
        return views.endowment(self._acct(name), name, marks)

    def leaderboard(self, marks: Mapping[str, int], *, kinds: Iterable[str] = ("trader",)) -> list[dict[str, Any]]:
        return views.leaderboard(self._state(), marks, tuple(kinds))

    def dump_state(self) -> dict[str, Any]:
        """The active branch's stored state in canonical form (for exact comparisons)."""
        return views.dump_state(self.conn, self._state().branch_id)

    # ---------------------------------------------------------------- history
    def transactions(self, name: str, limit: int = 50) -> list[JournalEntry]:
        """The account's latest journal entries (trade legs, fees, transfers), oldest first."""
        st = self._acct(name)
        if name.startswith(background_fills.PREFIX):  # its fills may be packed: the merged journal
            mine = [e for e in self.journal() if name in (e.debit, e.credit)]
            return sorted(mine, key=lambda e: e.cycle, reverse=True)[:max(int(limit), 0)][::-1]
        src, params = journal_sql(lineage(self.conn, st.branch_id))
        rows = self.conn.execute(
            f"SELECT transfer_id, cycle, debit_account, credit_account, asset, amount, kind FROM {src} "
            f"WHERE (debit_account=? OR credit_account=?) ORDER BY cycle DESC LIMIT ?",
            [*params, name, name, int(limit)]).fetchall()
        return [JournalEntry(*r) for r in reversed(rows)]

    def journal(self, *, cycle: int | None = None) -> list[JournalEntry]:
        """The journal visible on the branch: transfers, then the fills' legs arm by arm (the `journal`
        view's order), the fills read from both layouts (background_fills.py)."""
        st = self._state()
        lin = lineage(self.conn, st.branch_id)
        where, params = lineage_sql(lin)
        extra = "" if cycle is None else " AND cycle=?"
        rows = [JournalEntry(*r) for r in self.conn.execute(
            "SELECT transfer_id, cycle, debit_account, credit_account, asset, amount, kind FROM transfers "
            f"WHERE {where}{extra}", [*params, *([] if cycle is None else [cycle])])]
        fills = background_fills.select(self.conn, lin, ["branch_id", *_LEG_COLUMNS], cycle=cycle)
        rank = {b: i for i, (b, _) in enumerate(lin)}
        fills.sort(key=lambda f: rank[f["branch_id"]])  # the view's order: the lineage's branches in turn
        rows += [JournalEntry(f"{f['fill_id']}:cash", f["cycle"], f["buyer"], f["seller"], CASH,
                              f["price"] * f["qty"], "fill") for f in fills]
        rows += [JournalEntry(f"{f['fill_id']}:shares", f["cycle"], f["seller"], f["buyer"], f["symbol"], f["qty"],
                              "fill") for f in fills]
        rows += [JournalEntry(f"{f['fill_id']}:fee:buyer", f["cycle"], f["buyer"], FEES, CASH, f["buyer_fee"], "fee")
                 for f in fills if f["buyer_fee"] > 0]
        rows += [JournalEntry(f"{f['fill_id']}:fee:seller", f["cycle"], f["seller"], FEES, CASH, f["seller_fee"],
                              "fee") for f in fills if f["seller_fee"] > 0]
        return rows

    def fills(self, *, cycle: int | None = None, account: str | None = None, symbol: str | None = None,
              limit: int | None = 100) -> list[dict[str, Any]]:
        # both layouts: `fills` rows and packed bg-vs-bg fills, merged in seq order (background_fills.py)
        return background_fills.select(self.conn, lineage(self.conn, self._state().branch_id), _FILL_COLUMNS,
                                       cycle=cycle, account=account, symbol=symbol, limit=limit)

    def orders(self, *, cycle: int | None = None, account: str | None = None, status: str | None = None,
               limit: int | None = 100) -> list[dict[str, Any]]:
        conds, params = _filters(cycle=cycle, account=account, status=status)
        rows = records.select(self.conn, self._state().branch_id, "orders",
                              "cycle, tick, order_id, account, side, symbol, order_type, qty, limit_price, status, "
                              "reason, detail, payload", where=" AND ".join(conds), params=params, limit=limit,
                              newest=True)
        return records.decode(rows, "payload")

    def traces(self, *, cycle: int | None = None, agent: str | None = None, kind: str | None = None,
               node: str | None = None, limit: int | None = 200) -> list[dict[str, Any]]:
        conds, params = _filters(cycle=cycle, agent=agent, kind=kind, node=node)
        b = self._state().branch_id
        rows = packed_history.read(  # both layouts: one row per cycle packed, and the old one (packed_history.py)
            self.conn, b, "traces", lambda lim: records.select(
                self.conn, b, "traces", "cycle, agent, node, kind, payload", where=" AND ".join(conds),
                params=params, limit=lim, newest=True),
            cycle=cycle, match={"agent": agent, "kind": kind, "node": node}, limit=limit)
        return records.decode(rows, "payload")

    def messages(self, *, cycle: int | None = None, sender: str | None = None,
                 limit: int | None = 200) -> list[dict[str, Any]]:
        conds, params = _filters(cycle=cycle, sender=sender)
        b = self._state().branch_id
        rows = packed_history.read(
            self.conn, b, "messages", lambda lim: records.select(
                self.conn, b, "messages", "cycle, round, sender, recipients, text, sentiment, topic",
                where=" AND ".join(conds), params=params, limit=lim, newest=True),
            cycle=cycle, match={"sender": sender}, limit=limit)
        return records.decode(rows, "recipients")

    def value_history(self, name: str) -> list[tuple[int, int]]:
        rows = records.select(self.conn, self._acct(name).branch_id, "snapshots", "cycle, value",
                              where="account=?", params=[name], order="cycle")
        return [(r["cycle"], r["value"]) for r in rows]

    def marks_at(self, cycle: int) -> dict[str, int]:
        """The marks recorded at the end of `cycle` on the active branch's line ({} when none were)."""
        rows = records.select(self.conn, self._state().branch_id, "marks", "symbol, price", where="cycle=?",
                              params=[cycle], order="symbol")
        return {r["symbol"]: r["price"] for r in rows}

    def marks_history(self, symbol: str) -> list[tuple[int, int]]:
        rows = records.select(self.conn, self._state().branch_id, "marks", "cycle, price", where="symbol=?",
                              params=[symbol], order="cycle")
        return [(r["cycle"], r["price"]) for r in rows]

    # ---------------------------------------------------------------- records
    def record_order(self, *, cycle: int, order_id: str, account: str, side: str, symbol: str, qty: int,
                     limit_price: int | None = None, order_type: str = "limit", status: str = "accepted",
                     tick: int = 0, reason: str | None = None, detail: str | None = None,
                     payload: Mapping[str, Any] | None = None) -> None:
        """An order's lifecycle event (accepted, rejected with reason, cancelled, expired, filled...)."""
        st = self._state()
        check_writable(st, self._cyc(cycle))
        # One INSERT is atomic on its own (a failed statement leaves an enclosing transaction usable), so the
        # single-row records skip the SAVEPOINT of `transaction()`.
        records.record_order(self.conn, st, cycle, order_id=order_id, account=account, side=side, symbol=symbol,
                             qty=qty, limit_price=limit_price, order_type=order_type, status=status, tick=tick,
                             reason=reason, detail=detail, payload=payload)

    def record_trace(self, cycle: int, agent: str, node: str, kind: str, payload: Mapping[str, Any]) -> None:
        st = self._state()
        check_writable(st, self._cyc(cycle))
        records.record_trace(self.conn, st, cycle, agent, node, kind, payload,  # one atomic statement
                             packed=self.packed_history)

    def record_message(self, cycle: int, sender: str, text: str, *, recipients: Iterable[str] = (),
                       sentiment: float | None = None, topic: str | None = None, round: int = 0) -> None:
        st = self._state()
        check_writable(st, self._cyc(cycle))
        records.record_message(self.conn, st, cycle, sender, text, recipients=recipients,  # one atomic statement
                               sentiment=sentiment, topic=topic, round=round, packed=self.packed_history)

    # The batch forms write the same rows, in the same order, as one call of the single-row method per
    # item, with one `executemany` per table (the cycle's settle node writes a few dozen rows). A batch is
    # all or nothing: its rows are built (and their payloads encoded) before anything is written.
    def record_orders(self, cycle: int, orders: Iterable[Mapping[str, Any]]) -> int:
        """Many `record_order` calls at once: each item holds its keyword arguments (without `cycle`).
        Returns the number of rows written."""
        return self._record_batch(cycle, orders, records.record_orders)

    def record_traces(self, cycle: int, traces: Iterable[tuple[str, str, str, Mapping[str, Any]]]) -> int:
        """Many `record_trace` calls at once: (agent, node, kind, payload) each. Returns the number written."""
        return self._record_batch(cycle, traces, partial(records.record_traces, packed=self.packed_history))

    def record_messages(self, cycle: int, messages: Iterable[Mapping[str, Any]]) -> int:
        """Many `record_message` calls at once: each item holds its arguments by name (sender, text, and
        optionally recipients, sentiment, topic, round). Returns the number written."""
        return self._record_batch(cycle, messages, partial(records.record_messages, packed=self.packed_history))

    def _record_batch(self, cycle: int, items: Iterable[Any], write) -> int:
        st = self._state()
        items = list(items)
        if not items:
            return 0
        check_writable(st, self._cyc(cycle))
        with self.transaction():
            return write(self.conn, st, cycle, items)

    def record_snapshot(self, cycle: int, marks: Mapping[str, int]) -> None:
        """Portfolio value of every account at `marks` for this cycle (replaces a previous one)."""
        st = self._state()
        check_writable(st, self._cyc(cycle))
        try:
            with self.transaction():
                records.record_snapshot(self.conn, st, cycle, marks)
        except KeyError as e:
            raise LedgerError(RejectCode.UNKNOWN_SYMBOL, str(e.args[0])) from None


_FILL_COLUMNS = ["cycle", "tick", "fill_id", "symbol", "price", "qty", "buyer", "seller", "buy_order_id",
                 "sell_order_id", "buyer_fee", "seller_fee", "buyer_realized", "seller_realized"]
_LEG_COLUMNS = ("cycle", "fill_id", "symbol", "price", "qty", "buyer", "seller", "buyer_fee", "seller_fee")


def _filters(**kw: Any) -> tuple[list[str], list[Any]]:
    conds, params = [], []
    for k, v in kw.items():
        if v is not None:
            conds.append(f"{k}=?")
            params.append(v)
    return conds, params
