"""`FloorConfig.trader(name)`: a dict lookup that never answers from a stale config."""
from __future__ import annotations

import pytest

from floor.config import load_config


def test_trader_lookup_matches_linear_search():
    cfg = load_config()
    for t in cfg.traders:
        assert cfg.trader(t.name) is t
    with pytest.raises(KeyError, match="no trader named 'nobody'"):
        cfg.trader("nobody")


def test_trader_lookup_follows_copies_and_new_configs():
    cfg = load_config()
    first = cfg.traders[0]
    cfg.trader(first.name)  # indexed
    renamed = first.model_copy(update={"name": "renamed"})
    copy = cfg.model_copy(update={"traders": (renamed, *cfg.traders[1:])})
    assert copy.trader("renamed") is renamed
    with pytest.raises(KeyError):
        copy.trader(first.name)
    assert cfg.trader(first.name) is first  # the original keeps its own index
    llm = cfg.with_mode("llm") if cfg.llm_configs else None
    if llm is not None:
        assert llm.trader(first.name).mode == "llm"
    for _ in range(100):  # many configs: the index stays bounded and right
        c = cfg.model_copy(update={"traders": tuple(cfg.traders)})
        assert c.trader(first.name) is first
