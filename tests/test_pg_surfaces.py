"""Every surface of the floor on a PostgreSQL run database, against the tests' throwaway server.

`report` (with its stylized facts of the stored run) writes what it writes for the same seed on SQLite;
the MCP market and accounts servers run as real processes on a `postgresql://` `--db` (or
TRADING_FLOOR_DB), and an order placed through the accounts server reaches the PostgreSQL ledger through
the risk check; the event stream follows cycles another process settles there; `langgraph dev` runs as a
real server process whose graph opens the floor from TRADING_FLOOR_DB=postgresql://...; and the Chainlit
handlers open a session, run cycles and write to the PostgreSQL ledger what they write to SQLite.
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from cli_processes import tf
from events_server import events_server_process
from floor_helpers import fast_config, ledger_fills
from langgraph_dev_server import langgraph_dev_process
from test_chat_ui_handlers import drive, run, step_named
from test_mcp_servers import _exercise_market, _place_orders, http_server, http_session, stdio_session

from floor.session import FloorSession
from ledger.store import Ledger
from tools import external_orders

ROOT = Path(__file__).resolve().parents[1]
SEED = 5
CYCLES = 3


def _floor(db: str, cycles: int = CYCLES) -> None:
    s = FloorSession(db, fast_config())
    s.start(seed=SEED)
    s.run(cycles)
    s.close()


@pytest.fixture(scope="module")
def pg_db(pg_server) -> str:
    """A run database of 3 cycles in its own schema (read-only tests share it)."""
    url = f"{pg_server.create_database()}&schema=surf"
    _floor(url)
    return url


def _fresh(pg_server, name: str) -> str:
    return f"{pg_server.create_database()}&schema={name}_{uuid.uuid4().hex[:6]}"


def _report_sections(html: str) -> str:
    """The report without its charts (Plotly's div ids are random): the tables, the stylized facts included."""
    tables = re.findall(r"<h2 id=\"[^\"]+\">.*?</h2>|<table.*?</table>|<p>.*?</p>", html, flags=re.S)
    return "\n".join(tables)


def test_report_of_a_stored_run_on_postgresql_equals_the_same_seed_on_sqlite(pg_db, tmp_path):
    lite = str(tmp_path / "floor.db")
    _floor(lite)
    by_url = tf("report", "--db", pg_db, "--out", str(tmp_path / "pg.html"))
    assert by_url.returncode == 0, by_url.stdout
    by_env = tf("report", "--out", str(tmp_path / "env.html"), env={"TRADING_FLOOR_DB": pg_db})
    assert by_env.returncode == 0, by_env.stdout
    assert tf("report", "--db", lite, "--out", str(tmp_path / "lite.html")).returncode == 0
    pg, env, sq = (_report_sections((tmp_path / f"{n}.html").read_text(encoding="utf-8")) for n in ("pg", "env", "lite"))
    assert 'id="stylized-facts"' in pg and 'id="leaderboard"' in pg and "<table" in pg
    assert pg == sq == env
    missing = tf("report", "--db", pg_db.replace("schema=surf", "schema=nothing_here"), "--out", str(tmp_path / "x"))
    assert missing.returncode == 2 and "no database at" in missing.stdout


def test_market_server_on_postgresql_over_stdio_and_over_http_from_the_environment(pg_db):
    async def over_stdio():
        async with stdio_session("market", "--db", pg_db) as s:
            await _exercise_market(s)

    async def over_http(url):
        async with http_session(url) as s:
            await _exercise_market(s)

    asyncio.run(over_stdio())
    with http_server("market", env={"TRADING_FLOOR_DB": pg_db}) as url:
        asyncio.run(over_http(url))


def test_accounts_server_orders_on_postgresql_pass_the_risk_check_and_reach_the_ledger(pg_server):
    db = _fresh(pg_server, "acct")
    _floor(db)
    ok_id, far_id, ask = asyncio.run(_place_orders(db))
    session = FloorSession(db)
    try:
        session.run(1)
        cycle = session.state()["cycle"]
        ours = [r for r in session.floor.ledger.orders(cycle=cycle, account="momentum", limit=None)
                if r["payload"].get("source") == "external"]
        assert len(ours) == 1 and ours[0]["qty"] == 10 and ours[0]["limit_price"] == ask
        intents = {i["intent_id"]: i for i in external_orders.intents(session.floor.ledger.db.conn,
                                                                      session.state()["run_id"], "momentum")}
        assert intents[ok_id]["status"] == "accepted" and intents[ok_id]["taken_cycle"] == cycle
        assert intents[far_id]["status"] == "rejected" and intents[far_id]["reason"] == "price_collar"
    finally:
        session.close()


def test_an_mcp_server_on_a_postgresql_database_without_a_run_says_so_in_one_line(pg_server):
    db = _fresh(pg_server, "empty")
    out = subprocess.run([sys.executable, "-m", "cli.app", "serve", "market", "--db", db], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    assert "no run database at" in out.stderr and "Traceback" not in out.stderr


async def _settled_cycles(base: str, last: int, ready: asyncio.Event) -> list[int]:
    """Subscribe to cycle_settled events until cycle `last` has settled."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET /events?kind=cycle_settled HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        buf, cycles = b"", []
        while not cycles or cycles[-1] < last:
            chunk = await asyncio.wait_for(reader.read(1 << 16), 60)
            assert chunk, buf[-500:]
            buf += chunk
            if b"200 OK" in buf:
                ready.set()
            cycles = [json.loads(d)["cycle"] for d in re.findall(rb"^data: (\{.*\})$", buf, flags=re.M)]
        return cycles
    finally:
        writer.close()


def test_the_event_stream_follows_cycles_another_process_settles_on_postgresql(pg_server):
    db = _fresh(pg_server, "events")
    _floor(db, 1)

    async def main(base):
        ready = asyncio.Event()
        sub = asyncio.create_task(_settled_cycles(base, 3, ready))
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(1.0)  # the follower has taken its starting point (cycle 1)
        session = FloorSession(db)
        await asyncio.to_thread(session.run, 2)
        session.close()
        return await asyncio.wait_for(sub, 90)

    with events_server_process(db) as base:
        assert asyncio.run(main(base)) == [2, 3]


@pytest.fixture
def dev_server_on_pg(pg_server, tmp_path):
    """`langgraph dev` as a real process, its graph's floor opened from TRADING_FLOOR_DB=postgresql://..."""
    db = _fresh(pg_server, "dev")
    with langgraph_dev_process(tmp_path, db) as base:
        yield base, db


def test_langgraph_dev_runs_cycles_and_time_travel_on_postgresql(dev_server_on_pg):
    base, db = dev_server_on_pg

    def cycle(client, thread, **extra) -> dict:
        r = client.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "trading_floor", "input": {}, **extra})
        assert r.status_code == 200, r.text
        assert "cycle" in r.json(), r.json()
        return r.json()

    with httpx.Client(base_url=base, timeout=120) as client:
        thread = client.post("/threads", json={}).json()["thread_id"]
        assert [cycle(client, thread)["cycle"] for _ in range(3)] == [1, 2, 3]
        history = client.post(f"/threads/{thread}/history", json={"limit": 100}).json()
        first_branch = history[0]["values"]["branch_id"]
        at_1 = next(h for h in history if h["values"].get("cycle") == 1 and not h["next"])
        out = cycle(client, thread, checkpoint_id=at_1["checkpoint"]["checkpoint_id"])
        assert out["cycle"] == 2 and out["branch_id"] != first_branch
    ledger = Ledger.open(db, readonly=True)  # the server wrote the PostgreSQL ledger, not a SQLite file
    try:
        fills = dict(ledger.conn.execute("SELECT branch_id, max(cycle) FROM fills GROUP BY branch_id").fetchall())
        (fork_cycle,) = ledger.conn.execute("SELECT fork_cycle FROM branches WHERE branch_id = ?",
                                            (out["branch_id"],)).fetchone()
    finally:
        ledger.close()
    assert fills[first_branch] == 3 and fills.get(out["branch_id"], 2) == 2 and fork_cycle == 1


def test_the_chat_ui_opens_its_session_on_postgresql_and_runs_what_sqlite_runs(pg_server, tmp_path):
    db = _fresh(pg_server, "ui")

    async def script(ui):
        await run("/run 2")

    ui = drive(tmp_path, script, TRADING_FLOOR_DB=db)
    assert all(len(step_named(ui, c)) == 1 for c in (1, 2))
    assert step_named(ui, 2)[0]["name"].startswith("Cycle 2 · run-1/branch 1 · ")
    (tmp_path / "lite").mkdir()
    drive(tmp_path / "lite", script)  # the same chat on a SQLite file
    pg, lite = FloorSession(db, readonly=True), FloorSession(str(tmp_path / "lite" / "floor.db"), readonly=True)
    try:
        assert pg.state()["cycle"] == lite.state()["cycle"] == 2
        assert ledger_fills(pg, (1, 2)) == ledger_fills(lite, (1, 2)) and ledger_fills(pg, (1, 2))
    finally:
        pg.close()
        lite.close()
