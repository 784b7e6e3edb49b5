"""Theory.params validates a config's parameters once per (frozen) config object."""
from __future__ import annotations

from traders.base import get_theory
from traders.trader_config import TraderConfig


def test_params_memo_per_config_object():
    cfg = TraderConfig(name="m", theory="momentum", params={"lookback": 7})
    theory = get_theory("momentum")
    first = theory.params(cfg)
    assert first == theory.Params.model_validate(cfg.params) and first.lookback == 7
    assert theory.params(cfg) is first  # the memo
    other = cfg.model_copy(update={"params": {**cfg.params, "lookback": 9}})  # a new object: validated again
    assert theory.params(other).lookback == 9 and theory.params(cfg) is first
    same_values = TraderConfig(name="m", theory="momentum", params={"lookback": 7})
    assert theory.params(same_values) == first
