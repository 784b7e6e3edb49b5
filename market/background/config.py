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
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from market.fundamentals import FundamentalConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MarketMakerConfig(_Frozen):
    """Market makers quote `levels` bids and asks around their estimate, skewed by inventory."""

    count: int = Field(2, ge=0)
    half_spread_bps: float = Field(2.0, ge=0.0)  # distance of the first level from the centre
    min_half_spread_ticks: int = Field(1, ge=1)
    levels: int = Field(3, ge=1)
    level_spacing_bps: float = Field(4.0, ge=0.0)
    min_level_spacing_ticks: int = Field(1, ge=1)
    quote_lots: int = Field(50, ge=1)  # size of each level
    inventory_limit_lots: int = Field(1500, ge=1)  # |position| never exceeds this, per symbol
    skew_bps: float = Field(6.0, ge=0.0)  # centre shift at full inventory (against the inventory)
    estimate_noise_bps: float = Field(3.0, ge=0.0)  # stationary std of each maker's estimate error
    estimate_persistence: float = Field(0.98, ge=0.0, lt=1.0)  # AR(1) coefficient of that error
    quote_interval_ticks: int = Field(5, ge=1)  # a maker looks at each symbol every this many ticks ...
    track_move_steps: int = Field(2, ge=0)  # ... and in any tick where its best quote would move this many grid steps (0: never)
    ladder_slack_levels: int = Field(1, ge=0)  # lazy ladder: keep up to levels + slack per side, refill below levels - slack
    pick_off_bps: float | None = Field(1.5, ge=0.0)  # take others' orders through the centre by more than this (None: never)
    requote_inventory_lots: int = Field(50, ge=1)  # requote when the ladder moved, or inventory changed
    max_quote_age_ticks: int = Field(50, ge=1)  # ... or the quotes are this old


class NoiseTraderConfig(_Frozen):
    """Noise traders arrive as Poisson processes and send market or limit orders around the mid."""

    count: int = Field(1000, ge=0)
    rate_per_tick: float = Field(0.007, ge=0.0)  # expected orders per trader per tick
    market_order_prob: float = Field(0.15, ge=0.0, le=1.0)
    aggressive_limit_prob: float = Field(0.15, ge=0.0, le=1.0)  # limit that crosses the spread
    aggressive_bps: float = Field(3.0, ge=0.0)  # max distance beyond the opposite best
    passive_offset_bps: float = Field(6.0, ge=0.0)  # mean distance behind the mid (exponential)
    max_offset_bps: float = Field(60.0, ge=0.0)
    mean_lots: float = Field(4.0, ge=1.0)  # order size: 1 + geometric, capped
    max_lots: int = Field(40, ge=1)
    symbol_weights: dict[str, float] = Field(default_factory=dict)  # empty: all symbols alike


class ValueTraderConfig(_Frozen):
    """Value traders hold a persistent, noisy view of the fundamental and trade toward it."""

    count: int = Field(100, ge=0)
    rate_per_tick: float = Field(0.01, ge=0.0)
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


class BackgroundConfig(_Frozen):
    """The whole background market. `seed` is the master seed of every background random stream."""

    seed: int = Field(7, ge=0)
    ticks_per_cycle: int = Field(20, ge=1)
    fundamentals: FundamentalConfig = Field(default_factory=lambda: FundamentalConfig(**REALISTIC_FUNDAMENTALS))
    market_makers: MarketMakerConfig = Field(default_factory=MarketMakerConfig)
    noise: NoiseTraderConfig = Field(default_factory=NoiseTraderConfig)
    value: ValueTraderConfig = Field(default_factory=ValueTraderConfig)
