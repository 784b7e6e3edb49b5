"""Tools in OpenAI function format, converted once per tool definition instead of once per model call.

A trader's tools are rebuilt every cycle (they close over that cycle's desk), but their definitions do
not change: the same name, description and argument-schema class. LangChain's conversion builds a pydantic
subset model and its JSON schema for every tool each time `bind_tools` (or the response cache's key) sees
it (measured against the stub server with no latency: six LLM traders' cycle took 0.236 s with the
conversion each time, 0.167 s with this cache). The result depends only on that definition, so it is kept
here, keyed by it. A tool without a hashable definition (e.g. a JSON-schema
dict from an MCP server) is converted as before.

Trimmed per theory: every tool's schema is resent with every model turn (the 15 tools and
`submit_decision` are about 2,000 tokens of JSON, more than the rest of the prompt), and the decision
prompt already carries the account, quotes, 30 closes (the longest default lookback; the rule opinion in
the prompt uses the whole history), the chat and the limits. `tools_for_theory` keeps only the read tools
a theory's reasoning may want beyond that (`THEORY_TOOLS`: 140 to 250 tokens of JSON instead of 1,650).
Write tools are left out on purpose: orders and cancellations go in `submit_decision` (`orders`,
`cancel_order_ids`), so an order cannot also be staged a second way, and the chat has its own stage (the
discussion node). A theory not listed keeps every tool.
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


# Write tools offered to every listed theory: none, since `submit_decision` carries orders and cancellations.
# ("place_order", "cancel_order", "post_message") here would offer them again, ~480 tokens more per turn.
WRITE_TOOLS: tuple[str, ...] = ()

# The read tools each built-in theory may want beyond what its decision prompt shows.
THEORY_TOOLS: dict[str, tuple[str, ...]] = {
    "momentum": ("depth",),  # how much a bigger buy would move the price
    "mean_reversion": ("depth",),
    "trend_following": ("depth",),
    "risk_parity": ("my_portfolio", "depth"),  # market value and PnL per holding, for the weights
    "arbitrage": ("etf_nav", "depth"),  # the edge at the touch, and the size available at it
    "sentiment": ("cycle_chat", "depth"),  # earlier cycles' chat
}


def tools_for_theory(tools: Iterable[Any], theory: str | None) -> list[Any]:
    """The tools of `tools` that `theory` uses (`THEORY_TOOLS`), in their given order; all of them for a
    theory not listed (a custom theory) or None."""
    tools = list(tools)
    wanted = THEORY_TOOLS.get(theory or "")
    if wanted is None:
        return tools
    wanted = (*wanted, *WRITE_TOOLS)
    return [t for t in tools if (t.get("function", {}).get("name") if isinstance(t, dict) else getattr(t, "name", None))
            in wanted]
