"""Rollback (truncate_after) and fork: exact, and leaving other branches untouched.

Random multi-cycle scripts (reservations, releases, matched and free fills, deposits, traces,
messages, snapshots), each cycle in one transaction. The state recorded right after each cycle is
the reference: after `truncate_after(k)` the ledger must equal the state recorded after cycle k,
and replaying cycles k+1.. must reproduce the original rows exactly. A fork at k must equal the
state at k and must not change its source, whatever is then written on the fork.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.store import Ledger
from ledger.types import Fill

SYMS = ["AAA", "BBB"]
ACCTS = ["a", "b", "c"]

action = st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(ACCTS), st.just("buy"), st.sampled_from(SYMS),
              st.integers(1, 12), st.integers(95, 120)),
    st.tuples(st.just("reserve"), st.sampled_from(ACCTS), st.just("sell"), st.sampled_from(SYMS),
              st.integers(1, 12), st.integers(80, 105)),
    st.tuples(st.just("match"), st.integers(0, 99), st.integers(0, 99), st.integers(0, 30), st.integers(1, 8)),
    st.tuples(st.just("match"), st.integers(0, 99), st.integers(0, 99), st.integers(0, 30), st.integers(1, 8)),
    st.tuples(st.just("release"), st.integers(0, 99), st.one_of(st.none(), st.integers(1, 4))),
    st.tuples(st.just("free"), st.sampled_from(ACCTS), st.sampled_from(ACCTS), st.sampled_from(SYMS),
              st.integers(80, 120), st.integers(1, 6)),
    st.tuples(st.just("deposit"), st.sampled_from(ACCTS), st.integers(1, 500)),
    st.tuples(st.just("open"), st.integers(0, 3)),
)
script = st.lists(st.lists(action, min_size=1, max_size=6), min_size=3, max_size=10)


def new_ledger(backend, target=None) -> Ledger:
    led = backend.open(target, fee_bps=20, allow_short=True, short_limit=10, symbols=SYMS)
    led.start_run(config={"test": 1}, seed=3)
    for i, a in enumerate(ACCTS):
        led.open_account(a, theory=f"t{i}", cash=20_000 + 1000 * i, holdings={"AAA": 10 + i, "BBB": 5}, cost={"AAA": 100})
    return led


def run_cycle(led: Ledger, cycle: int, actions, tag: str = "") -> None:
    """Apply one cycle's actions; every choice depends only on the ledger's visible state."""
    with led.transaction():
        fills = []
        for i, act in enumerate(actions):
            kind = act[0]
            open_orders = sorted(o["order_id"] for o in led.orders(status="reserved", limit=None)
                                 if led.reserved_for(o["order_id"]))
            if kind == "reserve":
                _, a, side, s, q, lim = act
                oid = f"{tag}c{cycle}o{i}"
                if led.reserve(order_id=oid, account=a, side=side, symbol=s, qty=q, limit_price=lim, cycle=cycle) is None:
                    led.record_order(cycle=cycle, order_id=oid, account=a, side=side, symbol=s, qty=q,
                                     limit_price=lim, status="reserved")
            elif kind == "release" and open_orders:
                oid = open_orders[act[1] % len(open_orders)]
                rem = led.reserved_for(oid)[0]
                led.release(oid, None if act[2] is None else min(act[2], rem), cycle=cycle)
            elif kind == "match" and open_orders:
                orders = {o["order_id"]: o for o in led.orders(status="reserved", limit=None)}
                bo, so = open_orders[act[1] % len(open_orders)], open_orders[act[2] % len(open_orders)]
                B, S = orders[bo], orders[so]
                if B["side"] == "buy" and S["side"] == "sell" and B["account"] != S["account"] \
                        and B["symbol"] == S["symbol"] and B["limit_price"] >= S["limit_price"]:
                    q = min(act[4], led.reserved_for(bo)[0], led.reserved_for(so)[0])
                    price = S["limit_price"] + act[3] % (B["limit_price"] - S["limit_price"] + 1)
                    fills.append(Fill(f"{tag}f{cycle}-{i}", cycle, i, B["symbol"], price, q, B["account"],
                                      S["account"], bo, so))
                    if led.settle(cycle, fills[-1:]).ok is False:
                        fills.pop()
            elif kind == "free" and act[1] != act[2]:
                _, b, s, sym, p, q = act
                led.settle(cycle, [Fill(f"{tag}f{cycle}-{i}", cycle, i, sym, p, q, b, s)])
            elif kind == "deposit":
                led.deposit(act[1], act[2], transfer_id=f"{tag}d{cycle}-{i}", cycle=cycle)
            elif kind == "open":
                name = f"{tag}new{cycle}-{i}"
                led.open_account(name, cash=1000 * (act[1] + 1), holdings={"BBB": act[1]}, cycle=cycle)
        led.record_trace(cycle, "a", "decide", "decision", {"cycle": cycle, "n": len(actions)})
        led.record_message(cycle, "b", f"cycle {cycle}", sentiment=0.1, topic="AAA")
        led.record_snapshot(cycle, {"AAA": 100 + cycle, "BBB": 90})


def own_rows(led: Ledger) -> dict:
    """The branch's own stored rows, byte for byte (for replay identity on one branch)."""
    b = led.branch_id
    return {t: led.conn.execute(f"SELECT * FROM {t} WHERE branch_id=? ORDER BY 1, 2, 3, 4, 5", (b,)).fetchall()
            for t in ("fills", "lots", "balances", "positions", "reservations", "releases", "transfers", "accounts")}


def observe(led: Ledger) -> dict:
    """Everything a caller can see: stored state, views from memory, history reads."""
    names = [a.name for a in led.accounts()]
    return {
        "dump": led.dump_state(),
        "accounts": led.accounts(),
        "positions": {n: led.positions(n, {"AAA": 100, "BBB": 90}) for n in names},
        "lots": {n: led.lots(n) for n in names},
        "fills": led.fills(limit=None),
        "traces": led.traces(limit=None),
        "messages": led.messages(limit=None),
        "orders": led.orders(limit=None),
        "journal": sorted(led.journal(), key=repr),
        "values": {n: led.value_history(n) for n in names},
    }


SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(script, st.data())
def test_truncate_after_restores_exact_state_and_replay_is_identical(ledger_backend, cycles, data):
    led = new_ledger(ledger_backend)
    seen = {0: (observe(led), own_rows(led))}
    for c, acts in enumerate(cycles, 1):
        run_cycle(led, c, acts)
        seen[c] = (observe(led), own_rows(led))
    k = data.draw(st.integers(0, len(cycles)))
    led.truncate_after(k)
    assert observe(led) == seen[k][0]
    assert led.last_cycle() == (k if k > 0 else 0)
    for c in range(k + 1, len(cycles) + 1):
        run_cycle(led, c, cycles[c - 1])
        assert (observe(led), own_rows(led)) == seen[c]
    led.close()


@SETTINGS
@given(script, script, st.data())
def test_fork_sees_the_past_exactly_and_leaves_the_source_untouched(ledger_backend, cycles, other, data):
    led = new_ledger(ledger_backend)
    main = led.ref
    seen = {0: observe(led)}
    for c, acts in enumerate(cycles, 1):
        run_cycle(led, c, acts)
        seen[c] = observe(led)
    final = seen[len(cycles)]
    k = data.draw(st.integers(0, len(cycles)))
    fork_id = led.fork(k, name="what-if")
    assert led.branch_id == fork_id != main.branch_id
    assert observe(led) == seen[k]
    # writing on the fork (other actions, other ids) leaves the source as it was
    for j, acts in enumerate(other, k + 1):
        run_cycle(led, j, acts, tag="x")
    after_fork = observe(led)
    led.use(main.run_id, main.branch_id)
    assert observe(led) == final
    # a fork of the fork below its fork point equals the source at that cycle
    led.use(main.run_id, fork_id)
    j = data.draw(st.integers(0, k))
    led.fork(j)
    assert observe(led) == seen[j]
    # truncating the fork below its fork point rebuilds it from the source at that cycle
    led.use(main.run_id, fork_id)
    assert observe(led) == after_fork
    led.truncate_after(j)
    assert observe(led) == seen[j]
    led.use(main.run_id, main.branch_id)
    assert observe(led) == final
    assert [b.branch_id for b in led.list_branches()] == sorted(b.branch_id for b in led.list_branches())
    led.close()


def test_fork_rejects_writes_into_inherited_past(ledger_backend):
    led = new_ledger(ledger_backend)
    for c in (1, 2, 3):
        run_cycle(led, c, [("deposit", "a", 10)])
    led.fork(2)
    try:
        led.record_trace(2, "a", "n", "k", {})
    except LedgerError as e:
        assert e.code == "inherited_past"
    else:
        raise AssertionError("writing at the fork cycle must be refused")
    res = led.settle(1, [Fill("z", 1, 0, "AAA", 100, 1, "a", "b")])
    assert res.rejection.code == "inherited_past"


def test_truncate_persists_across_reopen(ledger_backend):
    path = ledger_backend.target()
    led = new_ledger(ledger_backend, path)
    acts = [("reserve", "a", "buy", "AAA", 5, 110), ("reserve", "b", "sell", "AAA", 5, 90),
            ("match", 0, 1, 3, 4), ("free", "c", "a", "BBB", 95, 2)]
    seen = {}
    for c in range(1, 6):
        run_cycle(led, c, acts)
        seen[c] = observe(led)
    led.truncate_after(2)
    led.close()
    led = Ledger.open(path)
    assert observe(led) == seen[2]
    run_cycle(led, 3, acts)
    assert observe(led) == seen[3]
    led.close()
