"""The C-map forms of log returns and squared deviations (traders/sizing.py) give the former floats exactly."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from traders.mean_reversion import zscore
from traders.sizing import _vol_of, log_returns, squared_deviations


def former_log_returns(series):
    return [math.log(b / a) for a, b in zip(series, series[1:], strict=False) if a > 0 and b > 0]


def former_vol(window):
    rets = former_log_returns(window)
    if len(rets) < 2:
        return 0.002
    mean = sum(rets) / len(rets)
    var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
    return max(math.sqrt(var), 0.002)


def former_zscore(series, lookback):
    if len(series) < lookback + 1:
        return None
    window = series[-lookback - 1:-1]
    mean = sum(window) / len(window)
    std = math.sqrt(sum((x - mean) ** 2 for x in window) / (len(window) - 1))
    std = max(std, mean * 1e-4)
    return (series[-1] - mean) / std, mean, std


def outcome(f, *args):
    try:
        return repr(f(*args))  # bit for bit, NaN included
    except (ValueError, ZeroDivisionError, OverflowError) as exc:  # e.g. log(0.0) after an underflow, both ways
        return type(exc).__name__


def same_call(f, g, *args) -> bool:
    return outcome(f, *args) == outcome(g, *args)


prices = st.floats(min_value=0.5, max_value=1e6)
odd = st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf, 5e-324])
series = st.lists(prices | odd, max_size=40) | st.lists(prices, min_size=2, max_size=40)


@settings(max_examples=800, deadline=None)
@given(series)
def test_log_returns_and_vol_as_before(values):
    for s in (values, tuple(values)):
        assert same_call(log_returns, former_log_returns, s)
    assert same_call(_vol_of.__wrapped__, former_vol, tuple(values))


@settings(max_examples=800, deadline=None)
@given(st.lists(prices, min_size=3, max_size=60), st.integers(2, 50))
def test_zscore_as_before(values, lookback):
    assert same_call(zscore, former_zscore, tuple(values), lookback)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30), st.floats(allow_nan=True))
def test_squared_deviations_as_before(values, mean):
    assert same_call(squared_deviations, lambda v, m: sum((x - m) ** 2 for x in v), values, mean)
