"""`Ledger.positions` reads an account's positions through an index of the mirror by account (views.account_keys):
it must answer exactly what a scan of every position answers, as positions are added, and after truncation
removes positions and whole accounts."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_ledger_versioning import SETTINGS, new_ledger, run_cycle, script

from ledger.types import PositionView

MARKS = {"AAA": 100, "BBB": 90}


def scanned(led, name, marks):
    """The views as a scan of every (account, symbol) position computes them (the index's reference)."""
    s = led._st
    out = []
    for (a, sym), p in sorted(s.pos.items()):
        if a != name:
            continue
        q = s.shares.get((a, sym), 0)
        if not q and not p.realized and not p.fees:
            continue
        mark = None if marks is None else marks.get(sym)
        mv = None if mark is None else q * mark
        out.append(PositionView(account=a, symbol=sym, qty=q, reserved=s.rshares.get((a, sym), 0),
                                cost_basis=p.cost, avg_cost=abs(p.cost) / abs(q) if q else None,
                                realized_pnl=p.realized, fees=p.fees, mark=mark, market_value=mv,
                                unrealized_pnl=None if mv is None else mv - p.cost))
    return out


def check(led):
    for a in led.accounts():
        for marks in (None, MARKS):
            assert led.positions(a.name, marks) == scanned(led, a.name, marks)


@SETTINGS
@given(script, st.data())
def test_positions_index_matches_a_scan(ledger_backend, cycles, data):
    led = new_ledger(ledger_backend)
    check(led)
    for c, acts in enumerate(cycles, 1):
        run_cycle(led, c, acts)
        check(led)
    led.truncate_after(data.draw(st.integers(0, len(cycles))))  # removes positions and opened accounts
    check(led)
    for c, acts in enumerate(cycles, 1):
        if c > led.last_cycle():
            run_cycle(led, c, acts, tag="again")
            check(led)
    led.close()


@SETTINGS
@given(script)
def test_open_positions_is_positions_with_shares(ledger_backend, cycles):
    led = new_ledger(ledger_backend)
    for c, acts in enumerate(cycles, 1):
        run_cycle(led, c, acts)
        for a in led.accounts():
            assert led.open_positions(a.name) == [(p.symbol, p.qty, p.avg_cost) for p in led.positions(a.name) if p.qty]
    led.close()
