"""A fork's config is honoured on the fork's branch only: fees, risk limits, the group chat and the background market; what a
fork cannot change is refused with a reason; a fork with an unchanged config repeats the original line.

Every whole-floor test compares the original thread, continued after the fork, with a straight run of the
same seed in another database: the fork must not change the original's future by one fill or one row.
"""
from __future__ import annotations

import inspect
import sqlite3

import pytest
from floor_helpers import fast_config, ledger_fills, trader_orders
from test_market_journal import books_of  # the whole exchange as a comparable value

from floor.fork_config import ForkConfigError, check_fork_config, resolve_fork_config
from floor.runtime import KEYFRAME_EVERY, AlignmentError
from floor.session import FloorSession, SessionError
from ledger.errors import LedgerError, RejectCode
from ledger.state import fee_for
from ledger.store import Ledger

SEED = 5


def _session(path, cfg=None) -> FloorSession:
    s = FloorSession(path, cfg or fast_config())
    s.start(seed=SEED)
    return s


def _straight(tmp_path, cycles: int) -> tuple[list, dict]:
    """Fills of cycles 1..`cycles` and the final ledger state of a run that was never forked."""
    s = _session(tmp_path / "straight.db")
    try:
        s.run(cycles)
        return ledger_fills(s, range(1, cycles + 1)), s.floor.ledger.dump_state()
    finally:
        s.close()


def _with(cfg, **update):
    return cfg.model_copy(update=update)


def _with_risk(cfg, **risk):
    return cfg.model_copy(update={"traders": tuple(
        t.model_copy(update={"risk": t.risk.model_copy(update=risk)}) for t in cfg.traders)})


def _with_market(cfg, **sections):
    market = cfg.market.model_copy(update={k: getattr(cfg.market, k).model_copy(update=v) if isinstance(v, dict)
                                           else v for k, v in sections.items()})
    return cfg.model_copy(update={"market": market})


def _fills(session, cycles) -> list[dict]:
    return [f for c in cycles for f in session.floor.ledger.fills(cycle=c, limit=None)]


def _continue_original(session, thread_id: str, until: int) -> None:
    session.use_thread(thread_id)
    session.run(until - session.state()["cycle"])


# ----- fees ------------------------------------------------------------------------------------------------
def test_a_fork_charges_its_own_fee_and_the_original_goes_on_as_if_never_forked(tmp_path):
    expected_fills, expected_state = _straight(tmp_path, 28)
    db = tmp_path / "floor.db"
    s = _session(db)
    try:
        s.run(24)
        original = s.thread.thread_id
        fork = s.fork(21, _with(s.floor.config, fee_bps=5))
        s.run(3)
        assert s.state()["cycle"] == 24
        assert s.floor.ledger.branch_fee_bps == 5
        fills = _fills(s, range(22, 25))
        traders = set(s.floor.trader_names)
        assert any(traders & {f["buyer"], f["seller"]} for f in fills), "a floor trader should trade on the fork"
        for f in fills:  # every fill on the fork, the traders' and the background's, pays 5 bps a side
            assert f["buyer_fee"] == f["seller_fee"] == fee_for(f["price"] * f["qty"], 5) > 0
        assert all(f["buyer_fee"] == f["seller_fee"] == 0 for f in _fills(s, range(1, 22)))  # inherited past
        fork_branch = s.state()["branch_id"]
        # the fee is stored with the branch, for readers and exports
        row = s.floor.ledger.conn.execute("SELECT fee_bps FROM branches WHERE branch_id=?", (fork_branch,)).fetchone()
        assert row == (5,)

        _continue_original(s, original, 28)
        assert s.floor.ledger.branch_fee_bps == 0
        assert ledger_fills(s, range(1, 29)) == expected_fills
        assert s.floor.ledger.dump_state() == expected_state
    finally:
        s.close()

    # a new process (with the default fee in its own config) opening the fork's thread charges the fork's fee
    s = FloorSession(db, fast_config(), thread_id=fork.thread_id)
    try:
        s.run(2)
        assert s.state()["branch_id"] == fork_branch and s.state()["cycle"] == 26
        fills = _fills(s, [25, 26])
        assert fills and all(f["buyer_fee"] == fee_for(f["price"] * f["qty"], 5) > 0 for f in fills)
    finally:
        s.close()


# ----- risk limits -----------------------------------------------------------------------------------------
def test_a_fork_with_a_smaller_order_limit_respects_it_and_the_original_does_not(tmp_path):
    expected_fills, expected_state = _straight(tmp_path, 28)  # the traders start ordering at cycle 20
    s = _session(tmp_path / "floor.db")
    try:
        s.run(24)
        original = s.thread.thread_id
        s.fork(18, _with_risk(s.floor.config, max_order_qty=5))
        s.run(6)
        traders = set(s.floor.trader_names)
        on_fork = [dict(o) for o in trader_orders(s, range(19, 25))]
        sent = [o for o in on_fork if o["status"] == "submitted"]
        assert sent, "the traders should order on the fork"
        # the rule traders size their orders within the limit; anything above it would be rejected
        assert all(o["qty"] <= 5 for o in on_fork if o["status"] != "rejected")
        assert all(o["reason"] == "max_order_qty" for o in on_fork if o["status"] == "rejected")
        assert all(f["qty"] <= 5 for f in _fills(s, range(19, 25)) if traders & {f["buyer"], f["seller"]})

        _continue_original(s, original, 28)
        original_orders = [dict(o) for o in trader_orders(s, range(19, 29))]
        assert any(o["qty"] > 5 and o["status"] == "submitted" for o in original_orders), "the limit must matter"
        assert ledger_fills(s, range(1, 29)) == expected_fills
        assert s.floor.ledger.dump_state() == expected_state
    finally:
        s.close()


# ----- the group chat --------------------------------------------------------------------------------------
def test_a_fork_with_the_chat_off_is_silent_and_the_original_keeps_talking(tmp_path):
    expected_fills, expected_state = _straight(tmp_path, 28)
    s = _session(tmp_path / "floor.db")
    try:
        s.run(24)
        original = s.thread.thread_id
        said_before = s.floor.ledger.messages(limit=None)
        assert any(m["cycle"] > 18 for m in said_before), "the traders should talk in the cycles the fork re-runs"
        s.fork(18, _with(s.floor.config, chat=s.floor.config.chat.model_copy(update={"enabled": False})))
        s.run(6)
        on_fork = s.floor.ledger.messages(limit=None)
        assert on_fork and all(m["cycle"] <= 18 for m in on_fork)  # the inherited past stays, nothing new is said
        assert on_fork == [m for m in said_before if m["cycle"] <= 18]

        _continue_original(s, original, 28)
        assert any(m["cycle"] > 24 for m in s.floor.ledger.messages(limit=None)), "the original goes on talking"
        assert ledger_fills(s, range(1, 29)) == expected_fills
        assert s.floor.ledger.dump_state() == expected_state
    finally:
        s.close()


# ----- the background market -------------------------------------------------------------------------------
def test_a_fork_runs_its_own_background_market_and_the_original_keeps_its_own(tmp_path):
    at = KEYFRAME_EVERY  # the parent has a keyframe at the fork cycle too: the fork's own must win
    expected_fills, expected_state = _straight(tmp_path, at + 8)
    db = tmp_path / "floor.db"
    s = _session(db)
    live = {}
    try:
        s.run(at + 4)
        original = s.thread.thread_id
        base = s.floor.config
        original_bg = [f for f in _fills(s, range(at + 1, at + 5)) if f["buyer"].startswith("bg:")]
        cfg = _with_market(base, noise={"count": 900}, value={"count": 60},
                           market_makers={"count": 3, "half_spread_bps": 4.0})
        fork = s.fork(at, cfg)

        def remember(report):
            live[report.cycle] = books_of(s.floor.exchange)

        s.run(4, on_cycle=remember)
        bg = s.floor.exchange.background
        assert (bg.config.noise.count, bg.config.value.count, bg.config.market_makers.count) == (900, 60, 3)
        assert bg.config.seed == SEED  # the run's streams go on
        fork_bg = [f for f in _fills(s, range(at + 1, at + 5)) if f["buyer"].startswith("bg:")]
        assert fork_bg != original_bg
        assert len(fork_bg) > len(original_bg)  # three times the noise traders trade more
        run_id, fork_branch, _ = s.floor.at
        for c in (at + 1, at + 4):  # the fork's books rebuild from its own keyframe and journals
            rebuilt = s.floor.exchange_at(run_id, fork_branch, c)
            assert rebuilt.background.config.noise.count == 900
            assert books_of(rebuilt) == live[c]

        _continue_original(s, original, at + 8)
        assert s.floor.exchange.background.config.noise.count == base.market.noise.count
        assert ledger_fills(s, range(1, at + 9)) == expected_fills
        assert s.floor.ledger.dump_state() == expected_state
    finally:
        s.close()

    s = FloorSession(db, fast_config(), thread_id=fork.thread_id)  # a new process on the fork's thread
    try:
        s.run(1)
        assert s.floor.exchange.background.config.noise.count == 900
        assert s.state()["cycle"] == at + 5
    finally:
        s.close()


# ----- an unchanged config ---------------------------------------------------------------------------------
def test_a_fork_with_the_same_config_repeats_the_original_bit_for_bit(tmp_path):
    s = _session(tmp_path / "floor.db")
    try:
        s.run(12)
        original_fills = ledger_fills(s, range(7, 13))
        original_orders = trader_orders(s, range(7, 13))
        original_state = s.floor.ledger.dump_state()
        original_books = books_of(s.floor.exchange)
        s.fork(6, s.floor.config)
        s.run(6)
        assert ledger_fills(s, range(7, 13)) == original_fills
        assert trader_orders(s, range(7, 13)) == original_orders
        assert s.floor.ledger.dump_state() == original_state
        assert books_of(s.floor.exchange) == original_books
        run_id, branch, _ = s.floor.at
        n = s.floor.ledger.conn.execute("SELECT count(*) FROM market_snapshots WHERE branch_id=?", (branch,))
        assert n.fetchone() == (0,)  # nothing of the fork's own was needed
    finally:
        s.close()


# ----- what a fork cannot change ---------------------------------------------------------------------------
TRADER_SET_MESSAGE = (
    "this fork's config changes what a fork keeps from its run. traders: a fork keeps the run's traders "
    "(names and theories), whose accounts and histories continue from the fork cycle, but this config adds "
    "contrarian; removes sentiment; changes the theory of momentum from momentum to mean_reversion. "
    "Start a new run to change them."
)


def _changed_traders(cfg):
    traders = []
    for t in cfg.traders:
        if t.name == "sentiment":
            continue
        if t.name == "momentum":
            t = t.model_copy(update={"theory": "mean_reversion", "params": {}})
        traders.append(t)
    traders.append(cfg.traders[0].model_copy(update={"name": "contrarian"}))
    return cfg.model_copy(update={"traders": tuple(traders)})


def test_a_fork_changing_the_trader_set_is_refused_with_the_reason():
    base = fast_config()
    with pytest.raises(ForkConfigError) as err:
        check_fork_config(base, _changed_traders(base))
    assert str(err.value) == TRADER_SET_MESSAGE
    assert list(err.value.refused) == ["traders"]


def test_seeds_and_initial_cash_are_refused_key_by_key_and_the_rest_is_allowed():
    base = fast_config(seed=SEED)
    richer = base.model_copy(update={"traders": tuple(
        t.model_copy(update={"initial_cash": t.initial_cash * 2}) if t.name == "momentum" else t
        for t in base.traders)})
    new = _with_market(richer, seed=99).model_copy(update={"seed": 6})
    with pytest.raises(ForkConfigError) as err:
        check_fork_config(base, new)
    assert err.value.refused == {
        "traders.momentum.initial_cash": "accounts are funded once, when the run starts, and the fork continues "
                                         "them as they stand (10000000 -> 20000000 cents)",
        "seed": "the fork continues the random streams the run's seed started (5 -> 6)",
        "market.seed": "the background market's streams were seeded once, from the run's seed, and go on "
                       "across the fork (7 -> 99)",
    }
    assert str(err.value).startswith("this fork's config changes what a fork keeps from its run. "
                                     "traders.momentum.initial_cash: accounts are funded once")
    # what a fork honours passes, reordered traders included
    allowed = _with_market(_with_risk(base, max_order_qty=7), noise={"count": 10}, ticks_per_cycle=3)
    allowed = allowed.model_copy(update={"fee_bps": 9, "approval": True, "traders": tuple(reversed(allowed.traders)),
                                         "chat": base.chat.model_copy(update={"rounds": 0})})
    check_fork_config(base, allowed)


def test_resolve_takes_the_run_seed_when_the_fork_config_leaves_it_unset():
    base = fast_config(seed=SEED)
    from_yaml = fast_config(fee_bps=5)  # no `seed:` in the YAML: it means "the run's seed", not 7
    assert "seed" not in from_yaml.model_fields_set
    resolved = resolve_fork_config(base, from_yaml)
    assert (resolved.seed, resolved.fee_bps, resolved.market.seed) == (SEED, 5, base.market.seed)
    with pytest.raises(ForkConfigError, match="seed: the fork continues"):
        resolve_fork_config(base, fast_config(seed=SEED + 1))


def test_floor_fork_refuses_before_writing_anything(tmp_path):
    s = _session(tmp_path / "floor.db")
    try:
        s.run(3)
        branches = s.floor.ledger.conn.execute("SELECT count(*) FROM branches").fetchone()
        st = s.state()
        with pytest.raises(ForkConfigError, match="traders: a fork keeps"):
            s.floor.fork(st["run_id"], st["branch_id"], 2, config=_changed_traders(s.floor.config))
        assert s.floor.ledger.conn.execute("SELECT count(*) FROM branches").fetchone() == branches
    finally:
        s.close()


def test_session_fork_refuses_a_changed_trader_set_and_creates_nothing(tmp_path):
    s = _session(tmp_path / "floor.db")
    try:
        s.run(3)
        thread, threads = s.thread.thread_id, len(s.threads.all())
        with pytest.raises((ForkConfigError, SessionError)) as err:  # surfaces report a SessionError
            s.fork(2, _changed_traders(s.floor.config))
        assert str(err.value) == TRADER_SET_MESSAGE
        assert s.thread.thread_id == thread and len(s.threads.all()) == threads
    finally:
        s.close()


def test_a_branch_that_has_run_cannot_take_another_fee(tmp_path):
    s = _session(tmp_path / "floor.db")
    try:
        s.run(3)
        st = s.state()
        s.floor.use_config(_with(s.floor.config, fee_bps=5))
        with pytest.raises(AlignmentError, match=r"says fee_bps=5, which the branch cannot honour: branch \d+ has "
                                                 r"recorded cycles up to 3 at 0 bps"):
            s.floor.align(st["run_id"], st["branch_id"], st["cycle"])
    finally:
        s.close()


# ----- the ledger: per-branch fees -------------------------------------------------------------------------
def _ledger(path=":memory:", fee=0) -> Ledger:
    led = Ledger.open(path, fee_bps=fee, symbols=["AAA"])
    led.start_run(config={}, seed=1)
    led.open_account("a", cash=1_000_000)
    led.open_account("b", cash=0, holdings={"AAA": 100})
    return led


def test_a_fork_with_another_fee_reholds_open_buy_orders_at_it():
    led = _ledger(fee=0)
    main = led.branch_id
    led.reserve(order_id="o1", account="a", side="buy", symbol="AAA", qty=10, limit_price=1000, cycle=1)
    led.reserve(order_id="o2", account="b", side="sell", symbol="AAA", qty=10, limit_price=980, cycle=1)
    assert led.reserved_cash("a") == 10_000
    led.fork(1)
    led.set_fee(50)  # 0.5 %: 5 cents per share at 1000
    assert (led.branch_fee_bps, led.reserved_cash("a")) == (50, 10 * (1000 + 5))
    from ledger.types import Fill

    assert led.settle(2, [Fill("f1", 2, 0, "AAA", 990, 4, "a", "b", "o1", "o2")]).ok
    assert led.reserved_cash("a") == 6 * 1005  # a fill gives back exactly what it held
    assert led.cash("a") == 1_000_000 - 4 * 990 - fee_for(4 * 990, 50)
    assert led.release("o1", cycle=2) is None and led.reserved_cash("a") == 0
    with pytest.raises(LedgerError) as err:  # it has recorded cycle 2 at 50 bps now
        led.set_fee(0)
    assert err.value.code == RejectCode.FEE_FIXED
    led.truncate_after(1)  # rolled back to its fork point: held at its own fee again
    assert led.reserved_cash("a") == 10 * 1005
    led.use(led.run_id, main)  # the parent is untouched
    assert (led.branch_fee_bps, led.reserved_cash("a")) == (0, 10_000)
    child = led.fork(1)  # a fork inherits its parent's fee
    assert led.branch_fee_bps == 0 and child != main


def test_a_file_made_before_branches_had_a_fee_reads_as_the_runs_fee(tmp_path):
    path = tmp_path / "old.db"
    led = _ledger(path, fee=20)
    led.fork(0)
    led.close()
    conn = sqlite3.connect(path)  # the older layout: no branches.fee_bps
    conn.execute("ALTER TABLE branches DROP COLUMN fee_bps")
    conn.close()
    ro = Ledger.open(path, readonly=True) if "readonly" in inspect.signature(Ledger.open).parameters else None
    if ro is not None:  # a reader cannot add the column: it reads the run's fee
        assert ro.branch_fee_bps == 20
        ro.close()
    led = Ledger.open(path, fee_bps=0)
    assert led.branch_fee_bps == 20  # the column is back, NULL: the run's fee
    assert {r[0] for r in led.conn.execute("SELECT fee_bps FROM branches")} == {None}
    led.fork(0)
    assert led.branch_fee_bps == 20
    led.close()
