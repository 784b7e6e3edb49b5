"""Background liquidity: fundamentals-driven market makers, noise traders and value traders.

`BackgroundMarket(config, seed=...)` is handed to `Exchange(background=...)`, which calls its
`on_tick(exchange)` once per simulated tick. See population.py for the order of play.
"""
from market.background.config import (
    BackgroundConfig,
    MarketMakerConfig,
    NoiseTraderConfig,
    ValueTraderConfig,
)
from market.background.population import BackgroundMarket
from market.fundamentals import FundamentalConfig, Fundamentals

__all__ = [
    "BackgroundConfig",
    "BackgroundMarket",
    "FundamentalConfig",
    "Fundamentals",
    "MarketMakerConfig",
    "NoiseTraderConfig",
    "ValueTraderConfig",
]
