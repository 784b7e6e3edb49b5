"""Risk parity's cheaper return matrix, column std and weights give numpy's former results bit for bit."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from traders.risk_parity import column_std, inverse_vol_weights, return_matrix
from traders.sizing import VOL_FLOOR


def former_return_matrix(series, lookback):
    syms = [s for s, v in series.items() if len(v) >= lookback + 1 and min(v[-lookback - 1:]) > 0]
    if not syms:
        return [], np.empty((0, 0))
    prices = np.array([series[s][-lookback - 1:] for s in syms], dtype=float).T
    return syms, np.diff(np.log(prices), axis=0)


def former_inverse_vol_weights(returns):
    vol = np.maximum(returns.std(axis=0, ddof=1), VOL_FLOOR)
    w = 1.0 / vol
    return w / w.sum()


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


prices = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def floor_series(draw):
    n_syms = draw(st.integers(1, 8))
    lookback = draw(st.integers(3, 255))
    length = draw(st.integers(lookback - 2, lookback + 40))
    out = {}
    for k in range(n_syms):
        start = draw(prices)
        steps = draw(st.lists(st.floats(-0.05, 0.05), min_size=length, max_size=length))
        path = [start]
        for r in steps[1:]:
            path.append(round(path[-1] * (1 + r) * 2) / 2 or 0.5)  # half-cent mids, like the floor's
        if draw(st.booleans()) and len(path) > 2:
            path[draw(st.integers(0, len(path) - 1))] = draw(st.sampled_from([0.0, -1.0, path[0]]))
        out[f"S{k}"] = tuple(path)
    return out, lookback


@settings(max_examples=400, deadline=None)
@given(floor_series())
def test_matrix_std_and_weights_match_former_numpy(case):
    series, lookback = case
    syms, rets = return_matrix(series, lookback)
    former_syms, former = former_return_matrix(series, lookback)
    assert syms == former_syms and same_bits(rets, former)
    assert rets.flags.f_contiguous == former.flags.f_contiguous  # the layout numpy's reductions follow
    if syms and rets.shape[0] >= 2:
        assert same_bits(column_std(rets), rets.std(axis=0, ddof=1))
        assert same_bits(inverse_vol_weights(rets), former_inverse_vol_weights(rets))


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 300), st.integers(1, 9), st.sampled_from(["C", "F"]), st.integers(0, 2**32 - 1))
def test_column_std_any_layout(rows, cols, order, seed):
    x = np.asarray(np.random.default_rng(seed).normal(0, 0.02, size=(rows, cols)), order=order)
    assert same_bits(column_std(x), x.std(axis=0, ddof=1))
