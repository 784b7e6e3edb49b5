"""Typed configuration of the background market: frozen pydantic models that reject unknown keys.

Distances are in basis points of the reference price (1 bp = 0.01 %) so one setting fits a $120 and a
$410 stock alike; agents round the result to the instrument's tick. Rates are expected events per agent
per tick. Quantities are in lots (multiplied by each instrument's lot size).

Defaults aim at a lively but cheap market: with 20 ticks per cycle a cycle carries about 385
background orders (about 140 from noise traders, 18 from value traders, the rest maker quotes and
pick-offs) and about 135 trades across the six symbols, at about 3 ms per cycle (`python -m bench background`). The fundamental moves 4 bp per tick (about
18 bp per cycle). The market makers keep three levels of GTC quotes a few basis points around their
estimate, so the books are never empty when the floor traders decide (DAY orders have just expired
then). The message rate of the makers grows with (volatility / level spacing): that ratio, not the
population size, is what sets the cost per tick. `track_move_steps`, `quote_interval_ticks` and
`pick_off_bps` decide how fast the mid follows the fundamental, hence the short-lag autocorrelation of
mid returns (docs/realism.md).

Upper bounds. Every size that costs memory or time has a cap far above the defaults and the tests, so a
typo (or `FLOOR_MARKET__NOISE__COUNT=100000000`) is refused at load time with the cap in the message,
instead of taking gigabytes in cycle 1:

| setting | default | cap |
|---|---|---|
| `noise.count` | 1,000 | `MAX_NOISE_TRADERS` = 1,000,000 |
| `value.count` | 100 | `MAX_VALUE_TRADERS` = 100,000 |
| `market_makers.count` | 2 | `MAX_MARKET_MAKERS` = 1,000 |
| `market_makers.levels`, `ladder_slack_levels` | 3, 1 | `MAX_QUOTE_LEVELS` = 50 |
| `noise.rate_per_tick`, `value.rate_per_tick` | 0.007, 0.01 | `MAX_RATE_PER_TICK` = 1.0 |
| `ticks_per_cycle` | 20 | `MAX_TICKS_PER_CYCLE` = 10,000 |
| expected orders per cycle, (noise.count x rate + value.count x rate) x ticks_per_cycle | 160 | `MAX_ORDERS_PER_CYCLE` = 1,000,000 |
| `seed` | 7 | `SEED_MAX` = 2**63 - 1 (seeds are stored in 64-bit SQLite integers) |

A cycle's events are held in memory until the cycle ends, hence the bound on the expected number of
background orders per cycle, the product that decides the cost (the ledger also stores at most 2**20
fills per cycle).
"""
from __future__ import annotations

from pydantic import Field, model_validator

from market.frozen_model import FrozenModel
from market.fundamentals import FundamentalConfig

SEED_MAX = 2**63 - 1  # the largest seed: seeds are stored in SQLite INTEGER columns (64-bit signed)
MAX_NOISE_TRADERS = 1_000_000
MAX_VALUE_TRADERS = 100_000
MAX_MARKET_MAKERS = 1_000
MAX_QUOTE_LEVELS = 50
MAX_RATE_PER_TICK = 1.0
MAX_TICKS_PER_CYCLE = 10_000
MAX_ORDERS_PER_CYCLE = 1_000_000




class MarketMakerConfig(FrozenModel):
    """Market makers quote `levels` bids and asks around their estimate, skewed by inventory."""

    count: int = Field(2, ge=0, le=MAX_MARKET_MAKERS)
    half_spread_bps: float = Field(2.0, ge=0.0)  # distance of the first level from the centre
    min_half_spread_ticks: int = Field(1, ge=1)
    levels: int = Field(3, ge=1, le=MAX_QUOTE_LEVELS)
    level_spacing_bps: float = Field(4.0, ge=0.0)
    min_level_spacing_ticks: int = Field(1, ge=1)
    quote_lots: int = Field(50, ge=1)  # size of each level
    inventory_limit_lots: int = Field(1500, ge=1)  # |position| never exceeds this, per symbol
    skew_bps: float = Field(6.0, ge=0.0)  # centre shift at full inventory (against the inventory)
    estimate_noise_bps: float = Field(3.0, ge=0.0)  # stationary std of each maker's estimate error
    estimate_persistence: float = Field(0.98, ge=0.0, lt=1.0)  # AR(1) coefficient of that error
    quote_interval_ticks: int = Field(5, ge=1)  # a maker looks at each symbol every this many ticks ...
    track_move_steps: int = Field(2, ge=0)  # ... and in any tick where its best quote would move this many grid steps (0: never)
    ladder_slack_levels: int = Field(1, ge=0, le=MAX_QUOTE_LEVELS)  # lazy ladder: keep up to levels + slack per side, refill below levels - slack
    pick_off_bps: float | None = Field(1.5, ge=0.0)  # take others' orders through the centre by more than this (None: never)
    requote_inventory_lots: int = Field(50, ge=1)  # requote when the ladder moved, or inventory changed
    max_quote_age_ticks: int = Field(50, ge=1)  # ... or the quotes are this old


class NoiseTraderConfig(FrozenModel):
    """Noise traders arrive as Poisson processes and send market or limit orders around the mid."""

    count: int = Field(1000, ge=0, le=MAX_NOISE_TRADERS)
    rate_per_tick: float = Field(0.007, ge=0.0, le=MAX_RATE_PER_TICK)  # expected orders per trader per tick
    market_order_prob: float = Field(0.15, ge=0.0, le=1.0)
    aggressive_limit_prob: float = Field(0.15, ge=0.0, le=1.0)  # limit that crosses the spread
    aggressive_bps: float = Field(3.0, ge=0.0)  # max distance beyond the opposite best
    passive_offset_bps: float = Field(6.0, ge=0.0)  # mean distance behind the mid (exponential)
    max_offset_bps: float = Field(60.0, ge=0.0)
    mean_lots: float = Field(4.0, ge=1.0)  # order size: 1 + geometric, capped
    max_lots: int = Field(40, ge=1)
    symbol_weights: dict[str, float] = Field(default_factory=dict)  # empty: all symbols alike


class ValueTraderConfig(FrozenModel):
    """Value traders hold a persistent, noisy view of the fundamental and trade toward it."""

    count: int = Field(100, ge=0, le=MAX_VALUE_TRADERS)
    rate_per_tick: float = Field(0.01, ge=0.0, le=MAX_RATE_PER_TICK)
    view_bias_bps: float = Field(8.0, ge=0.0)  # stationary std of each trader's bias per symbol
    view_bias_persistence: float = Field(0.9, ge=0.0, le=1.0)  # AR(1) coefficient, one step per decision
    view_noise_bps: float = Field(4.0, ge=0.0)  # fresh noise at each decision
    threshold_bps: float = Field(4.0, ge=0.0)  # below this mispricing the target position is flat
    full_position_bps: float = Field(25.0, gt=0.0)  # mispricing at which the target is the full position
    edge_bps: float = Field(1.0, ge=0.0)  # limit price is the view minus/plus this edge
    mean_lots: float = Field(8.0, ge=1.0)
    max_lots: int = Field(60, ge=1)
    max_position_lots: int = Field(600, ge=1)  # per trader and symbol


# Tuned by the realism check (issue 8, docs/realism.md): a slow GARCH(1,1) volatility multiplier (persistence
# alpha + beta = 0.998 per tick, about 0.96 per 20-tick cycle) gives volatility clustering and fat tails,
# and rare small jumps (one per stock per 1,000 ticks, 30 bp std) give a Hill tail index inside 2-5.
# The unconditional volatility stays `volatility_per_tick` (the GARCH multiplier has mean 1).
REALISTIC_FUNDAMENTALS = {"garch_alpha": 0.03, "garch_beta": 0.968, "jump_intensity": 0.001, "jump_std": 0.003}


class BackgroundConfig(FrozenModel):
    """The whole background market. `seed` is the master seed of every background random stream."""

    seed: int = Field(7, ge=0, le=SEED_MAX)
    ticks_per_cycle: int = Field(20, ge=1, le=MAX_TICKS_PER_CYCLE)
    fundamentals: FundamentalConfig = Field(default_factory=lambda: FundamentalConfig(**REALISTIC_FUNDAMENTALS))
    market_makers: MarketMakerConfig = Field(default_factory=MarketMakerConfig)
    noise: NoiseTraderConfig = Field(default_factory=NoiseTraderConfig)
    value: ValueTraderConfig = Field(default_factory=ValueTraderConfig)

    @model_validator(mode="after")
    def _bounded_work(self) -> BackgroundConfig:
        per_tick = self.noise.count * self.noise.rate_per_tick + self.value.count * self.value.rate_per_tick
        expected = per_tick * self.ticks_per_cycle
        if expected > MAX_ORDERS_PER_CYCLE:
            raise ValueError(
                f"the background market would send about {expected:,.0f} orders per cycle "
                f"((noise.count x noise.rate_per_tick + value.count x value.rate_per_tick) x ticks_per_cycle); "
                f"at most {MAX_ORDERS_PER_CYCLE:,} are allowed: lower a count, a rate or ticks_per_cycle")
        return self
