"""Typed configuration of the floor's traders, LLM endpoints, group chat and topic choice.

Every model is frozen and rejects unknown keys. `load_config(path)` reads YAML and applies environment
overrides through pydantic-settings: variables prefixed `FLOOR_`, nested with `__`, for example
`FLOOR_CHAT__ROUNDS=3`, or a whole list as JSON, `FLOOR_TRADERS='[...]'`. Environment beats YAML.
Secrets never live in the file: an LLM config names the environment variable holding its key
(`api_key_env`), and `LLMConfig.api_key()` reads it.

A trader's `params` are validated against its theory's `Params` model (unknown keys rejected, defaults
filled in), so a typo in YAML fails at load time, not in cycle 300.

A floor needs at least one trader, and sizes that cost memory or time have caps far above the defaults,
refused at load time with the cap in the message: at most `MAX_TRADERS` (1,000) traders,
`MAX_CHAT_ROUNDS` (10) chat rounds of at most `MAX_MESSAGE_CHARS` (10,000) characters per message,
`MAX_HISTORY_LOOKBACK` (256) cycles of history in a snapshot (also the cap of `topic.mover_lookback`),
`MAX_WARMUP_CYCLES` (1,000) background-only warm-up cycles before cycle 1,
and `MAX_CASH` cents (10**15, $10 trillion) of initial cash or cash floor per trader, so that the
ledger's 64-bit sums cannot overflow. The background market's caps are in market/background/config.py;
the seed is at most `SEED_MAX` (2**63 - 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from market.background.config import SEED_MAX, BackgroundConfig
from traders.llm.settings import BudgetConfig, LLMConfig
from traders.trader_config import TraderConfig

DEFAULT_CONFIG_PATH = Path(__file__).with_name("floor.yaml")

_FROZEN = ConfigDict(frozen=True, extra="forbid")
MAX_TRADERS = 1_000
MAX_CHAT_ROUNDS = 10
MAX_MESSAGE_CHARS = 10_000
MAX_HISTORY_LOOKBACK = 256
MAX_WARMUP_CYCLES = 1_000


class ChatSettings(BaseModel):
    model_config = _FROZEN

    enabled: bool = True
    rounds: int = Field(default=2, ge=0, le=MAX_CHAT_ROUNDS)
    routing: Literal["broadcast", "mention"] = "mention"  # "mention": later rounds reply with @mentions
    max_message_chars: int = Field(default=400, ge=40, le=MAX_MESSAGE_CHARS)


class TopicSettings(BaseModel):
    """Thresholds that make a market event worth a discussion (each scored as magnitude / threshold)."""

    model_config = _FROZEN

    mover_lookback: int = Field(default=1, ge=1, le=MAX_HISTORY_LOOKBACK)  # cycles over which a mover's return is measured
    min_move_pct: float = Field(default=0.005, gt=0)
    etf_dislocation_pct: float = Field(default=0.003, gt=0)
    big_fill_qty: int = Field(default=200, gt=0)


class FloorConfig(BaseSettings):
    """The whole floor: traders, LLM endpoints, chat and topic settings."""

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix="FLOOR_", env_nested_delimiter="__"
    )

    traders: tuple[TraderConfig, ...] = Field(default=(), max_length=MAX_TRADERS)
    llm_configs: tuple[LLMConfig, ...] = ()
    chat: ChatSettings = ChatSettings()
    topic: TopicSettings = TopicSettings()
    history_lookback: int = Field(default=60, ge=2, le=MAX_HISTORY_LOOKBACK)  # cycles of history in each snapshot
    # background-only cycles before cycle 1 (numbered 1-N .. 0, settled at cycle 0), so that the theories start
    # with a history of closes: 32 covers risk parity's 30 returns
    warmup_cycles: int = Field(default=32, ge=0, le=MAX_WARMUP_CYCLES)
    llm_budget: BudgetConfig = BudgetConfig()
    market: BackgroundConfig = BackgroundConfig()  # background liquidity and ticks per cycle
    seed: int = Field(default=7, ge=0, le=SEED_MAX)  # master seed: every random stream of a run derives from it
    approval: bool = False  # pause before execution for a person to approve the proposed orders
    fee_bps: int = Field(default=0, ge=0, le=1000)  # exchange fee per side, in basis points

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # Environment first so it overrides the YAML passed in as init kwargs; no dotenv, no secrets dir.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _consistent(self) -> FloorConfig:
        if not self.traders:
            raise ValueError("the floor has no traders: list at least one under `traders:` in the config "
                             "(or in FLOOR_TRADERS)")
        names = [t.name for t in self.traders]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate trader names: {', '.join(dupes)}")
        llm_names = [c.name for c in self.llm_configs]
        if len(set(llm_names)) != len(llm_names):
            raise ValueError("duplicate llm_configs names")
        for t in self.traders:
            if t.llm is not None and t.llm not in llm_names:
                raise ValueError(f"trader {t.name!r} names unknown llm config {t.llm!r}")
            if t.mode == "llm" and t.llm is None and not llm_names:
                raise ValueError(f"trader {t.name!r} is in llm mode but no llm_configs are defined")
        return self

    @property
    def has_llm_traders(self) -> bool:
        """Whether any trader runs in LLM mode (LLM budget and cache, parallel fan-out, LLM chat rounds)."""
        return any(t.mode == "llm" for t in self.traders)

    def trader(self, name: str) -> TraderConfig:
        """The trader named `name` (a dict lookup: the graph asks several times per trader and cycle)."""
        traders = self.traders
        hit = _TRADER_INDEX.get(id(traders))
        if hit is None or hit[0] is not traders:
            hit = _trader_index(traders)
        t = hit[1].get(name)
        if t is None:
            raise KeyError(f"no trader named {name!r}")
        return t

    def llm_for(self, trader: TraderConfig) -> LLMConfig | None:
        """The trader's named LLM config, or the first one defined when it names none."""
        if trader.llm is not None:
            return next(c for c in self.llm_configs if c.name == trader.llm)
        return self.llm_configs[0] if self.llm_configs else None

    def with_mode(self, mode: Literal["rule", "llm"]) -> FloorConfig:
        """A copy with every trader switched to `mode` (the command line's --llm/--no-llm)."""
        traders = [t.model_dump() | {"mode": mode} for t in self.traders]
        return type(self).model_validate(self.model_dump() | {"traders": traders})  # no env re-read


# {id(traders tuple): (that tuple, {name: TraderConfig})}: `FloorConfig.trader`'s index, kept outside the frozen
# model (a cached value inside it would survive `model_copy(update={"traders": ...})`). The entry holds its tuple,
# so the id is not reused while the entry lives, and `is` tells a stale entry from a current one.
_TRADER_INDEX: dict[int, tuple[tuple[TraderConfig, ...], dict[str, TraderConfig]]] = {}


def _trader_index(traders: tuple[TraderConfig, ...]) -> tuple[tuple[TraderConfig, ...], dict[str, TraderConfig]]:
    if len(_TRADER_INDEX) >= 64:  # configs come and go (forks, tests): keep the index small
        _TRADER_INDEX.clear()
    hit = _TRADER_INDEX[id(traders)] = (traders, {t.name: t for t in traders})
    return hit


def load_config(path: str | Path | None = None, **overrides: Any) -> FloorConfig:
    """Load a FloorConfig from YAML (default: the packaged floor.yaml), then FLOOR_* env overrides.

    Keyword `overrides` replace top-level YAML keys before the environment is applied.
    """
    p = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: the top level must be a mapping")
    data.update(overrides)
    return FloorConfig(**data)
