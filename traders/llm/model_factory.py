"""Build the chat model of an LLM config: `ChatOpenAI` against any OpenAI-compatible `base_url`.

Choices:
- `max_retries=0` on the client: retries and back-off live in `traders.llm.resilience`, where each one is
  counted and a final failure becomes a visible fallback instead of a hidden client-side wait.
- The key comes only from the environment variable the config names. A local server (Ollama, vLLM,
  LM Studio, the test stub) usually needs none, so for a loopback `base_url` without a key a dummy key
  is used; a remote endpoint without a key is a configuration error, raised as `MissingAPIKey`.
- LangChain's own cache is switched off on the model (`cache=False`): `traders.llm.cache` caches whole
  answers itself, keyed on what we send, so that the global `set_llm_cache` cannot interfere.
"""
from __future__ import annotations

import os
from urllib.parse import urlparse

from langchain_openai import ChatOpenAI

from traders.llm.settings import LLMConfigLike

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
DUMMY_KEY = "sk-local-no-key"


class MissingAPIKey(RuntimeError):
    """A remote endpoint is configured but its key variable is unset."""


def is_local(base_url: str | None) -> bool:
    if not base_url:
        return False
    host = (urlparse(base_url).hostname or "").lower()
    return host in LOCAL_HOSTS


def resolve_api_key(cfg: LLMConfigLike) -> str:
    key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
    if key:
        return key
    if is_local(cfg.base_url):
        return DUMMY_KEY
    where = f"${cfg.api_key_env}" if cfg.api_key_env else "(no api_key_env configured)"
    raise MissingAPIKey(f"LLM config {cfg.name!r}: no API key in {where} for {cfg.base_url or 'OpenAI'}")


def build_chat_model(cfg: LLMConfigLike, *, streaming: bool | None = None) -> ChatOpenAI:
    """A `ChatOpenAI` for `cfg`; `streaming` overrides the config's own `streaming` flag."""
    if cfg.client != "openai":  # pragma: no cover - the config type already restricts it
        raise ValueError(f"unsupported LLM client {cfg.client!r}")
    stream = bool(getattr(cfg, "streaming", False)) if streaming is None else streaming
    kwargs = {}
    if stream:
        kwargs["stream_usage"] = True  # ask for the final usage chunk so the budget sees real counts
    return ChatOpenAI(
        model=cfg.model,
        base_url=cfg.base_url,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.timeout_s,
        max_retries=0,
        api_key=resolve_api_key(cfg),
        streaming=stream,
        cache=False,
        **kwargs,
    )
