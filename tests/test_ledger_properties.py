"""Property tests of the ledger against an independent reference model.

Random streams of reservations, cancellations (full or partial releases), fills (matched against
reserved orders, or free between any two accounts), deposits and withdrawals, retries and
conflicting retries. After every step:
* the ledger accepts exactly what the model accepts (rejections write nothing);
* every asset sums to zero over all accounts (double entry); traders' cash plus fees equals the
  initial cash plus external flows; shares per symbol equal the initial totals;
* no negative cash, and no shares below zero (or below -short_limit when shorting is enabled);
* cash, shares, reserved amounts, FIFO realized PnL and cost basis equal the model's, both in the
  in-memory view and in the stored rows (`dump_state`).
"""
from __future__ import annotations

from collections import defaultdict, deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_backends import Backend

from ledger.store import Ledger
from ledger.types import EXTERNAL, FEES, Fill

SYMS = ["AAA", "BBB"]
ACCTS = ["a", "b", "c"]


class Model:
    """A deliberately simple, separately written reference: lists and loops, no counters."""

    def __init__(self, bps: int, allow_short: bool, short_limit: int):
        self.bps, self.allow_short, self.short_limit = bps, allow_short, short_limit
        self.cash = defaultdict(int)
        self.shares = defaultdict(int)
        self.lots = defaultdict(deque)  # (acct, sym) -> deque of [signed qty, price]
        self.realized = defaultdict(int)
        self.orders = {}  # oid -> [acct, side, sym, remaining, limit]
        self.fees = 0
        self.external = 0

    def fee(self, notional):
        return -(-notional * self.bps // 10000)

    def res_cash(self, acct):
        return sum(o[3] * (o[4] + self.fee(o[4])) for o in self.orders.values() if o[0] == acct and o[1] == "buy")

    def res_shares(self, acct, sym):
        return sum(o[3] for o in self.orders.values() if o[0] == acct and o[1] == "sell" and o[2] == sym)

    def floor(self):
        return -self.short_limit if self.allow_short else 0

    def can_reserve(self, acct, side, sym, qty, limit):
        if qty <= 0 or limit <= 0:
            return False
        if side == "buy":
            return qty * (limit + self.fee(limit)) <= self.cash[acct] - self.res_cash(acct)
        return self.shares[(acct, sym)] - self.res_shares(acct, sym) - qty >= self.floor()

    def trade(self, acct, sym, signed_qty, price):
        """FIFO: consume opposite-sign lots oldest first, then open a lot with the rest."""
        q = self.lots[(acct, sym)]
        left = signed_qty
        while left and q and (q[0][0] > 0) != (left > 0):
            lot = q[0]
            take = min(abs(left), abs(lot[0]))
            if lot[0] > 0:  # closing a long with a sell
                self.realized[(acct, sym)] += (price - lot[1]) * take
                lot[0] -= take
            else:  # covering a short with a buy
                self.realized[(acct, sym)] += (lot[1] - price) * take
                lot[0] += take
            left += take if left < 0 else -take
            if lot[0] == 0:
                q.popleft()
        if left:
            q.append([left, price])

    def cost(self, acct, sym):
        return sum(q * p for q, p in self.lots[(acct, sym)])

    def fill_ok(self, f):
        """Would the ledger accept this fill? Mirrors the documented rules, computed independently."""
        n = f.price * f.qty
        fee = self.fee(n)
        cash_b = self.cash[f.buyer] - n - fee
        res_b = self.res_cash(f.buyer)
        o = self.orders.get(f.buy_order_id)
        if o:
            if f.qty > o[3] or f.price > o[4]:
                return False
            res_b -= f.qty * (o[4] + self.fee(o[4]))
        if cash_b - res_b < 0:
            return False
        sh_s = self.shares[(f.seller, f.symbol)] - f.qty
        res_s = self.res_shares(f.seller, f.symbol)
        o = self.orders.get(f.sell_order_id)
        if o:
            if f.qty > o[3] or f.price < o[4]:
                return False
            res_s -= f.qty
        return sh_s - res_s >= self.floor()

    def apply_fill(self, f):
        n = f.price * f.qty
        fee = self.fee(n)
        self.cash[f.buyer] -= n + fee
        self.cash[f.seller] += n - fee
        self.fees += 2 * fee
        self.shares[(f.buyer, f.symbol)] += f.qty
        self.shares[(f.seller, f.symbol)] -= f.qty
        for oid in (f.buy_order_id, f.sell_order_id):
            if oid in self.orders:
                self.orders[oid][3] -= f.qty
                if self.orders[oid][3] == 0:
                    del self.orders[oid]
        self.trade(f.buyer, f.symbol, f.qty, f.price)
        self.trade(f.seller, f.symbol, -f.qty, f.price)


def check(led: Ledger, m: Model, init_cash: int, init_shares: dict[str, int]) -> None:
    dump = led.dump_state()
    bal = dump["balances"]
    totals = defaultdict(int)
    for (_, asset), (amount, _) in bal.items():
        totals[asset] += amount
    assert all(v == 0 for v in totals.values()), totals  # double entry: every asset sums to zero
    trader_cash = sum(led.cash(a) for a in ACCTS)
    assert trader_cash + bal.get((FEES, "$"), (0, 0))[0] == init_cash + m.external
    assert -bal.get((EXTERNAL, "$"), (0, 0))[0] == init_cash + m.external
    for s in SYMS:
        assert sum(led.holdings(a).get(s, 0) for a in ACCTS) == init_shares[s]
    for a in ACCTS:
        assert led.cash(a) == m.cash[a] == bal.get((a, "$"), (0, 0))[0]
        assert led.cash(a) >= 0
        assert led.reserved_cash(a) == m.res_cash(a) == bal.get((a, "$"), (0, 0))[1]
        assert led.available_cash(a) >= 0
        assert led.realized_pnl(a) == sum(m.realized[(a, s)] for s in SYMS)
        for s in SYMS:
            q = m.shares[(a, s)]
            assert led.holdings(a).get(s, 0) == q
            assert q >= m.floor()
            assert led.available_shares(a, s) == q - m.res_shares(a, s)
            assert bal.get((a, s), (0, 0)) == (q, m.res_shares(a, s))
            pos = {p.symbol: p for p in led.positions(a)}
            if s in pos:
                assert pos[s].realized_pnl == m.realized[(a, s)]
                assert pos[s].cost_basis == m.cost(a, s)
            else:
                assert m.realized[(a, s)] == 0 and m.cost(a, s) == 0
            lots = [(lot.side * lot.qty, lot.price) for lot in led.lots(a, s)]
            assert lots == [tuple(x) for x in m.lots[(a, s)]]
    open_orders = {oid: o[3] for oid, o in m.orders.items()}
    assert {oid: r[4] for oid, r in dump["reservations"].items()} == open_orders


reserve_op = st.tuples(st.just("reserve"), st.sampled_from(ACCTS), st.sampled_from(["buy", "sell"]),
                       st.sampled_from(SYMS), st.integers(-1, 30), st.integers(0, 150))
match_op = st.tuples(st.just("match"), st.integers(0, 50), st.integers(0, 50), st.integers(0, 40), st.integers(1, 10))
ops = st.one_of(
    reserve_op, reserve_op, reserve_op, match_op, match_op, match_op,
    st.tuples(st.just("release"), st.integers(0, 50), st.one_of(st.none(), st.integers(-1, 10))),
    st.tuples(st.just("free"), st.sampled_from(ACCTS), st.sampled_from(ACCTS), st.sampled_from(SYMS),
              st.integers(-1, 150), st.integers(-1, 20)),
    st.tuples(st.just("deposit"), st.sampled_from(ACCTS), st.integers(-5, 3000)),
    st.tuples(st.just("withdraw"), st.sampled_from(ACCTS), st.integers(1, 3000)),
    st.tuples(st.just("retry")),
    st.tuples(st.just("conflict")),
)


def run_stream(stream, bps: int, allow_short: bool, short_limit: int, backend: Backend | None = None) -> None:
    """One random stream against the model, on `backend` (SQLite in memory by default)."""
    led = (backend or Backend("sqlite")).open(fee_bps=bps, allow_short=allow_short, short_limit=short_limit, symbols=SYMS)
    led.start_run(config={}, seed=0)
    m = Model(bps, allow_short, short_limit)
    init = {"a": (50000, {"AAA": 40, "BBB": 5}), "b": (30000, {"AAA": 0, "BBB": 35}), "c": (4000, {"AAA": 17})}
    for a, (c, h) in init.items():
        led.open_account(a, cash=c, holdings=h, cost={s: 50 for s in SYMS})
        m.cash[a] = c
        for s, q in h.items():
            m.shares[(a, s)] = q
            if q:
                m.lots[(a, s)].append([q, 50])
    init_cash = sum(c for c, _ in init.values())
    init_shares = {s: sum(h.get(s, 0) for _, h in init.values()) for s in SYMS}
    last: list[Fill] = []
    n_orders = 0
    for cycle, op in enumerate(stream, 1):
        kind = op[0]
        if kind == "reserve":
            _, a, side, s, q, lim = op
            oid = f"o{n_orders}"
            n_orders += 1
            ok = m.can_reserve(a, side, s, q, lim)
            rej = led.reserve(order_id=oid, account=a, side=side, symbol=s, qty=q, limit_price=lim, cycle=cycle)
            assert (rej is None) == ok, (op, rej)
            if ok:
                m.orders[oid] = [a, side, s, q, lim]
            else:
                assert rej.code and rej.message
        elif kind == "release":
            oids = sorted(m.orders)
            if not oids:
                assert led.release("nope", cycle=cycle) is not None
                continue
            oid = oids[op[1] % len(oids)]
            q = op[2]
            ok = q is None or 0 < q <= m.orders[oid][3]
            rej = led.release(oid, q, cycle=cycle)
            assert (rej is None) == ok
            if ok:
                m.orders[oid][3] -= m.orders[oid][3] if q is None else q
                if m.orders[oid][3] == 0:
                    del m.orders[oid]
        elif kind in ("match", "free"):
            if kind == "match":
                buys = sorted(o for o, v in m.orders.items() if v[1] == "buy")
                sells = sorted(o for o, v in m.orders.items() if v[1] == "sell")
                if not buys or not sells:
                    continue
                bo, so = buys[op[1] % len(buys)], sells[op[2] % len(sells)]
                B, S = m.orders[bo], m.orders[so]
                if B[0] == S[0] or B[2] != S[2]:
                    continue
                # mostly a price inside [sell limit, buy limit]; sometimes outside (must be refused)
                span = B[4] - S[4]
                price = S[4] + op[3] % (span + 1) if span >= 0 and op[3] < 35 else max(1, S[4] + op[3] - 20)
                f = Fill(f"f{cycle}", cycle, 0, B[2], price, min(op[4], B[3], S[3]),
                         B[0], S[0], bo, so)
            else:
                _, b, s_, sym, price, q = op
                f = Fill(f"f{cycle}", cycle, 0, sym, price, q, b, s_)
            valid = f.qty > 0 and f.price > 0 and f.buyer != f.seller
            ok = valid and m.fill_ok(f)
            res = led.settle(cycle, [f])
            assert res.ok == ok, (f, res)
            if ok:
                assert res.settled == 1
                m.apply_fill(f)
                last = [f]
            else:
                assert res.settled == 0 and res.rejection.message
        elif kind == "deposit":
            _, a, amt = op
            rej = led.deposit(a, amt, transfer_id=f"d{cycle}", cycle=cycle)
            assert (rej is None) == (amt > 0)
            if amt > 0:
                m.cash[a] += amt
                m.external += amt
        elif kind == "withdraw":
            _, a, amt = op
            ok = amt <= m.cash[a] - m.res_cash(a)
            rej = led.withdraw(a, amt, transfer_id=f"w{cycle}", cycle=cycle)
            assert (rej is None) == ok
            if ok:
                m.cash[a] -= amt
                m.external -= amt
        elif kind == "retry" and last:
            res = led.settle(last[0].cycle, last)
            assert res.ok and res.settled == 0 and res.duplicates == 1
        elif kind == "conflict" and last:
            f = last[0]
            g = Fill(f.fill_id, f.cycle, f.tick, f.symbol, f.price + 1, f.qty, f.buyer, f.seller,
                     f.buy_order_id, f.sell_order_id)
            res = led.settle(f.cycle, [g])
            assert not res.ok and res.rejection.code == "duplicate_id_conflict"
        check(led, m, init_cash, init_shares)
    led.close()


# The backend fixture holds no per-example state (each example opens its own fresh ledger).
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(ops, min_size=10, max_size=60), st.sampled_from([0, 30]))
def test_random_streams_long_only(ledger_backend, stream, bps):
    run_stream(stream, bps, allow_short=False, short_limit=0, backend=ledger_backend)


@SETTINGS
@given(st.lists(ops, min_size=10, max_size=60), st.sampled_from([0, 30]))
def test_random_streams_with_shorting(ledger_backend, stream, bps):
    run_stream(stream, bps, allow_short=True, short_limit=12, backend=ledger_backend)
