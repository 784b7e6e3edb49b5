"""Tool specs are converted once per tool definition, and are exactly what LangChain's conversion gives;
each theory gets the trimmed set of tools it uses."""
from __future__ import annotations

import threading

from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from tools.desk import TraderDesk
from tools.toolset import make_trader_tools
from traders.llm import prompts
from traders.llm.cache import cache_key
from traders.llm.tool_specs import THEORY_TOOLS, openai_spec, openai_specs, tools_for_theory
from traders.registry import BUILTIN_MODULES, theory_names


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


WRITE_TOOLS = {"place_order", "cancel_order", "post_message"}


def _tokens(specs) -> int:
    import json

    import bpe_openai

    return len(bpe_openai.get_encoding("o200k_base").encode(json.dumps(specs)))


def test_every_builtin_theory_gets_its_own_read_tools_and_no_write_tool():
    tools = _tools()
    names = [t.name for t in tools]
    builtin = {m.rsplit('.', 1)[1] for m in BUILTIN_MODULES}  # other tests register theories of their own
    assert builtin <= set(theory_names()) and set(THEORY_TOOLS) == builtin  # a new built-in theory must choose
    full = _tokens([*openai_specs(tools), prompts.submit_tool_spec()])
    for theory, wanted in THEORY_TOOLS.items():
        assert set(wanted) <= set(names), f"{theory} names a tool that does not exist: {set(wanted) - set(names)}"
        chosen = tools_for_theory(tools, theory)
        assert [t.name for t in chosen] == [n for n in names if n in wanted]  # the toolset's order kept
        assert not WRITE_TOOLS & {t.name for t in chosen}  # orders and cancels go in submit_decision
        trimmed = _tokens([*openai_specs(chosen), prompts.submit_tool_spec()])
        assert trimmed < full / 2, (theory, trimmed, full)


def test_a_custom_theory_keeps_every_tool_and_specs_dicts_are_trimmed_by_name():
    tools = _tools()
    assert tools_for_theory(tools, "my_own_theory") == tools
    assert tools_for_theory(tools, None) == tools
    specs = openai_specs(tools)  # e.g. tools that arrive as JSON-schema dicts
    assert [s["function"]["name"] for s in tools_for_theory(specs, "arbitrage")] == ["depth", "etf_nav"]
