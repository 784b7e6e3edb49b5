"""Instruments: symbols with a tick size and a lot size, and an ETF defined by a basket.

Prices are integer cents. `tick_size` is in cents: a valid price is a positive multiple of it.
`lot_size` is in shares: a valid quantity is a positive multiple of it.
An ETF's basket says how many shares of each component make one creation unit of `units` ETF
shares, so its fair value (NAV) per share is sum(shares * price) / units.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class InstrumentKind(StrEnum):
    STOCK = "stock"
    ETF = "etf"


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    name: str
    initial_price: int  # cents; the starting fundamental value
    tick_size: int = 1
    lot_size: int = 1
    kind: InstrumentKind = InstrumentKind.STOCK
    basket: tuple[tuple[str, int], ...] = field(default=())  # ETF only: (component, shares per unit)
    units: int = 1  # ETF only: ETF shares per creation unit

    def nav(self, prices: Mapping[str, int | float]) -> float:
        """Fair value per ETF share from component prices (cents, as a float for precision)."""
        if self.kind is not InstrumentKind.ETF:
            raise ValueError(f"{self.symbol} is not an ETF")
        return sum(shares * prices[sym] for sym, shares in self.basket) / self.units

    def on_tick(self, price: int) -> bool:
        return price > 0 and price % self.tick_size == 0

    def round_to_tick(self, price: float) -> int:
        """Nearest valid price, never below one tick."""
        return max(self.tick_size, int(round(price / self.tick_size)) * self.tick_size)


STOCKS: tuple[Instrument, ...] = (
    Instrument("AAPL", "Apple", 19000),
    Instrument("MSFT", "Microsoft", 41000),
    Instrument("NVDA", "Nvidia", 12000),
    Instrument("AMZN", "Amazon", 18000),
    Instrument("GOOG", "Alphabet", 16500),
)

FLOOR_ETF = Instrument(
    "FLOR",
    "Floor 5 ETF (one share of each stock per 10 ETF shares)",
    initial_price=10650,
    kind=InstrumentKind.ETF,
    basket=tuple((s.symbol, 1) for s in STOCKS),
    units=10,
)

DEFAULT_UNIVERSE: tuple[Instrument, ...] = (*STOCKS, FLOOR_ETF)


def universe_by_symbol(instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE) -> dict[str, Instrument]:
    return {inst.symbol: inst for inst in instruments}
