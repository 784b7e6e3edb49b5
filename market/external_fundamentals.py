"""An external fundamental path: replay given closes (e.g. a historical OHLCV file) as the fundamentals.

`PathFundamentals` has the reading and stepping interface of `market.fundamentals.Fundamentals`
(`symbols`, `step(rng)`, `value`, `values`, `stock_array`, `log_values`), so it can stand in for it:

    bg = BackgroundMarket(config, seed=seed)
    bg.fundamentals = PathFundamentals(bg.instruments, closes, ticks_per_cycle=config.ticks_per_cycle)

No existing module changes: `BackgroundMarket` only calls `fundamentals.step(rng)` and reads values.

`closes` maps a stock symbol to its closes in cents, one per cycle; `closes[s][0]` is the level at cycle 0
(before the first tick). During cycle k (1-based) the log value moves linearly from close k-1 to close k
over the cycle's ticks, so each cycle ends exactly on its close; after the last close the value stays
there. Stocks missing from `closes` stay at their instrument's initial price. The random generator is
accepted and not used: the path is given, and the background agents keep their own streams.
Only the per-cycle closes are stored (not a per-tick path), so a snapshot stays a few kilobytes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from market.fundamentals import LogValues
from market.instruments import Instrument, InstrumentKind


class PathFundamentals(LogValues):
    __slots__ = ("symbols", "_index", "_etfs", "_log_closes", "_ticks_per_cycle", "_tick", "_log")

    def __init__(self, instruments: Iterable[Instrument], closes: Mapping[str, Sequence[float]], *,
                 ticks_per_cycle: int) -> None:
        insts = list(instruments)
        stocks = [i for i in insts if i.kind is InstrumentKind.STOCK]
        self.symbols: tuple[str, ...] = tuple(s.symbol for s in stocks)
        self._index = {sym: k for k, sym in enumerate(self.symbols)}
        self._etfs = {i.symbol: i for i in insts if i.kind is InstrumentKind.ETF}
        unknown = set(closes) - set(self.symbols)
        if unknown:
            raise ValueError(f"closes for symbols that are not stocks here: {sorted(unknown)}")
        length = max((len(v) for v in closes.values()), default=1)
        if ticks_per_cycle < 1 or length < 1:
            raise ValueError("need ticks_per_cycle >= 1 and at least one close")
        table = np.empty((length, len(stocks)))
        for k, inst in enumerate(stocks):
            path = np.asarray(closes.get(inst.symbol, [inst.initial_price]), dtype=float)
            if (path <= 0).any():
                raise ValueError(f"{inst.symbol}: closes must be positive")
            table[:, k] = np.log(np.concatenate([path, np.full(length - len(path), path[-1])]))
        self._log_closes = table
        self._ticks_per_cycle = int(ticks_per_cycle)
        self._tick = 0
        self._log = table[0].copy()

    @property
    def cycles(self) -> int:
        """Cycles the path covers (closes after the first)."""
        return len(self._log_closes) - 1

    def step(self, rng: np.random.Generator | None = None) -> None:
        self._tick += 1
        k, j = divmod(self._tick - 1, self._ticks_per_cycle)  # cycle k+1, tick j+1 within it
        last = len(self._log_closes) - 1
        if k >= last:
            self._log = self._log_closes[last].copy()
            return
        w = (j + 1) / self._ticks_per_cycle
        self._log = (1.0 - w) * self._log_closes[k] + w * self._log_closes[k + 1]
