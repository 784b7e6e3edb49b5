"""Tools in OpenAI function format, converted once per tool definition instead of once per model call.

A trader's tools are rebuilt every cycle (they close over that cycle's desk), but their definitions do
not change: the same name, description and argument-schema class. LangChain's conversion builds a pydantic
subset model and its JSON schema for every tool each time `bind_tools` (or the response cache's key) sees
it (measured against the stub server with no latency: six LLM traders' cycle took 0.236 s with the
conversion each time, 0.167 s with this cache). The result depends only on that definition, so it is kept
here, keyed by it. A tool without a hashable definition (e.g. a JSON-schema
dict from an MCP server) is converted as before.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

_SPECS: dict[tuple, dict[str, Any]] = {}
_LOCK = threading.Lock()


def _definition(tool: Any) -> tuple | None:
    try:
        key = (type(tool), tool.name, tool.description, tool.args_schema)
        hash(key)
    except (AttributeError, TypeError):
        return None
    return key if isinstance(tool.args_schema, type) else None


def openai_spec(tool: Any) -> Any:
    """`convert_to_openai_tool(tool)`, from the cache when the tool's definition was seen before.
    Dicts (already a spec) and tools without a class-based argument schema come back unchanged."""
    if isinstance(tool, dict):
        return tool
    key = _definition(tool)
    if key is None:
        return tool
    spec = _SPECS.get(key)
    if spec is None:
        spec = convert_to_openai_tool(tool)
        with _LOCK:
            _SPECS.setdefault(key, spec)
    return spec


def openai_specs(tools: Iterable[Any]) -> list[Any]:
    return [openai_spec(t) for t in tools]
