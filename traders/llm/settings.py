"""Typed settings of the LLM side: named endpoints (seed 001's `llm_configs`), the run's budget, retries.

All models are frozen and reject unknown keys. Secrets are never part of a config: `api_key_env` names
the environment variable that holds the key, and `api_key()` reads it at call time.

Code in `traders.llm` reads an LLM config by attribute only (see `LLMConfigLike`), so the identical model
declared in `floor.config` works too.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class LLMConfig(BaseModel):
    """One named OpenAI-compatible endpoint: OpenAI, Ollama, vLLM or LM Studio through `base_url`.

    `max_retries` is OUR retry count (`traders.llm.resilience`); the OpenAI client itself is built with
    `max_retries=0` so that back-off and fallback stay in one visible place. `streaming` makes the model
    use SSE (`"stream": true`); the decision is the same either way.
    """

    model_config = _FROZEN

    name: str
    client: Literal["openai"] = "openai"
    model: str
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, gt=0)
    use_cache: bool = True
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    streaming: bool = False
    # The longest one decision may take, every turn and retry included: the decide stage of a cycle runs the
    # traders in parallel, so this is the cycle's LLM deadline. A trader that misses it falls back, marked.
    deadline_s: float = Field(default=45.0, gt=0)
    max_retry_after_s: float = Field(default=10.0, ge=0)  # a longer Retry-After is not waited for
    breaker_failures: int = Field(default=3, ge=1)  # consecutive failed decisions that open the circuit
    breaker_cycles: int = Field(default=5, ge=1)  # cycles the endpoint is skipped once the circuit opens

    def api_key(self) -> str | None:
        """The key from the environment, never from the config file."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class LLMConfigLike(Protocol):
    """What `traders.llm` reads from an LLM config (duck-typed; `streaming` is optional)."""

    name: str
    model: str
    temperature: float
    max_tokens: int
    use_cache: bool
    base_url: str | None
    api_key_env: str | None
    timeout_s: float
    max_retries: int
    # optional: deadline_s, max_retry_after_s, breaker_failures, breaker_cycles, streaming (defaults above)


class BudgetConfig(BaseModel):
    """A per-run LLM budget. `None` means no limit on that measure.

    Cost is counted in US dollars from token counts and the two prices below (per million tokens);
    with both prices at 0 only the token limit can bind.
    """

    model_config = _FROZEN

    max_tokens_per_run: int | None = Field(default=None, gt=0)
    max_cost: float | None = Field(default=None, gt=0)  # USD
    input_cost_per_mtok: float = Field(default=0.0, ge=0)  # USD per 1e6 prompt tokens
    output_cost_per_mtok: float = Field(default=0.0, ge=0)  # USD per 1e6 completion tokens


class RetryPolicy(BaseModel):
    """Exponential back-off: the n-th retry waits min(max_delay_s, base_delay_s * multiplier**(n-1)).

    A server's Retry-After (seconds, or milliseconds in `retry-after-ms`) is honoured when it asks for
    longer, up to `max_retry_after_s`; asked for more than that, the call gives up at once (waiting less
    than asked would only earn another 429)."""

    model_config = _FROZEN

    max_retries: int = Field(default=2, ge=0)
    base_delay_s: float = Field(default=0.5, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=8.0, ge=0)
    max_retry_after_s: float = Field(default=10.0, ge=0)

    def delay(self, retry_number: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * self.multiplier ** max(0, retry_number - 1))


_LLM_LIST = TypeAdapter(list[LLMConfig])


def parse_llm_configs(raw: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]) -> dict[str, LLMConfig]:
    """Seed 001's `llm_configs` (a list of entries with a `name`, or a mapping name -> entry) by name.

    Duplicate names are an error, so a typo cannot silently shadow another endpoint.
    """
    if isinstance(raw, Mapping):
        items = [{"name": name, **dict(entry)} for name, entry in raw.items()]
    else:
        items = [dict(entry) for entry in raw]
    configs = _LLM_LIST.validate_python(items)
    by_name: dict[str, LLMConfig] = {}
    for cfg in configs:
        if cfg.name in by_name:
            raise ValueError(f"duplicate llm_configs name {cfg.name!r}")
        by_name[cfg.name] = cfg
    return by_name
