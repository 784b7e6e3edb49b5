"""People see a scenario's events: the MCP market server's `scenario_events` tool (a real server process over
stdio) and the SSE event stream following a run database (a real `trading-floor serve events` process)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time

import httpx
import jsonschema
import pytest
from floor_helpers import fast_config, free_port
from test_mcp_servers import ROOT, TIMEOUT, stdio_session

from floor.scenario_file import parse
from floor.session import FloorSession

SCENARIO = {"events": [
    {"kind": "news", "at": 2, "move_pct": -4, "headline": "Bad news for everyone"},
    {"kind": "halt", "at": 3, "symbol": "AAPL", "cycles": 5},
    {"kind": "rumour", "at": 3, "symbol": "AMZN", "text": "AMZN misses", "source": "a chat room"},
]}


def _session(path) -> FloorSession:
    s = FloorSession(str(path), fast_config())
    s.floor.scenario = parse(SCENARIO)
    s.start(seed=4)
    return s


def test_the_mcp_market_server_lists_the_scenario_events_and_the_halts(tmp_path):
    db = tmp_path / "floor.db"
    s = _session(db)
    s.run(4)
    s.close()

    async def main():
        async with stdio_session("market", "--db", str(db)) as m:
            tools = {t.name: t for t in (await m.list_tools()).tools}
            schema = tools["scenario_events"].outputSchema

            async def ask(args):
                res = await asyncio.wait_for(m.call_tool("scenario_events", args), TIMEOUT)
                assert not res.isError, res.content
                jsonschema.validate(res.structuredContent, schema)
                return res.structuredContent

            every = await ask({})
            assert every["cycle"] == 4 and every["halted"] == ["AAPL"]
            assert [(e["cycle"], e["kind"], e["symbol"]) for e in every["events"]] == [
                (2, "news", None), (3, "halt", "AAPL"), (3, "rumour", "AMZN")]
            assert every["events"][2]["source"] == "a chat room"
            amzn = await ask({"symbol": "amzn"})  # its own events and the market-wide ones
            assert [e["kind"] for e in amzn["events"]] == ["news", "rumour"]
            recent = await ask({"cycles": 2})  # cycles 3 and 4
            assert [e["cycle"] for e in recent["events"]] == [3, 3]
            bad = await asyncio.wait_for(m.call_tool("scenario_events", {"symbol": "ZZZZ"}), TIMEOUT)
            assert bad.isError and "unknown symbol 'ZZZZ'" in bad.content[0].text
    asyncio.run(main())


@contextlib.contextmanager
def _follow_server(db):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli.app", "serve", "events", "--db", str(db), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the event stream did not start in time")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _until_cycle(resp, cycle: int) -> list[dict]:
    events, deadline = [], time.monotonic() + 60
    for line in resp.iter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
            if events[-1]["kind"] == "cycle_settled" and events[-1]["cycle"] == cycle:
                return events
        assert time.monotonic() < deadline, f"cycle {cycle} did not settle on the stream in time"
    pytest.fail("the stream ended early")


def test_the_event_stream_publishes_scenario_events_to_a_symbol_filtered_client(tmp_path):
    db = tmp_path / "floor.db"
    s = _session(db)
    try:
        s.run(1)
        with _follow_server(db) as base, httpx.Client(timeout=httpx.Timeout(TIMEOUT)) as client, \
                client.stream("GET", f"{base}/events", params={"symbol": "AMZN"}) as resp, \
                client.stream("GET", f"{base}/events", params={"kind": "message,cycle_settled"}) as chat:
            assert resp.status_code == 200 and chat.status_code == 200
            s.run(3)  # cycles 2-4, followed by the server from the database
            events = _until_cycle(resp, 4) + _until_cycle(chat, 4)
    finally:
        s.close()
    scenario = [(e["cycle"], e["event"], e["symbol"], e["headline"]) for e in events if e["kind"] == "scenario_event"]
    # the AAPL halt is filtered out; the market-wide news passes the AMZN filter
    assert [x[:3] for x in scenario] == [(2, "news", None), (3, "rumour", "AMZN")]
    assert scenario[0][3] == "Bad news for everyone"
    rumour = [e for e in events if e["kind"] == "message" and e["agent"] == "newswire"]
    assert [e["cycle"] for e in rumour] == [3] and "source: a chat room" in rumour[0]["text"]


def test_hub_filters_treat_scenario_events_as_news_for_everyone():
    from tools.event_hub import EventHub

    hub = EventHub()
    by_agent, by_symbol, by_kind = hub.subscribe(agents="momentum"), hub.subscribe(symbols="NVDA"), \
        hub.subscribe(kinds="trade")
    wide = {"id": "1:1:2:0", "kind": "scenario_event", "event": "news", "symbol": None, "headline": "h"}
    aapl = {**wide, "id": "1:1:2:1", "event": "halt", "symbol": "AAPL"}
    assert by_agent.matches(wide) and by_agent.matches(aapl)
    assert by_symbol.matches(wide) and not by_symbol.matches(aapl)
    assert not by_kind.matches(wide)
