"""What a scenario changes when the Floor opens a run or a fork: opening deposits and the scenario's driver.

Endowments (`Scenario.endowments`): per trader, cash in cents and shares per symbol, each a fixed value or
an inclusive [min, max] range drawn with the run's seed (seed 001's `initial_cash_min/max` and
`initial_stocks_min/max`). A trader's own entry overrides the default entry key by key; cash not given
anywhere is the trader's `initial_cash`. The draws come from one `random.Random` seeded with the run's
seed and a fixed label, trader by trader in config order, cash first then symbols in universe order, so
the same seed always gives the same deposits, whatever else the run does.

The flash-crash seller trades as `scenario:flash`; the Floor settles it to the background account
`bg:scenario`, opened (deep-pocketed, like the other background classes) when a scenario is attached.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

from market.scenarios import Endowment, Scenario

SCENARIO_ACCOUNT = "bg:scenario"
_LABEL = 0x454E444F  # mixes into the endowment draws' seed, so they never share a stream with anything else


def _draw(rng: random.Random, spec) -> int:
    return spec if isinstance(spec, int) else rng.randint(spec[0], spec[1])


def endowments(scenario: Scenario | None, traders: Sequence, symbols: Sequence[str],
               seed: int) -> dict[str, tuple[int, dict[str, int]]]:
    """{trader: (cash, {symbol: shares})} for every trader of the config (`initial_cash` and no shares
    when the scenario says nothing)."""
    spec = scenario.endowments if scenario is not None else None
    rng = random.Random(seed * 0x100000000 + _LABEL)
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for t in traders:
        if spec is None:
            out[t.name] = (t.initial_cash, {})
            continue
        own = spec.traders.get(t.name, Endowment())
        cash_spec = own.cash if own.cash is not None else spec.default.cash
        shares_spec = own.shares if own.shares is not None else spec.default.shares
        cash = t.initial_cash if cash_spec is None else _draw(rng, cash_spec)
        holdings = {}
        for sym in symbols:
            s = shares_spec.get(sym) if isinstance(shares_spec, dict) else shares_spec
            if s is not None:
                holdings[sym] = _draw(rng, s)
        out[t.name] = (cash, holdings)
    return out


def check_endowment_traders(scenario: Scenario, trader_names: Sequence[str], symbols: Sequence[str]) -> None:
    """Refuse endowments for traders or symbols the run does not have (ValueError, one line)."""
    spec = scenario.endowments
    if spec is None:
        return
    unknown = sorted(set(spec.traders) - set(trader_names))
    if unknown:
        raise ValueError(f"endowments for unknown trader(s) {', '.join(unknown)} (the config's traders: "
                         f"{', '.join(trader_names)})")
    for entry in (spec.default, *spec.traders.values()):
        if isinstance(entry.shares, dict):
            bad = sorted(set(entry.shares) - set(symbols))
            if bad:
                raise ValueError(f"endowments name unknown symbol(s) {', '.join(bad)}")


def fired_events(exchange, cycle: int) -> list[dict]:
    """The scenario events that happened in `cycle` (as dicts: cycle, tick, kind, symbol, headline, source);
    none when the exchange has no scenario. The market tick traces each as a `scenario_event`."""
    from market.scenarios import driver_of

    driver = driver_of(exchange)
    return [] if driver is None else [e.as_dict() for e in driver.fired_in(cycle)]


def headlines(events: list[dict]) -> tuple:
    from traders.snapshot import Headline

    return tuple(Headline(cycle=e["cycle"], kind=e["kind"], symbol=e["symbol"], headline=e["headline"],
                          source=e["source"], move_pct=e.get("move_pct"), tone=e.get("tone")) for e in events)
