"""Typed floor configuration: YAML loading, validation per theory, env overrides, secrets from env."""
from __future__ import annotations

import pydantic
import pytest
import yaml

from floor.config import DEFAULT_CONFIG_PATH, FloorConfig, load_config
from traders.trader_config import TraderConfig


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("FLOOR_"):
            monkeypatch.delenv(key)


def write(tmp_path, data) -> str:
    p = tmp_path / "floor.yaml"
    p.write_text(yaml.safe_dump(data))
    return str(p)


def minimal(**extra):
    return {"traders": [{"name": "m", "theory": "momentum"}], **extra}


def test_default_config_has_six_traders_one_per_theory_in_rule_mode():
    cfg = load_config()
    assert len(cfg.traders) == 6
    assert {t.theory for t in cfg.traders} == {"momentum", "mean_reversion", "risk_parity", "arbitrage",
                                               "trend_following", "sentiment"}
    assert all(t.mode == "rule" for t in cfg.traders)
    assert {c.name for c in cfg.llm_configs} >= {t.llm for t in cfg.traders}
    mom = cfg.trader("momentum")
    assert mom.params["lookback"] == 10 and mom.params["vol_lookback"] == 20  # validated, defaults filled
    assert 0 < mom.risk.max_relative_spread < 1 and mom.risk.cash_floor > 0


def test_unknown_keys_theories_and_params_are_rejected(tmp_path):
    with pytest.raises(pydantic.ValidationError, match="extra"):
        load_config(write(tmp_path, minimal(surprise=1)))
    with pytest.raises(pydantic.ValidationError, match="unknown theory"):
        TraderConfig(name="x", theory="astrology")
    with pytest.raises(pydantic.ValidationError, match="lookbak"):
        TraderConfig(name="x", theory="momentum", params={"lookbak": 5})
    with pytest.raises(pydantic.ValidationError, match="fast must be shorter"):
        TraderConfig(name="x", theory="trend_following", params={"fast": 30, "slow": 20})
    with pytest.raises(pydantic.ValidationError):
        TraderConfig(name="x", theory="momentum", risk={"stop_loss_pct": 1.5})
    with pytest.raises(pydantic.ValidationError):
        TraderConfig(name="Bad Name!", theory="momentum")  # names must work as @mentions
    with pytest.raises(pydantic.ValidationError):
        TraderConfig(name="x", theory="momentum", risk={"api_key": "sk-leak"})


def test_cross_references_are_checked():
    with pytest.raises(pydantic.ValidationError, match="unknown llm config"):
        FloorConfig(traders=[{"name": "m", "theory": "momentum", "llm": "nope"}])
    with pytest.raises(pydantic.ValidationError, match="duplicate trader"):
        FloorConfig(traders=[{"name": "m", "theory": "momentum"}, {"name": "m", "theory": "arbitrage"}])
    with pytest.raises(pydantic.ValidationError, match="no llm_configs"):
        FloorConfig(traders=[{"name": "m", "theory": "momentum", "mode": "llm"}])


def test_config_is_frozen():
    cfg = load_config()
    with pytest.raises(pydantic.ValidationError):
        cfg.chat = None
    with pytest.raises(pydantic.ValidationError):
        cfg.traders[0].risk.max_position = 10**9


def test_environment_overrides_yaml(tmp_path, monkeypatch):
    path = write(tmp_path, minimal(chat={"rounds": 2, "routing": "broadcast"}))
    monkeypatch.setenv("FLOOR_CHAT__ROUNDS", "4")
    monkeypatch.setenv("FLOOR_TOPIC__BIG_FILL_QTY", "999")
    cfg = load_config(path)
    assert cfg.chat.rounds == 4 and cfg.chat.routing == "broadcast" and cfg.topic.big_fill_qty == 999
    monkeypatch.setenv("FLOOR_TRADERS", '[{"name": "solo", "theory": "arbitrage", "params": {"threshold": 0.01}}]')
    cfg = load_config(path)
    assert [t.name for t in cfg.traders] == ["solo"] and cfg.traders[0].params["threshold"] == 0.01


def test_llm_configs_seed_format_and_keys_only_from_env(tmp_path, monkeypatch):
    data = minimal(llm_configs=[{"name": "local", "client": "openai", "model": "m1", "temperature": 0.3,
                                 "max_tokens": 256, "use_cache": True, "base_url": "http://127.0.0.1:9/v1",
                                 "api_key_env": "MY_TEST_KEY"}])
    data["traders"][0] |= {"mode": "llm", "llm": "local"}
    cfg = load_config(write(tmp_path, data))
    llm = cfg.llm_for(cfg.traders[0])
    assert (llm.model, llm.base_url, llm.max_tokens, llm.temperature) == ("m1", "http://127.0.0.1:9/v1", 256, 0.3)
    assert llm.api_key() is None
    monkeypatch.setenv("MY_TEST_KEY", "secret")
    assert llm.api_key() == "secret"
    assert "secret" not in cfg.model_dump_json()
    bad = minimal(llm_configs=[{"name": "x", "model": "m", "api_key": "sk-in-the-file"}])
    with pytest.raises(pydantic.ValidationError):
        load_config(write(tmp_path, bad))


def test_with_mode_switches_every_trader():
    cfg = load_config()
    llm = cfg.with_mode("llm")
    assert all(t.mode == "llm" for t in llm.traders) and all(t.mode == "rule" for t in cfg.traders)
    assert llm.traders[0].params == cfg.traders[0].params


def test_packaged_yaml_round_trips():
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    again = FloorConfig.model_validate(load_config().model_dump())
    assert [t.name for t in again.traders] == [t["name"] for t in raw["traders"]]
