"""The MCP servers as real processes, driven by the official `mcp` client (stdio and streamable HTTP).

Each server runs `python -m cli.app serve ...` against a run database made here with a fast config;
orders placed through the accounts server reach the ledger only after a cycle run with `FloorSession`
on the same database (through the risk check). Traffic stays on 127.0.0.1; every wait is bounded, and
every server is stopped at the end of its test.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from floor_helpers import fast_config, free_port
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from floor.session import FloorSession
from tools import external_orders

ROOT = Path(__file__).resolve().parents[1]
TRADER = "momentum"
TIMEOUT = 60


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("mcp") / "floor.db")
    s = FloorSession(path, fast_config())
    s.start()
    s.run(3)
    s.close()
    return path


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.app", "serve", *args]



@contextlib.contextmanager
def http_server(*args: str, env: dict | None = None):
    """Start a server process on a free loopback port; yield its /mcp URL; always stop it."""
    port = free_port()
    proc = subprocess.Popen(_cmd(*args, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)), cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server did not start listening in time")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def stdio_session(*args: str):
    params = StdioServerParameters(command=sys.executable, args=_cmd(*args)[1:], cwd=str(ROOT))
    async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
        await asyncio.wait_for(session.initialize(), TIMEOUT)
        yield session


@contextlib.asynccontextmanager
async def http_session(url: str, headers: dict | None = None):
    client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(TIMEOUT, read=TIMEOUT))
    async with client, streamable_http_client(url, http_client=client) as (r, w, _), ClientSession(r, w) as s:
        await asyncio.wait_for(s.initialize(), TIMEOUT)
        yield s


async def call(session: ClientSession, name: str, args: dict | None = None) -> dict:
    res = await asyncio.wait_for(session.call_tool(name, args or {}), TIMEOUT)
    assert not res.isError, res.content
    return json.loads(res.content[0].text)


async def call_error(session: ClientSession, name: str, args: dict) -> str:
    res = await asyncio.wait_for(session.call_tool(name, args), TIMEOUT)
    assert res.isError
    return res.content[0].text


async def read_json(session: ClientSession, uri: str) -> dict:
    res = await asyncio.wait_for(session.read_resource(uri), TIMEOUT)
    return json.loads(res.contents[0].text)


async def _exercise_market(s: ClientSession) -> None:
    tools = {t.name for t in (await s.list_tools()).tools}
    assert {"quote", "depth", "bars", "recent_trades"} <= tools
    q = await call(s, "quote", {"symbol": "aapl"})
    assert q["symbol"] == "AAPL" and q["bid_cents"] < q["ask_cents"] and q["cycle"] >= 3
    d = await call(s, "depth", {"symbol": "MSFT", "levels": 3})
    assert 1 <= len(d["bids"]) <= 3 and all(lv["qty"] > 0 for lv in d["bids"] + d["asks"])
    assert d["bids"][0]["price_cents"] < d["asks"][0]["price_cents"]
    b = await call(s, "bars", {"symbol": "NVDA", "cycles": 5})
    assert b["columns"][0] == "cycle" and 1 <= len(b["bars"]) <= 5
    t = await call(s, "recent_trades", {"limit": 5})
    assert 1 <= t["count"] <= 5 and all(r["qty"] > 0 for r in t["trades"])
    assert (await call(s, "etf_nav"))["etfs"][0]["symbol"] == "FLOR"
    resources = {str(r.uri) for r in (await s.list_resources()).resources}
    assert "market://instruments" in resources
    templates = {t.uriTemplate for t in (await s.list_resource_templates()).resourceTemplates}
    assert "market://book/{symbol}" in templates
    inst = await read_json(s, "market://instruments")
    assert {i["symbol"] for i in inst["instruments"]} == {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "FLOR"}
    book = await read_json(s, "market://book/GOOG")
    assert book["quote"]["symbol"] == "GOOG" and book["depth"]["asks"]
    # bad arguments: a clear error, never a crash
    assert "unknown symbol 'ZZZ'" in await call_error(s, "quote", {"symbol": "ZZZ"})
    assert await call_error(s, "depth", {"symbol": "AAPL", "levels": 500}) == (
        "argument 'levels' must be at most 20 (got 500)")
    assert await call_error(s, "bars", {"cycles": 3}) == "argument 'symbol' is required"
    assert await call_error(s, "recent_trades", {"limit": "many"}) == (
        "argument 'limit' must be a whole number (got 'many')")


def test_market_server_over_stdio(db):
    async def main():
        async with stdio_session("market", "--db", db) as s:
            await _exercise_market(s)
    asyncio.run(main())


def test_market_server_over_streamable_http(db):
    async def main(url):
        async with http_session(url) as s:
            await _exercise_market(s)
    with http_server("market", "--db", db) as url:
        asyncio.run(main(url))


def test_accounts_server_orders_pass_the_risk_check_and_reach_the_ledger(db):
    ok_id, far_id, ask = asyncio.run(_place_orders(db))
    session = FloorSession(db)
    session.run(1)
    cycle = session.state()["cycle"]
    rows = session.floor.ledger.orders(cycle=cycle, account=TRADER, limit=None)
    ours = [r for r in rows if r["payload"].get("source") == "external"]
    assert len(ours) == 1 and ours[0]["qty"] == 10 and ours[0]["limit_price"] == ask and ours[0]["symbol"] == "AAPL"
    intents = {i["intent_id"]: i for i in external_orders.intents(session.floor.ledger.db.conn,
                                                                  session.state()["run_id"], TRADER)}
    assert intents[ok_id]["status"] == "accepted" and intents[ok_id]["taken_cycle"] == cycle
    assert intents[far_id]["status"] == "rejected" and intents[far_id]["reason"] == "price_collar"
    session.close()


async def _place_orders(db: str):
    async with stdio_session("market", "--db", db) as m:
        ask = (await call(m, "quote", {"symbol": "AAPL"}))["ask_cents"]
    async with stdio_session("accounts", "--db", db, "--account", TRADER) as s:
        names = {t.name for t in (await s.list_tools()).tools}
        assert {"balance", "holdings", "transactions", "pnl", "place_order", "cancel_order"} <= names
        bal = await call(s, "balance")
        assert bal["account"] == TRADER and bal["available_cents"] > 0
        h = await call(s, "holdings")
        assert h["account"] == TRADER and h["total_value_cents"] > 0
        assert (await call(s, "transactions", {"limit": 5}))["account"] == TRADER
        p = await call(s, "pnl")
        assert "realized_pnl_cents" in p and "recent_fills" not in p
        assert (await call(s, "open_orders"))["account"] == TRADER
        report = await read_json(s, f"accounts://{TRADER}/report")
        assert report["cash"]["cash_cents"] == bal["cash_cents"]
        strat = await read_json(s, f"accounts://{TRADER}/strategy")
        assert strat["theory"] == "momentum" and "lookback" in strat["params"] and strat["description"]
        ok = await call(s, "place_order", {"symbol": "AAPL", "side": "buy", "qty": 10, "limit_price": ask / 100})
        far = await call(s, "place_order", {"symbol": "AAPL", "side": "buy", "qty": 10, "limit_price": 1.00})
        assert ok["queued"] and far["queued"] and ok["intent_id"] != far["intent_id"]
        # bad arguments and other accounts: clear errors, nothing queued
        assert await call_error(s, "place_order", {"symbol": "AAPL", "side": "buy", "qty": -5, "limit_price": 10.0}
                                ) == "argument 'qty' must be greater than 0 (got -5)"
        assert "finer than one cent" in await call_error(s, "place_order", {"symbol": "AAPL", "side": "buy", "qty": 1,
                                                                       "limit_price": 10.123})
        assert "bound to account" in await call_error(s, "balance", {"account": "mean_reversion"})
        assert "no open order with id 'nope'" in (err := await call_error(s, "cancel_order", {"order_id": "nope"}))
        assert "see open_orders" in err and "my_open_orders" not in err
        status = await call(s, "order_status")
        assert [i["status"] for i in status["intents"]] == ["pending", "pending"]
        return ok["intent_id"], far["intent_id"], ask


def test_accounts_over_http_needs_the_bearer_token_and_names_the_account(db):
    token = {"TRADING_FLOOR_TOKEN": "s3cret-test-token"}

    async def main(url):
        async with http_session(url, headers={"Authorization": "Bearer s3cret-test-token"}) as s:
            assert (await call(s, "balance", {"account": TRADER}))["account"] == TRADER
            assert "name the account" in await call_error(s, "balance", {})
            assert "not a floor trader" in await call_error(s, "balance", {"account": "bg:mm"})

    with http_server("accounts", "--db", db, env=token) as url:
        asyncio.run(main(url))
        r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=10)
        assert r.status_code == 401


def test_push_server_writes_notifications_of_new_cycles_to_a_jsonl_file(db, tmp_path):
    out = tmp_path / "push.jsonl"

    async def main():
        async with stdio_session("push", "--db", db, "--sink", f"file:{out}", "--kinds",
                                 "trade,price,decision,cycle_settled,system") as s:
            status = await call(s, "push_status")
            assert status["sink"] == f"file:{out}" and "message" not in status["kinds"]
            await asyncio.sleep(1.0)  # the follower has taken its starting point
            session = FloorSession(db)
            await asyncio.to_thread(session.run, 2)
            last = session.state()["cycle"]
            session.close()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if out.exists() and f'"cycle":{last},"tick":0,"summary"' in out.read_text():
                    break
                await asyncio.sleep(0.2)
            await call(s, "notify", {"text": "hello floor"})
            recent = await call(s, "recent_notifications", {"kind": "cycle_settled"})
            assert [e["cycle"] for e in recent["notifications"]] == [last - 1, last]
            assert await call_error(s, "notify", {"text": ""}) == (
                "argument 'text' must have at least 1 character(s) (got '')")
            return last

    last = asyncio.run(main())
    events = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"price", "decision", "cycle_settled", "system"} <= kinds and "message" not in kinds
    assert any(e["kind"] == "system" and e["text"] == "hello floor" for e in events)
    settled = [e["cycle"] for e in events if e["kind"] == "cycle_settled"]
    assert settled == [last - 1, last]


def test_llm_trader_tools_from_the_mcp_servers_through_langchain_mcp_adapters(db):
    from tools.mcp_client_tools import mcp_tools_for_trader

    with mcp_tools_for_trader(db, TRADER) as mcp_tools:
        tools = {t.name: t for t in mcp_tools.tools}
        assert {"quote", "depth", "bars", "recent_trades", "balance", "holdings", "place_order"} <= set(tools)
        out = tools["balance"].invoke({})  # synchronous, as the cycle's tool loop calls it
        assert TRADER in str(out) and "cash_cents" in str(out)
        assert "unknown symbol" in str(tools["quote"].invoke({"symbol": "ZZZ"}))
        assert "AAPL" in str(tools["quote"].invoke({"symbol": "AAPL"}))


def test_queued_intents_survive_the_approval_pause_and_reach_the_exchange(tmp_path):
    from traders.decision import ProposedOrder

    s = FloorSession(str(tmp_path / "a.db"), fast_config(approval=True))
    s.start()
    conn, run_id = s.floor.ledger.db.conn, s.state()["run_id"]
    ask = s.floor.by_symbol["MSFT"].initial_price  # the books are empty before the first cycle
    iid = external_orders.submit_order(conn, run_id, TRADER, ProposedOrder(symbol="MSFT", side="buy", qty=5,
                                                                          limit_price=ask))
    report = s.run(1)[-1]
    assert report.interrupted and any(o["source"] == "external" for o in report.interrupted["orders"])
    s.resume(True)  # LangGraph re-runs the risk node on resume: the intent is taken again, not lost
    rows = s.floor.ledger.orders(cycle=1, account=TRADER, limit=None)
    assert [(r["symbol"], r["qty"], r["limit_price"]) for r in rows if r["payload"].get("source") == "external"] == [
        ("MSFT", 5, ask)]
    assert external_orders.intents(conn, run_id, TRADER)[0]["intent_id"] == iid
    assert external_orders.intents(conn, run_id, TRADER)[0]["status"] == "accepted"
    s.close()
