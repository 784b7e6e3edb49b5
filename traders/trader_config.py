"""A trader's configuration: its theory and parameters, its mode (rule or LLM), its risk limits.

The theory and its `params` are validated against the registry (traders/registry.py): an unknown theory
or a parameter typo fails at load time, and the parameters come back with their defaults filled in.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from traders.registry import get_theory

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"  # usable as an @mention
MAX_CASH = 10**15  # cents: the ledger's 64-bit sums cannot overflow
# Names no trader may take (traders/chat/group_chat.py NEWSWIRE), with the reason the error gives.
RESERVED_NAMES = {"newswire": "a scenario's rumours are posted in the group chat under it"}


class RiskSettings(BaseModel):
    """A trader's risk limits and appetite (seed 001: risk_aversion, expected_return, max_relative_spread).

    - risk_aversion: divides the volatility-targeted position size (2 trades half as big as 1).
    - max_position: shares held per symbol, counting open buy orders.
    - max_order_qty: shares per single order.
    - cash_floor: cents of cash that buying never spends.
    - stop_loss_pct: a long position whose mark is this fraction below its average cost is sold.
    - max_relative_spread: price collar, the largest |limit - mid| / mid an order may have.
    - expected_return: the smallest expected edge (fraction of price) a signal must promise to trade.
    """

    model_config = _FROZEN

    risk_aversion: float = Field(default=1.0, gt=0)
    max_position: int = Field(default=500, ge=0)
    max_order_qty: int = Field(default=100, gt=0)
    cash_floor: int = Field(default=1_000_000, ge=0, le=MAX_CASH)  # cents
    stop_loss_pct: float = Field(default=0.08, gt=0, lt=1)
    max_relative_spread: float = Field(default=0.02, gt=0, lt=1)
    expected_return: float = Field(default=0.001, ge=0)


class LearningSettings(BaseModel):
    """Rule-mode learning (traders/memory/): the learner picks `param` among `grid` each cycle from the
    markouts (after `horizon` cycles) of the trader's `neighbours` most similar past situations."""

    model_config = _FROZEN

    param: str
    grid: tuple[float, ...] = Field(min_length=2, max_length=8)
    horizon: int = Field(default=5, ge=1, le=100)
    neighbours: int = Field(default=40, ge=1, le=1000)
    # LLM mode (traders/memory/llm_memory.py): the most similar memories shown in the prompt, a reflection
    # every `reflect_every` cycles (0: never), lessons embedded by an OpenAI-compatible endpoint if set
    prompt_memories: int = Field(default=5, ge=0, le=10)
    reflect_every: int = Field(default=0, ge=0, le=10_000)
    embeddings_base_url: str | None = None
    embeddings_model: str = "text-embedding-3-small"


class TraderConfig(BaseModel):
    model_config = _FROZEN

    name: str = Field(pattern=_NAME_PATTERN)
    theory: str
    mode: Literal["rule", "llm"] = "rule"
    llm: str | None = None  # name of an entry in FloorConfig.llm_configs
    tools: Literal["local", "mcp"] = "local"  # LLM mode: in-process tools, or the MCP market/accounts servers
    initial_cash: int = Field(default=10_000_000, gt=0, le=MAX_CASH)  # cents ($100,000)
    params: dict[str, Any] = Field(default_factory=dict)
    risk: RiskSettings = RiskSettings()
    learning: LearningSettings | None = None  # off by default: the trader's parameters stay fixed

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"the name {value!r} is reserved: {RESERVED_NAMES[value]}; choose another trader name")
        return value

    @field_validator("theory")
    @classmethod
    def _known_theory(cls, value: str) -> str:
        try:
            get_theory(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return value

    @field_validator("params")
    @classmethod
    def _valid_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        theory = info.data.get("theory")
        if theory is None:  # the theory itself failed validation; that error is reported
            return value
        return get_theory(theory).Params.model_validate(value).model_dump()

    @model_validator(mode="after")
    def _valid_learning(self) -> TraderConfig:
        if self.learning is not None:
            params = get_theory(self.theory).Params
            if self.learning.param not in params.model_fields:
                raise ValueError(f"learning.param {self.learning.param!r} is not a parameter of theory {self.theory}")
            for value in self.learning.grid:
                params.model_validate(self.params | {self.learning.param: value})
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        if out.get("learning", 0) is None:  # a config without learning dumps as before learning existed
            del out["learning"]
        return out
