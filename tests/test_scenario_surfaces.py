"""People see a scenario's events: the MCP market server's `scenario_events` tool (a real server process over
stdio) and the SSE event stream following a run database (a real `trading-floor serve events` process)."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import jsonschema
import pytest
from events_server import events_server_process
from floor_helpers import fast_config, write_config
from test_mcp_servers import TIMEOUT, stdio_session

from floor.scenario_file import parse
from floor.session import FloorSession
from ledger.store import Ledger
from tools.ledger_events import ledger_cycle_events

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
        with events_server_process(db) as base, httpx.Client(timeout=httpx.Timeout(TIMEOUT)) as client, \
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


def test_the_in_process_bus_publishes_scenario_events_as_the_follower_does(tmp_path):
    """`serve events --run-cycles` continues a run started with a scenario: its cycles' scenario events
    come first in their cycle's feed, as the stream following the database builds them."""
    db, cfg = tmp_path / "floor.db", write_config(tmp_path / "fast.yaml")
    s = _session(db)
    s.run(1)
    s.close()
    with events_server_process(db, "--run-cycles", "3", "--config", str(cfg), "--wait-subscribers", "1",
                               "--wait-timeout", "60") as base, \
            httpx.Client(timeout=httpx.Timeout(TIMEOUT)) as client, client.stream("GET", f"{base}/events") as resp:
        assert resp.status_code == 200
        live = _until_cycle(resp, 4)

    def scenario_of(events):
        return [(e["cycle"], e["tick"], e["event"], e["symbol"], e["headline"], e["source"])
                for e in events if e["kind"] == "scenario_event"]

    run_id, branch_id = live[-1]["run_id"], live[-1]["branch_id"]
    led = Ledger.open(str(db))  # the follower's events, rebuilt from the same database
    try:
        led.use(run_id, branch_id, remember=False)
        followed = [e for c in (2, 3, 4) for e in ledger_cycle_events(led, run_id, branch_id, c, {}, None)]
    finally:
        led.close()
    assert [x[:4] for x in scenario_of(live)] == [(2, 1, "news", None), (3, 1, "halt", "AAPL"),
                                                  (3, 1, "rumour", "AMZN")]
    assert scenario_of(live) == scenario_of(followed)
    for cycle in (2, 3):  # first in their cycle's feed, as the follower puts them
        feed = [e["kind"] for e in live if e["kind"] != "run_started" and e.get("cycle") == cycle]
        n = sum(1 for e in scenario_of(live) if e[0] == cycle)
        assert feed[:n] == ["scenario_event"] * n and "scenario_event" not in feed[n:]


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
