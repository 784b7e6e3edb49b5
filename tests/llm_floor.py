"""Builders for whole-floor LLM tests: a fast floor whose chosen traders run in LLM mode against a URL."""
from __future__ import annotations

import pytest
from floor_helpers import fast_config
from support.stub_process import StubProcess

from floor.config import FloorConfig


@pytest.fixture(scope="module")
def openai_stub(tmp_path_factory):
    """The OpenAI-compatible stub server in its own process, one per test module (a conftest fixture)."""
    with StubProcess(tmp_path_factory.mktemp("stub")) as server:
        yield server


def llm_floor_config(base_url: str, llm_traders=("momentum",), *, chat: bool = False, streaming: bool = False,
                     **llm: object) -> FloorConfig:
    """The fast floor with `llm_traders` in LLM mode on one endpoint (`base_url`); chat off by default, so
    that the script's replies all go to decisions."""
    cfg = fast_config(chat={"enabled": chat, "rounds": 1})
    endpoint = {"name": "stub", "model": "stub-model", "base_url": base_url, "api_key_env": "STUB_TEST_KEY",
                "timeout_s": 2.0, "max_retries": 1, "use_cache": False, "streaming": streaming} | llm
    traders = [t.model_dump() | ({"mode": "llm", "llm": "stub"} if t.name in llm_traders else {"llm": None})
               for t in cfg.traders]
    return FloorConfig.model_validate(cfg.model_dump() | {"llm_configs": [endpoint], "traders": traders})


WRITE_TOOLS = ("place_order", "cancel_order", "post_message")


def offer_write_tools(monkeypatch) -> None:
    """Offer the write tools to the built-in theories too (`tool_specs.WRITE_TOOLS`; a custom theory gets
    every tool anyway), so that the staged-intent path can be tested with them."""
    monkeypatch.setattr("traders.llm.tool_specs.WRITE_TOOLS", WRITE_TOOLS)
