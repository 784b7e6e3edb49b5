"""Exchange snapshots are the same bytes in every process: the market's settings models pickle the names of
their given fields sorted (market/frozen_model.py), not in the string-hash order of the process."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from market.background.config import BackgroundConfig, MarketMakerConfig
from market.fundamentals import FundamentalConfig
from market.scenarios.spec import PriceCondition

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import hashlib, sys
from floor.config import load_config
from market.background import BackgroundMarket
from market.exchange import Exchange
cfg = load_config()
ex = Exchange(background=BackgroundMarket(cfg.market, seed=11))
for _ in range(15):
    ex.advance(cfg.market.ticks_per_cycle)
    ex.end_cycle()
print(hashlib.sha256(ex.snapshot()).hexdigest())
"""


def _snapshot_hash(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.strip()


def test_two_processes_with_different_string_hashes_store_the_same_snapshot():
    assert len({_snapshot_hash(seed) for seed in ("1", "2", "3")}) == 1


def test_settings_round_trip_with_their_given_fields():
    for model in (MarketMakerConfig(count=3, skew_bps=1.5), FundamentalConfig(correlation=0.2, jump_std=0.01),
                  BackgroundConfig(seed=5), PriceCondition(symbol="AAPL", falls_pct=5)):
        back = pickle.loads(pickle.dumps(model))
        assert back == model and back.model_fields_set == model.model_fields_set
        assert isinstance(back.model_fields_set, set)


def test_a_snapshot_pickled_before_the_change_still_loads():
    """Older snapshots hold pydantic's own state, the field names as a set."""
    model = MarketMakerConfig(count=3, levels=4)
    old_state = BaseModel.__getstate__(model)
    assert isinstance(old_state["__pydantic_fields_set__"], set)
    back = MarketMakerConfig.__new__(MarketMakerConfig)
    back.__setstate__(old_state)
    assert back == model and back.model_fields_set == {"count", "levels"}
