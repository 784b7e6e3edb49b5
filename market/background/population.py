"""BackgroundMarket: the fundamentals plus every background agent, advanced one tick at a time.

The Exchange calls `on_tick(exchange)` once per tick inside `advance`. Each tick:
1. the fundamentals take one step;
2. market makers refresh their quotes where needed (so liquidity is there before anyone takes it);
3. noise traders' arrivals are sent;
4. value traders' arrivals are sent.
The fixed order, plus one random stream per component, makes the event stream a pure function of the
master seed and of what the floor traders did. Streams come from `SeedSequence(seed).spawn(...)` with
PCG64 generators: 128-bit state each, so the whole object pickles to a few kilobytes and rides along
inside `Exchange.snapshot()`. The object never keeps a reference to the exchange.

`reconfigure(config, exchange)` lets the same market go on with other parameters (a fork's config):
the streams, the fundamentals' path and the agents' state carry over; see its docstring.
"""
from __future__ import annotations

from operator import mul as _mul

import numpy as np

from market.background.config import BackgroundConfig
from market.background.market_maker import MarketMakers
from market.background.noise_trader import NoiseTraders
from market.background.value_trader import ValueTraders
from market.fundamentals import Fundamentals
from market.instruments import DEFAULT_UNIVERSE, Instrument, InstrumentKind

_STREAMS = ("fundamentals", "market_makers", "noise", "value", "setup")
_RECONFIGURE = 0x7265636F  # names the stream that seeds agents added by `reconfigure` (with the seed and tick)


class BackgroundMarket:
    """Background liquidity for an Exchange. `seed` overrides `config.seed` when given."""

    def __init__(
        self,
        config: BackgroundConfig | None = None,
        *,
        instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE,
        seed: int | None = None,
    ) -> None:
        cfg = config or BackgroundConfig()
        if seed is not None:
            cfg = cfg.model_copy(update={"seed": seed})
        self.config = cfg
        self.instruments = tuple(instruments)
        children = np.random.SeedSequence(cfg.seed).spawn(len(_STREAMS))
        self.rngs = {name: np.random.Generator(np.random.PCG64(ss)) for name, ss in zip(_STREAMS, children, strict=True)}
        setup = self.rngs.pop("setup")  # one-off draws (biases) that must not shift the running streams
        self.fundamentals = Fundamentals(self.instruments, cfg.fundamentals)
        stocks = self.fundamentals.symbols
        self.market_makers = MarketMakers(cfg.market_makers, self.instruments, stocks, setup)
        self.noise = NoiseTraders(cfg.noise, self.instruments)
        self.value = ValueTraders(cfg.value, self.instruments, stocks, setup)
        self.ticks = 0  # ticks this background market has been advanced
        self._etfs = _etf_baskets(self.instruments)

    @property
    def ticks_per_cycle(self) -> int:
        return self.config.ticks_per_cycle

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_etfs", None)  # derived from the instruments: rebuilt on load
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._etfs = _etf_baskets(self.instruments)

    def reconfigure(self, config: BackgroundConfig, exchange) -> list:
        """Go on with other settings (a fork's `market` config), as the same market: every random stream
        stays where it stands, and so do the tick count, the order ids, the fundamentals' values and
        volatility state, and each remaining agent's own state (makers' estimate errors, quotes and
        inventory; value traders' view biases). `config.seed` is ignored: the streams were seeded once,
        from the run's seed.

        A component whose settings did not change is left exactly as it is, so an unchanged config
        changes nothing at all. Agents added by a larger `count` draw their initial state from a stream of
        their own (derived from the seed and the tick), so the running streams do not move; makers removed
        by a smaller `count` withdraw their resting quotes. Other settings apply from the next tick (the
        makers look at every symbol then). Returns the exchange's events (those cancels)."""
        old = self.config
        cfg = config.model_copy(update={"seed": old.seed})
        if cfg == old:
            return []
        added = np.random.Generator(np.random.PCG64(np.random.SeedSequence([old.seed, self.ticks, _RECONFIGURE])))
        events: list = []
        if cfg.fundamentals != old.fundamentals and type(self.fundamentals) is Fundamentals:
            self.fundamentals = _refit(self.fundamentals, self.instruments, cfg.fundamentals)
        if cfg.market_makers != old.market_makers:
            events += self.market_makers.reconfigure(cfg.market_makers, added, exchange)
        if cfg.noise != old.noise:
            self.noise = self.noise.reconfigured(cfg.noise)
        if cfg.value != old.value:
            self.value.reconfigure(cfg.value, added)
        self.config = cfg
        return events

    def fair_values(self) -> dict[str, float]:
        """Fundamental value of every instrument in cents: stocks from the walk, ETFs as basket NAV."""
        fair = self.fundamentals.values()
        for sym, components, shares, units in self._etfs:  # Instrument.nav, on the precomputed basket
            fair[sym] = sum(map(_mul, shares, map(fair.__getitem__, components))) / units
        return fair

    # A scenario's driver (market/scenarios/driver.py), when one is attached: it acts before the agents at
    # every tick and looks at the market after them. A class default, so that a market without a scenario
    # pickles and plays exactly as before.
    scenario = None

    def on_tick(self, exchange) -> list:
        """Advance one tick: step the fundamentals and let every agent act on `exchange`; return events."""
        rngs = self.rngs
        scenario = self.scenario
        self.fundamentals.step(rngs["fundamentals"])
        pre = scenario.before_tick(self, exchange) if scenario is not None else None
        fair = self.fair_values()
        events = self.market_makers.act(exchange, fair, rngs["market_makers"], self.ticks)
        events += self.noise.act(exchange, fair, rngs["noise"])
        events += self.value.act(exchange, fair, rngs["value"])
        self.ticks += 1
        if scenario is not None:
            events = pre + events + scenario.after_tick(self, exchange)
        return events

    def stats(self) -> dict[str, int]:
        """Messages sent so far, per class (submits, and the makers' cancels)."""
        return {
            "noise_orders": self.noise.orders_sent,
            "value_orders": self.value.orders_sent,
            "mm_orders": self.market_makers.orders_sent,
            "mm_cancels": self.market_makers.cancels_sent,
            "mm_picked_off": self.market_makers.picked_off,  # IOC orders (counted in mm_orders too)
            "orders": self.noise.orders_sent + self.value.orders_sent + self.market_makers.orders_sent,
            "messages": self.noise.orders_sent
            + self.value.orders_sent
            + self.market_makers.orders_sent
            + self.market_makers.cancels_sent,
        }


def _refit(old: Fundamentals, instruments, config) -> Fundamentals:
    """Fundamentals with `config`'s parameters, standing where `old` stands: the same log values and
    GARCH variance multipliers (the state `Fundamentals.step` carries from tick to tick)."""
    new = Fundamentals(instruments, config)
    new._log = old._log.copy()
    new._var_mult = list(old._var_mult)
    return new


def _etf_baskets(instruments) -> list[tuple[str, tuple[str, ...], tuple[int, ...], int]]:
    """(symbol, component symbols, shares per unit, units) of each ETF, in instrument order."""
    return [(inst.symbol, tuple(s for s, _ in inst.basket), tuple(n for _, n in inst.basket), inst.units)
            for inst in instruments if inst.kind is InstrumentKind.ETF]


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
