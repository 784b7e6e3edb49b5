"""Tool specs are converted once per tool definition, and are exactly what LangChain's conversion gives."""
from __future__ import annotations

import threading

from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from tools.desk import TraderDesk
from tools.toolset import make_trader_tools
from traders.llm import prompts
from traders.llm.cache import cache_key
from traders.llm.tool_specs import openai_spec, openai_specs


def _tools(trader: str = "momentum"):
    desk = TraderDesk(trader=trader, exchange=None, ledger=None, cycle=1, lock=threading.Lock(),
                      staged_orders=[], staged_cancels=[], staged_messages=[])
    return make_trader_tools(desk)


def test_specs_equal_langchains_conversion_and_are_reused_across_rebuilt_tools():
    first, again = _tools(), _tools("mean_reversion")  # rebuilt every cycle, for any trader
    specs = openai_specs(first)
    assert len(specs) >= 10
    assert specs == [convert_to_openai_tool(t) for t in first]
    assert all(a is b for a, b in zip(specs, openai_specs(again), strict=True))


def test_the_response_cache_key_does_not_change():
    tools = _tools()
    msgs = [HumanMessage("what now?")]
    submit = prompts.submit_tool_spec()
    assert cache_key({"model": "m"}, msgs, [*tools, submit]) == cache_key({"model": "m"}, msgs,
                                                                          [*openai_specs(tools), submit])


def test_dicts_and_tools_without_a_schema_class_pass_through():
    spec = prompts.submit_tool_spec()
    assert openai_spec(spec) is spec
    loose = StructuredTool.from_function(lambda x: x, name="echo", description="echo",
                                         args_schema={"type": "object", "properties": {"x": {"type": "string"}}})
    assert openai_spec(loose) is loose
