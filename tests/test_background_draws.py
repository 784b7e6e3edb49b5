"""The background agents rely on two facts about numpy's Generator to draw cheaply without changing the
random stream: n scalar `integers(low, high)` draws equal one `integers(low, high, n)` draw, value for value,
and leave the generator in the same state (market/background/value_trader.py); and elementwise float
arithmetic on Python floats gives the same bits as the same expression on float64 arrays
(market/fundamentals.py, market/background/market_maker.py). A numpy upgrade that broke the first would
change every seeded background run, so it is checked here."""
from __future__ import annotations

import math

import numpy as np
import pytest


@pytest.mark.parametrize("high", [1, 2, 6, 100, 1000, 2**31, 2**32 - 1, 2**40])
def test_scalar_integers_draws_equal_one_sized_draw(high):
    batch = np.random.Generator(np.random.PCG64(11))
    single = np.random.Generator(np.random.PCG64(11))
    for n in [0, 1, 2, 3, 1, 5, 8, 1, 1, 13]:
        # interleave other draws, as the value traders do, so that any buffered bits would show
        assert batch.standard_normal(2).tolist() == single.standard_normal(2).tolist()
        assert batch.integers(0, high, n).tolist() == [int(single.integers(0, high)) for _ in range(n)]
        assert batch.integers(0, 6, n).tolist() == [int(single.integers(0, 6)) for _ in range(n)]
    assert batch.bit_generator.state == single.bit_generator.state


def test_list_arithmetic_matches_array_arithmetic_bit_for_bit():
    rng = np.random.Generator(np.random.PCG64(3))
    shocks, mult, vol, drift = rng.standard_normal(50), rng.random(50) + 0.5, rng.random(50) * 1e-3, rng.random(50) * 1e-6
    a, b = 0.03, 0.968
    # the array form, as market/fundamentals.py wrote it before it moved to lists
    scaled = shocks * np.sqrt(mult)
    vol_t = vol * np.sqrt(mult)
    mult_next = (1.0 - a - b) + a * scaled**2 + b * mult
    log_ret = drift - 0.5 * vol_t**2 + vol_t * shocks
    c0 = 1.0 - a - b
    for k in range(50):
        root = math.sqrt(mult[k])
        s = float(shocks[k]) * root
        v = float(vol[k]) * root
        assert c0 + a * (s * s) + b * float(mult[k]) == mult_next[k]
        assert float(drift[k]) - 0.5 * (v * v) + v * float(shocks[k]) == log_ret[k]
