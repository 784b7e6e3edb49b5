"""The fundamental price process: correlation, volatility, drift, jumps, determinism, ETF NAV."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from market.fundamentals import FundamentalConfig, Fundamentals
from market.instruments import DEFAULT_UNIVERSE, FLOOR_ETF, STOCKS


def _path(config: FundamentalConfig, ticks: int, seed: int = 1) -> np.ndarray:
    fund = Fundamentals(DEFAULT_UNIVERSE, config)
    rng = np.random.Generator(np.random.PCG64(seed))
    out = np.empty((ticks + 1, len(fund.symbols)))
    out[0] = fund.log_values()
    for t in range(ticks):
        fund.step(rng)
        out[t + 1] = fund.log_values()
    return out


def test_only_stocks_have_a_fundamental_and_start_at_initial_price():
    fund = Fundamentals(DEFAULT_UNIVERSE)
    assert fund.symbols == tuple(s.symbol for s in STOCKS)
    for s in STOCKS:
        assert fund.value(s.symbol) == pytest.approx(s.initial_price)
    # the ETF's fair value is the NAV of the component fundamentals
    assert fund.value("FLOR") == pytest.approx(FLOOR_ETF.nav({s.symbol: s.initial_price for s in STOCKS}))
    with pytest.raises(KeyError):
        fund.value("NOPE")


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.7])
def test_return_correlation_and_volatility_match_config(rho):
    cfg = FundamentalConfig(volatility_per_tick=0.001, correlation=rho)
    rets = np.diff(_path(cfg, 8000, seed=11), axis=0)
    corr = np.corrcoef(rets.T)
    off_diag = corr[~np.eye(len(corr), dtype=bool)]
    # the standard error of a correlation estimate from 8000 samples is about 0.011
    assert abs(off_diag.mean() - rho) < 0.03
    assert np.all(np.abs(off_diag - rho) < 0.06)
    assert np.allclose(rets.std(axis=0), 0.001, rtol=0.05)


def test_drift_and_overrides_apply_per_symbol():
    cfg = FundamentalConfig(
        volatility_per_tick=0.0005,
        drift_per_tick=0.0,
        drift_overrides={"NVDA": 0.0005},
        volatility_overrides={"MSFT": 0.002},
    )
    rets = np.diff(_path(cfg, 6000, seed=3), axis=0)
    idx = {s.symbol: k for k, s in enumerate(STOCKS)}
    assert rets[:, idx["NVDA"]].mean() == pytest.approx(0.0005, abs=0.0001)
    assert abs(rets[:, idx["AAPL"]].mean()) < 0.0001
    assert rets[:, idx["MSFT"]].std() == pytest.approx(0.002, rel=0.05)


def test_jumps_fatten_the_tails():
    calm = np.diff(_path(FundamentalConfig(volatility_per_tick=0.001), 6000, seed=5), axis=0)
    jumpy = np.diff(
        _path(FundamentalConfig(volatility_per_tick=0.001, jump_intensity=0.01, jump_std=0.01), 6000, seed=5),
        axis=0,
    )

    def kurt(x):
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        return (z**4).mean() - 3.0

    assert np.all(np.abs(kurt(calm)) < 0.5)
    assert np.all(kurt(jumpy) > 3.0)


def test_garch_option_clusters_volatility():
    flat = np.diff(_path(FundamentalConfig(volatility_per_tick=0.001), 8000, seed=9), axis=0)[:, 0]
    garch = np.diff(
        _path(FundamentalConfig(volatility_per_tick=0.001, garch_alpha=0.1, garch_beta=0.85), 8000, seed=9), axis=0
    )[:, 0]

    def abs_autocorr(x, lag=1):
        a = np.abs(x) - np.abs(x).mean()
        return float((a[:-lag] * a[lag:]).mean() / (a * a).mean())

    assert abs(abs_autocorr(flat)) < 0.05
    assert abs_autocorr(garch) > 0.1


def test_same_seed_same_path_and_pickle_roundtrip():
    cfg = FundamentalConfig(jump_intensity=0.01)
    assert np.array_equal(_path(cfg, 500, seed=2), _path(cfg, 500, seed=2))
    assert not np.array_equal(_path(cfg, 500, seed=2), _path(cfg, 500, seed=3))

    fund = Fundamentals(DEFAULT_UNIVERSE, cfg)
    rng = np.random.Generator(np.random.PCG64(4))
    for _ in range(50):
        fund.step(rng)
    twin, twin_rng = pickle.loads(pickle.dumps((fund, rng)))
    for _ in range(50):
        fund.step(rng)
        twin.step(twin_rng)
    assert fund.values() == twin.values()


def test_config_is_frozen_and_rejects_unknown_keys():
    with pytest.raises(ValidationError):
        FundamentalConfig(volatility=0.1)
    with pytest.raises(ValidationError):
        FundamentalConfig(garch_alpha=0.5, garch_beta=0.6)
    cfg = FundamentalConfig()
    with pytest.raises(ValidationError):
        cfg.correlation = 0.9
