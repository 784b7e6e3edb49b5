"""Structured results, tool annotations, one error style and one cycle label, seen by the official MCP client.

Each server is a real process (`python -m cli.app serve ...` over stdio) on a run database made here. The
client lists the tools, then calls every tool with good arguments: `structuredContent` must validate
against the tool's own `outputSchema` (with jsonschema, the way a client that reads structured results
does) and carry the same data as the JSON text. Every cycle a server names is the last settled cycle.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from floor_helpers import fast_config
from test_mcp_servers import ROOT, TIMEOUT, read_json, stdio_session

from floor.session import FloorSession

TRADER = "momentum"
READ = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
EXPECTED = {
    "market": {name: READ for name in ("quote", "depth", "bars", "recent_trades", "etf_nav", "scenario_events")},
    "accounts": {**{name: READ for name in ("balance", "holdings", "transactions", "pnl", "open_orders",
                                             "order_status")},
                 "place_order": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False},
                 "cancel_order": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False}},
    "push": {"push_status": READ, "recent_notifications": READ,
             "notify": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False}},
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> tuple[str, int]:
    path = str(tmp_path_factory.mktemp("mcp-structured") / "floor.db")
    s = FloorSession(path, fast_config())
    s.start()
    s.run(4)
    cycle = s.state()["cycle"]
    s.close()
    return path, cycle


def _null_free(value):
    """The structured form lists optional keys as null; the text form leaves them out."""
    if isinstance(value, dict):
        return {k: _null_free(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_null_free(v) for v in value]
    return value


async def check_tools(session, server: str) -> dict:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == set(EXPECTED[server])
    for name, tool in tools.items():
        ann = tool.annotations
        assert tool.title and ann is not None and ann.title == tool.title, name
        for hint, value in EXPECTED[server][name].items():
            assert getattr(ann, hint) is value, (name, hint)
        assert tool.outputSchema and tool.outputSchema["type"] == "object", name
        assert tool.outputSchema.get("additionalProperties") is False, name
        assert "\n" not in tool.description and "  " not in tool.description, name
    return tools


async def structured(session, tools: dict, name: str, args: dict | None = None) -> dict:
    res = await asyncio.wait_for(session.call_tool(name, args or {}), TIMEOUT)
    assert not res.isError, res.content
    data = res.structuredContent
    jsonschema.validate(data, tools[name].outputSchema)
    assert _null_free(data) == _null_free(json.loads(res.content[0].text))
    return data


def test_market_results_are_structured_annotated_and_labelled_with_the_settled_cycle(db):
    path, settled = db

    async def main():
        async with stdio_session("market", "--db", path) as s:
            tools = await check_tools(s, "market")
            q = await structured(s, tools, "quote", {"symbol": "AAPL"})
            assert q["symbol"] == "AAPL" and q["bid_cents"] < q["ask_cents"] and "tick" not in q
            d = await structured(s, tools, "depth", {"symbol": "MSFT", "levels": 2})
            b = await structured(s, tools, "bars", {"symbol": "NVDA", "cycles": 3})
            assert "current_cycle_so_far" not in b and max(row[0] for row in b["bars"]) <= settled
            t = await structured(s, tools, "recent_trades", {"limit": 3})
            assert max(row["cycle"] for row in t["trades"]) <= settled
            e = await structured(s, tools, "etf_nav")
            book = await read_json(s, "market://book/AAPL")
            # one convention: every answer is labelled with the last settled cycle, as the book resource is
            assert {q["cycle"], d["cycle"], b["cycle"], t["cycle"], e["cycle"], book["cycle"]} == {settled}
            assert book["quote"]["bid_cents"] == q["bid_cents"]
    asyncio.run(main())


def test_accounts_results_are_structured_and_writes_are_annotated_as_writes(db):
    path, settled = db

    async def main():
        async with stdio_session("accounts", "--db", path, "--account", TRADER) as s:
            tools = await check_tools(s, "accounts")
            for name in ("balance", "holdings", "transactions", "pnl", "open_orders", "order_status"):
                out = await structured(s, tools, name)
                assert out["account"] == TRADER and out["cycle"] == settled, name
            placed = await structured(s, tools, "place_order", {"symbol": "AAPL", "side": "buy", "qty": 1,
                                                                "limit_price": 1.00})
            assert placed["queued"] and placed["order"]["limit_price_cents"] == 100 and placed["cycle"] == settled
            status = await structured(s, tools, "order_status")
            assert status["intents"][0]["intent_id"] == placed["intent_id"]
            assert status["intents"][0]["status"] == "pending"
            # one error style: a sentence naming the argument, with no pydantic dump
            res = await s.call_tool("place_order", {"symbol": "AAPL", "side": "hold", "qty": 1.5})
            text = res.content[0].text
            assert res.isError and res.structuredContent is None
            assert text == "argument 'side' must be one of 'buy' or 'sell' (got 'hold'); " \
                           "argument 'qty' must be a whole number (got 1.5)"
            assert "pydantic" not in text and "Error executing" not in text
    asyncio.run(main())


def test_push_results_are_structured(db, tmp_path):
    path, _ = db

    async def main():
        async with stdio_session("push", "--db", path, "--sink", f"file:{tmp_path / 'p.jsonl'}") as s:
            tools = await check_tools(s, "push")
            status = await structured(s, tools, "push_status")
            assert status["sink"].startswith("file:")
            notice = await structured(s, tools, "notify", {"text": "hello"})
            assert notice["text"] == "hello" and notice["kind"] == "system"
            recent = await structured(s, tools, "recent_notifications", {"kind": "system"})
            assert recent["notifications"][-1]["id"] == notice["id"]
    asyncio.run(main())


@pytest.mark.parametrize("server", ["market", "accounts", "push"])
def test_a_missing_database_is_one_line_not_a_traceback(tmp_path, server):
    missing = tmp_path / "nowhere" / "floor.db"
    proc = subprocess.run([sys.executable, "-m", "cli.app", "serve", server, "--db", str(missing)], cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: no run database at {missing}: start a run with `trading-floor run`"], proc.stderr
    assert not Path(missing).exists()
