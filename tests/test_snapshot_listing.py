"""market_snapshot's specs and ETF baskets, built once per instruments tuple, equal building them every cycle."""
from __future__ import annotations

from market.instruments import DEFAULT_UNIVERSE
from traders.snapshot import Quote, etf_baskets, instrument_specs
from traders.views import _etfs


def test_listing_memo_equals_building_again():
    universe = tuple(DEFAULT_UNIVERSE)
    for quotes in (
        {i.symbol: Quote(bid=i.initial_price - 1, ask=i.initial_price + 2) for i in universe},
        {i.symbol: Quote(last=i.initial_price) for i in universe[1:]},  # a component without a mid: no NAV
        {},
    ):
        for _ in range(2):  # the second time from the memo
            specs, etfs = _etfs(universe, quotes)
            assert specs == instrument_specs(universe)
            assert etfs == etf_baskets(universe, quotes)
            assert [e.nav for e in etfs] == [e.nav for e in etf_baskets(universe, quotes)]
        assert _etfs(list(universe), quotes) == (instrument_specs(universe), etf_baskets(universe, quotes))
