"""Endowments: per-trader opening deposits, fixed or drawn from a seeded range, recorded in the ledger."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config
from hypothesis import given, settings
from hypothesis import strategies as st

from floor.scenario_file import parse
from floor.scenario_setup import endowments
from floor.session import FloorSession
from market.instruments import DEFAULT_UNIVERSE

SYMBOLS = [i.symbol for i in DEFAULT_UNIVERSE]
SEED_001 = {"endowments": {"default": {"cash": [50_000, 200_000], "shares": [5, 20]}}}  # $500-2,000, 5-20 shares


def test_seed_001_ranges_are_recorded_as_opening_deposits(tmp_path):
    cfg = fast_config(warmup_cycles=2)
    s = FloorSession(tmp_path / "floor.db", cfg)
    s.floor.scenario = parse({**SEED_001, "endowments": {**SEED_001["endowments"],
                              "traders": {cfg.traders[0].name: {"cash": 123_456, "shares": {"NVDA": 7}}}}})
    s.start(seed=21)
    try:
        ledger = s.floor.ledger
        first = cfg.traders[0].name
        assert ledger.cash(first) == 123_456
        assert {p.symbol: p.qty for p in ledger.positions(first) if p.qty} == {"NVDA": 7}
        for t in cfg.traders[1:]:
            assert 50_000 <= ledger.cash(t.name) <= 200_000
            held = {p.symbol: p.qty for p in ledger.positions(t.name)}
            assert set(held) == set(SYMBOLS) and all(5 <= q <= 20 for q in held.values())
        cashes = {ledger.cash(t.name) for t in cfg.traders[1:]}
        assert len(cashes) > 1  # drawn, not identical
        accounts = {a.name: a for a in ledger.accounts()}
        assert accounts[first].cash == 123_456
        s.run(2)  # the run goes on from these deposits; the ledger's invariants hold
        assert ledger.cash(first) >= 0
    finally:
        s.close()


def test_endowment_draws_depend_only_on_the_seed():
    traders = fast_config().traders
    scn = parse(SEED_001)
    assert endowments(scn, traders, SYMBOLS, 3) == endowments(scn, traders, SYMBOLS, 3)
    assert endowments(scn, traders, SYMBOLS, 3) != endowments(scn, traders, SYMBOLS, 4)
    plain = endowments(None, traders, SYMBOLS, 3)
    assert plain == {t.name: (t.initial_cash, {}) for t in traders}


@settings(max_examples=40, deadline=None)
@given(lo=st.integers(0, 10**6), span=st.integers(0, 10**6), slo=st.integers(0, 50), sspan=st.integers(0, 50),
       seed=st.integers(0, 2**32))
def test_draws_stay_inside_their_ranges(lo, span, slo, sspan, seed):
    scn = parse({"endowments": {"default": {"cash": [lo, lo + span], "shares": {"AAPL": [slo, slo + sspan], "FLOR": 3}}}})
    for cash, holdings in endowments(scn, fast_config().traders, SYMBOLS, seed).values():
        assert lo <= cash <= lo + span
        assert slo <= holdings["AAPL"] <= slo + sspan and holdings["FLOR"] == 3 and set(holdings) == {"AAPL", "FLOR"}


def test_endowments_for_an_unknown_trader_are_refused(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config(warmup_cycles=0))
    s.floor.scenario = parse({"endowments": {"traders": {"nobody": {"cash": 5}}}})
    try:
        with pytest.raises(ValueError, match="endowments for unknown trader\\(s\\) nobody"):
            s.start(seed=1)
    finally:
        s.close()
