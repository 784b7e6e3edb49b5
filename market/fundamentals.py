"""Fundamental values: a correlated geometric random walk per stock, with optional jumps.

Each stock's log value moves every tick by

    d log V = (drift - vol^2 / 2) + vol * s_t * (L z)_i  +  jumps

where `L` is the Cholesky factor of a constant pairwise correlation matrix (one common factor), `z` is
standard normal, and `s_t` is an optional GARCH(1,1)-style volatility multiplier per stock (off by default;
issue 8 tunes it for volatility clustering). Jumps arrive as a Poisson process per stock, each a normal
log-jump. The ETF has no fundamental of its own: its fair value is the basket NAV of the component
fundamentals, computed by `Instrument.nav`.

Values are floats (cents) because they are a statistical model, not a price anyone trades at; agents turn
them into on-tick integer prices with `Instrument.round_to_tick`. The state is a handful of small numpy
arrays, so pickling it costs a few hundred bytes. The random generator is passed in by the owner
(BackgroundMarket), which keeps one stream per component.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from pydantic import Field, model_validator

from market.frozen_model import FrozenModel
from market.instruments import Instrument, InstrumentKind


class FundamentalConfig(FrozenModel):
    """Parameters of the fundamental process. All rates are per tick; log-returns are fractions."""

    drift_per_tick: float = 0.0
    volatility_per_tick: float = Field(0.0004, ge=0.0)  # std of log-return per tick (4 bps)
    correlation: float = Field(0.5, ge=0.0, lt=1.0)  # pairwise correlation of the stocks' shocks
    volatility_overrides: dict[str, float] = Field(default_factory=dict)  # symbol -> vol per tick
    drift_overrides: dict[str, float] = Field(default_factory=dict)  # symbol -> drift per tick
    jump_intensity: float = Field(0.0, ge=0.0)  # expected jumps per stock per tick
    jump_mean: float = 0.0  # mean log-jump
    jump_std: float = Field(0.01, ge=0.0)  # std of the log-jump
    garch_alpha: float = Field(0.0, ge=0.0)  # weight of the last squared shock (0: constant volatility)
    garch_beta: float = Field(0.0, ge=0.0)  # persistence of the variance

    @model_validator(mode="after")
    def _stationary(self) -> FundamentalConfig:
        if self.garch_alpha + self.garch_beta >= 1.0:
            raise ValueError("garch_alpha + garch_beta must be < 1 for a stationary variance")
        return self


class LogValues:
    """Reading and pickling shared by every fundamental process that keeps stocks' log values in `_log`
    (in `symbols` order, indexed by `_index`) and its ETFs in `_etfs`. Subclasses declare `__slots__`."""

    __slots__ = ()

    def value(self, symbol: str) -> float:
        """Fair value in cents (float): the stock's fundamental, or an ETF's basket NAV."""
        k = self._index.get(symbol)
        if k is not None:
            return float(np.exp(self._log[k]))
        etf = self._etfs.get(symbol)
        if etf is None:
            raise KeyError(symbol)
        return etf.nav(self.values())

    def values(self) -> dict[str, float]:
        """Every stock's fundamental value in cents."""
        return dict(zip(self.symbols, np.exp(self._log).tolist(), strict=True))

    def stock_array(self) -> np.ndarray:
        """Stock values as an array in `symbols` order (cents); a copy."""
        return np.exp(self._log)

    def log_values(self) -> np.ndarray:
        return self._log.copy()

    def __getstate__(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


class Fundamentals(LogValues):
    """The fundamental value of each stock, advanced one tick at a time by `step(rng)`."""

    __slots__ = ("symbols", "_index", "_log", "_drift", "_vol", "_chol", "_var_mult", "_cfg", "_etfs")

    def __init__(self, instruments: Iterable[Instrument], config: FundamentalConfig | None = None) -> None:
        cfg = config or FundamentalConfig()
        insts = list(instruments)
        stocks = [i for i in insts if i.kind is InstrumentKind.STOCK]
        self._cfg = cfg
        self.symbols: tuple[str, ...] = tuple(s.symbol for s in stocks)
        self._index = {sym: k for k, sym in enumerate(self.symbols)}
        self._etfs = {i.symbol: i for i in insts if i.kind is InstrumentKind.ETF}
        self._log = np.log(np.array([s.initial_price for s in stocks], dtype=float))
        # per-stock parameters and the GARCH state are plain lists of floats: with a handful of stocks,
        # Python arithmetic is cheaper than numpy calls, and elementwise IEEE operations give the same bits
        self._vol = [float(cfg.volatility_overrides.get(s, cfg.volatility_per_tick)) for s in self.symbols]
        self._drift = [float(cfg.drift_overrides.get(s, cfg.drift_per_tick)) for s in self.symbols]
        n = len(self.symbols)
        corr = np.full((n, n), cfg.correlation) + (1.0 - cfg.correlation) * np.eye(n)
        self._chol = np.linalg.cholesky(corr) if n else np.zeros((0, 0))
        self._var_mult = [1.0] * n  # GARCH variance multiplier relative to the base volatility

    # -- evolution -------------------------------------------------------------------------------------
    def step(self, rng: np.random.Generator) -> None:
        """Advance every stock's fundamental by one tick.

        Element by element this is the array expression
            m' = (1 - a - b) + a * (shock * sqrt(m))^2 + b * m,   vol = base_vol * sqrt(m)
            log_ret = drift - 0.5 * vol^2 + vol * shock  (+ jumps)
        evaluated in that order (squares as products), so the result is the same to the last bit."""
        n = len(self.symbols)
        if n == 0:
            return
        cfg = self._cfg
        shocks = (self._chol @ rng.standard_normal(n)).tolist()  # correlated, unit variance
        a, b = cfg.garch_alpha, cfg.garch_beta
        if a or b:
            vol = []
            self._var_mult = _garch(shocks, self._vol, self._var_mult, a, b, vol)
        else:
            vol = self._vol
        log_ret = _log_returns(self._drift, vol, shocks)
        if cfg.jump_intensity > 0.0:
            jumps = rng.poisson(cfg.jump_intensity, n)
            if np.count_nonzero(jumps):
                log_ret = np.array(log_ret) + jumps * cfg.jump_mean + np.sqrt(jumps) * cfg.jump_std * rng.standard_normal(n)
        self._log = self._log + log_ret


def _garch(shocks: list, base_vol: list, var_mult: list, a: float, b: float, vol: list) -> list:
    """The GARCH step of `Fundamentals.step`: the new variance multipliers (returned) and this tick's
    volatilities (appended to `vol`), element by element. (A function of the module, not a method, so that
    fundamentals.pxd can give it C types.)"""
    c0 = 1.0 - a - b  # the variance multiplier mean-reverts to 1
    sqrt = math.sqrt
    mult = []
    for s, v, m in zip(shocks, base_vol, var_mult, strict=True):
        root = sqrt(m)
        scaled = s * root
        mult.append(c0 + a * (scaled * scaled) + b * m)
        vol.append(v * root)
    return mult


def _log_returns(drift: list, vol: list, shocks: list) -> list:
    """`drift - 0.5 * vol^2 + vol * shock`, element by element (squares as products)."""
    out = []
    for d, v, s in zip(drift, vol, shocks, strict=True):
        out.append(d - 0.5 * (v * v) + v * s)
    return out


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
