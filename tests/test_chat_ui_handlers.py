"""The Chainlit handlers under a mocked session context (the approach of Chainlit's own test suite:
a `ChainlitContext` over a `Mock(spec=WebsocketSession)` whose `emit` records what the UI would receive),
plus the controller's contract with the command line's session."""
from __future__ import annotations

import asyncio
import importlib
import json
import os
import tempfile
import uuid
from unittest.mock import AsyncMock, Mock

os.environ.setdefault("CHAINLIT_APP_ROOT", tempfile.mkdtemp(prefix="chainlit-root-"))  # before chainlit loads

import chainlit as cl  # noqa: E402
import pytest  # noqa: E402
from chainlit.context import ChainlitContext, context_var  # noqa: E402
from chainlit.session import WebsocketSession  # noqa: E402
from floor_helpers import fast_config, ledger_fills, write_config  # noqa: E402

from chat_ui import app  # noqa: E402
from chat_ui.commands import Command, Invalid, Question, parse  # noqa: E402
from chat_ui.controller import FloorController  # noqa: E402
from chat_ui.narrate import decision_text  # noqa: E402
from chat_ui.tables import tape_md  # noqa: E402
from cli.ui import is_loopback, ui_environment  # noqa: E402
from floor.session import FloorSession  # noqa: E402


def _session() -> Mock:
    s = Mock(spec=WebsocketSession)
    # a new id per page, as Chainlit gives: its user_session (where the page's dashboard element is kept) is by id
    s.id, s.thread_id, s.user, s.user_env, s.chat_settings = f"test-session-{uuid.uuid4().hex}", "test-thread", None, {}, {}
    s.socket_id = "socket-1"
    s.client_type, s.languages, s.chat_profile, s.http_referer, s.has_first_interaction = "webapp", ["en"], None, None, True
    s.emit = AsyncMock()
    s.persist_file = AsyncMock(side_effect=lambda **kw: {"id": f"file-{kw['name']}"})
    return s


class UI:
    """What the browser would have received: steps/messages, elements, in order."""

    def __init__(self, session: Mock):
        self.session = session

    def events(self, kind: str) -> list[dict]:
        return [c.args[1] for c in self.session.emit.call_args_list if c.args[0] == kind]

    def messages(self) -> list[dict]:
        return self.events("new_message")

    def steps(self, name: str) -> list[dict]:
        return [m for m in self.messages() if m.get("name") == name and m.get("type") != "assistant_message"]

    def texts(self) -> list[str]:
        return [m.get("output", "") for m in self.messages()]


def drive(tmp_path, script, **env):
    """Run `script(ui)` inside a mocked Chainlit session that started the chat on a temp database."""
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config(seed=9))
    env = {"TRADING_FLOOR_UI_CYCLE_SECONDS": "0", **env}
    os.environ.update({"TRADING_FLOOR_DB": str(tmp_path / "floor.db"), "TRADING_FLOOR_CONFIG": str(cfg), **env})

    async def main():
        session = _session()
        token = context_var.set(ChainlitContext(session))
        ui = UI(session)
        try:
            await app.on_chat_start()
            await script(ui)
            await asyncio.sleep(0.05)  # elements are sent from a task
            return ui
        finally:
            await app.on_chat_end()
            await app.close_hubs()
            context_var.reset(token)

    try:
        return asyncio.run(main())
    finally:
        for k in ("TRADING_FLOOR_DB", "TRADING_FLOOR_CONFIG", *env):
            os.environ.pop(k, None)


async def dashboard_feed(after: int | None = None) -> dict | None:
    """What a page's Dashboard element fetches (`GET /floor/dashboard?after=N`): the newest props, or None (204)."""
    resp = await app.dashboard_feed(after)
    return None if resp.status_code == 204 else json.loads(resp.body)


async def run(text: str) -> None:
    """Send a /run command and wait for the run (it goes on in the hub's task) to end."""
    await app.handle_text(text)
    await app._hub().wait()


def step_named(ui, cycle: int) -> list[dict]:
    """The top-level step of a cycle: its title starts "Cycle N · ..."."""
    return [m for m in ui.messages() if m.get("type") == "run" and (m.get("name") == f"Cycle {cycle}"
                                                                    or m.get("name", "").startswith(f"Cycle {cycle} · "))]


def test_parse_commands():
    assert parse("/run 3") == Command("run", 3)
    assert parse("/run") == Command("run", 1)
    assert parse("/rollback 5") == Command("rollback", 5)
    assert parse("/fork 4") == Command("fork", 4)
    assert parse("/approval on") == Command("approval", True)
    assert parse("/approval off") == Command("approval", False)
    assert parse("/book nvda") == Command("book", "NVDA")
    assert parse("/config") == Command("config")
    assert parse("/pause") == Command("pause")
    assert isinstance(parse("/rollback"), Invalid) and isinstance(parse("/run x"), Invalid)
    assert isinstance(parse("/run -2"), Invalid) and isinstance(parse("/order buy 100 NVDA"), Invalid)
    assert parse("@momentum why?") == Question("@momentum why?")


def test_run_streams_each_cycle_as_a_step_with_nested_node_steps(tmp_path):
    async def script(ui):
        await run("/run 2")
        ui.feed = await dashboard_feed()
        ui.unchanged = await dashboard_feed(ui.feed["version"])

    ui = drive(tmp_path, script)
    cycles = [step_named(ui, c) for c in (1, 2)]
    assert all(len(s) == 1 for s in cycles)
    cycle2 = cycles[1][0]
    # one message per cycle: the node steps (and the traders inside `decide`) travel inside it, finished
    assert not ui.events("update_message")
    children = {m["name"]: m for m in cycle2["steps"]}
    assert set(children) == {"market tick", "discussion", "decide", "risk", "execution", "fills"}
    assert all(m["parentId"] == cycle2["id"] and m["end"] for m in children.values())
    traders = children["decide"]["steps"]
    assert sorted(m["name"] for m in traders) == sorted(t.name for t in fast_config().traders)
    # The decisions read as reasoning (from the ledger's traces), not as JSON.
    momentum = next(m for m in traders if m["name"] == "momentum")["output"]
    assert momentum.startswith("**momentum** (rule mode) — ") and "{" not in momentum
    discussion = children["discussion"]["output"]
    assert "Topic:" in discussion and "sentiment" in discussion
    # The title carries the cycle's summary: thread and branch, floor fills, the biggest floor trade.
    assert cycle2["name"].startswith("Cycle 2 · run-1/branch 1 · ")
    # The dashboard lives in the sidebar: one element, sent once; it fetches its updates from the feed, where
    # the newest props are (and nothing when the page has them); never a message.
    sidebar = [e for e in ui.events("element") if e["name"] == "Dashboard"]
    assert len(sidebar) == 1 and sidebar[0]["display"] == "side" and sidebar[0]["props"]["cycle"] == 1
    props = ui.feed
    assert ui.unchanged is None and props["version"] > sidebar[0]["props"]["version"]
    assert props["cycle"] == 2 and props["status"].startswith("idle")
    assert {p["symbol"] for p in props["prices"]} >= {"FLOR", "NVDA"}
    flor = next(p for p in props["prices"] if p["symbol"] == "FLOR")
    assert flor["nav"] and all(isinstance(c, int) for c, _ in flor["series"])
    assert [r["rank"] for r in props["leaderboard"]] == list(range(1, len(fast_config().traders) + 1))
    assert not [m for m in ui.messages() if "Floor at cycle" in m.get("output", "")]
    assert any(t.startswith("✓ Ran 2 cycles, now at cycle 2.") for t in ui.texts())


def test_updates_do_not_resend_the_sidebar_element_but_status_does(tmp_path):
    """Chainlit's page re-opens a closed sidebar whenever a side element arrives: a run's updates go through the
    feed only; `/status` (the person asks for the dashboard) sends the element again, with the newest props."""
    async def script(ui):
        await run("/run 3")
        ui.before = len([e for e in ui.events("element") if e["name"] == "Dashboard"])
        await app.handle_text("/status")
        ui.feed = await dashboard_feed()

    ui = drive(tmp_path, script, TRADING_FLOOR_UI_DASHBOARD_SECONDS="0")
    sent = [e for e in ui.events("element") if e["name"] == "Dashboard"]
    assert ui.before == 1 and len(sent) == 2 and sent[0]["id"] == sent[1]["id"]
    assert sent[1]["props"] == ui.feed and ui.feed["cycle"] == 3


def test_question_rollback_fork_book_config(tmp_path):
    async def script(ui):
        await run("/run 3")
        await app.handle_text("@arbitrage what is your position and PnL?")
        await app.handle_text("/rollback 1")
        ctl = app._hub().ctl
        assert await ctl.cycle() == 1
        await app.handle_text("@arbitrage what is your position and PnL?")
        await app.handle_text("/fork 1")
        await app.handle_text("/book NVDA")
        await app.handle_text("/config")
        await app.handle_text("/rollback 7")

    ui = drive(tmp_path, script)
    texts = ui.texts()
    assert any(t.startswith("I'm arbitrage, at cycle 3") for t in texts)
    assert any(t.startswith("↶ Rolled back to cycle 1") for t in texts)
    assert any(t.startswith("I'm arbitrage, at cycle 1") for t in texts)
    assert any("Forked at cycle 1" in t for t in texts)
    assert any(t.startswith("**NVDA book**") for t in texts)
    assert any(t.startswith("```yaml") and "traders:" in t and "initial_cash: $100,000.00" in t for t in texts)
    assert any("cannot roll back to cycle 7" in t for t in texts)


def test_approval_shows_orders_and_a_rejection_keeps_them_off_the_exchange(tmp_path):
    async def script(ui):
        await app.handle_text("/approval on")
        await app.handle_text("/run 60")  # waits at the first cycle with proposed orders
        hub = app._hub()
        while not hub.waiting_run():
            assert hub.running, "the run ended without asking for approval"
            await asyncio.sleep(0.02)
        request = await hub.ctl.session.pending_approval()
        assert request and request["orders"]
        ui.cycle = request["cycle"]
        await app.handle_text("/approval off")  # from the next cycle on: the run goes on unattended
        await app.on_approve(cl.Action(name="approve", payload={"answer": False}))
        await hub.wait()
        ui.ledger_orders = [o for o in hub.ctl.floor.ledger.orders(cycle=ui.cycle, limit=None) if o["side"]]
        ui.approval = hub.ctl.floor.ledger.traces(cycle=ui.cycle, kind="approval", limit=None)
        ui.final = await hub.ctl.cycle()

    ui = drive(tmp_path, script)
    assert any(f"Cycle {ui.cycle} waits for your approval" in t for t in ui.texts())
    assert any(a["label"] == "Approve all" for a in ui.events("action"))
    assert ui.approval and ui.approval[0]["payload"]["kept"] == []
    assert ui.ledger_orders == []  # nothing reached the exchange
    assert step_named(ui, ui.cycle)
    # the answer did not end the /run: its remaining cycles went on, to the 60th
    assert any(t.startswith(f"✗ Cycle {ui.cycle}: orders rejected. The run goes on") for t in ui.texts())
    assert ui.final == 60 and any(t.startswith("✓ Ran 60 cycles, now at cycle 60.") for t in ui.texts())
    # one readable line for the person's decision, and each trader's risk check once
    risk = [m["output"] for m in step_named(ui, ui.cycle)[0]["steps"] if m["name"] == "risk"]
    assert risk and "✗ **A person rejected** all" in risk[0] and "answer False" not in risk[0]
    assert risk[0].count("**momentum**:") <= 1


def test_chat_text_never_trades(tmp_path):
    async def script(ui):
        await run("/run 1")
        ctl = app._hub().ctl
        before = (await ctl.cycle(), len(ctl.floor.ledger.orders(limit=None)))
        for text in ("@momentum buy 1000 NVDA now", "place_order NVDA buy 10", "/order buy 10 NVDA"):
            await app.handle_text(text)
        ui.same = before == (await ctl.cycle(), len(ctl.floor.ledger.orders(limit=None)))

    assert drive(tmp_path, script).same


def test_a_cli_run_continues_in_the_ui_and_back(tmp_path):
    db = tmp_path / "floor.db"
    s = FloorSession(db, fast_config(seed=4))
    s.start()
    s.run(3)
    s.close()

    async def ui_part():
        ctl = await FloorController.open(db, fast_config(seed=4))
        assert await ctl.cycle() == 3
        cycles = [o.report.cycle async for o in ctl.run(2)]
        out = await ctl.rollback(4)
        await ctl.close()
        return cycles, out

    cycles, out = asyncio.run(ui_part())
    assert cycles == [4, 5] and out["cycle"] == 4
    s = FloorSession(db, fast_config(seed=4))
    assert s.state()["cycle"] == 4
    assert s.run(1)[0].cycle == 5
    s.close()


def test_ui_host_safety(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    env = ui_environment(tmp_path / "floor.db", "127.0.0.1", 8000, base={})
    assert "TRADING_FLOOR_UI_AUTH" not in env and env["CHAINLIT_HOST"] == "127.0.0.1"
    assert env["CHAINLIT_APP_ROOT"].startswith(str(tmp_path))  # Chainlit's files stay beside the database
    with pytest.raises(ValueError, match="password auth"):
        ui_environment(tmp_path / "floor.db", "0.0.0.0", 8000, base={})
    env = ui_environment(tmp_path / "floor.db", "0.0.0.0", 8000,
                         base={"TRADING_FLOOR_UI_USER": "ops", "TRADING_FLOOR_UI_PASSWORD": "s3cret"})
    assert env["TRADING_FLOOR_UI_AUTH"] == "1" and len(env["CHAINLIT_AUTH_SECRET"]) > 32


def test_password_auth_checks_the_environment_credentials(monkeypatch):
    from chainlit.config import config

    monkeypatch.setenv("TRADING_FLOOR_UI_AUTH", "1")
    monkeypatch.setenv("TRADING_FLOOR_UI_USER", "ops")
    monkeypatch.setenv("TRADING_FLOOR_UI_PASSWORD", "s3cret")
    try:
        importlib.reload(app)
        check = app.password_auth
        assert config.code.password_auth_callback is not None
        assert asyncio.run(check("ops", "s3cret")).identifier == "ops"
        assert asyncio.run(check("ops", "wrong")) is None
        assert asyncio.run(check("root", "s3cret")) is None
    finally:
        config.code.password_auth_callback = None
        monkeypatch.delenv("TRADING_FLOOR_UI_AUTH")
        importlib.reload(app)


def test_decision_text_reads_as_reasoning_with_llm_calls_and_fallbacks():
    d = {"trader": "momentum", "cycle": 4, "mode": "fallback", "fallback_reason": "timeout after 2 retries",
         "rationale": "NVDA up 2.1% over 10 cycles: buying.", "actions": {"NVDA": "BUY", "AAPL": "HOLD"},
         "orders": [{"symbol": "NVDA", "side": "buy", "qty": 40, "order_type": "limit", "limit_price": 12050}],
         "signals": {"NVDA.return": 0.021, "threshold": 0.015}, "cancel_order_ids": []}
    llm = {"tool_calls": [{"name": "quote", "args": {"symbol": "NVDA"}, "ok": True}], "tokens_estimated": 812,
           "llm_retries": 2, "llm_cache_hits": 0}
    text = decision_text(d, llm)
    assert text.startswith("**momentum** (fallback mode) — NVDA up 2.1% over 10 cycles: buying.")
    assert "LLM fell back to its rule logic: timeout after 2 retries" in text
    assert "Actions: BUY NVDA" in text and "AAPL" not in text.split("Actions:")[1].split("\n")[0]
    assert "BUY 40 NVDA @ $120.50" in text and "NVDA.return = +0.021" in text
    assert "quote(symbol=NVDA)" in text and "Tokens (estimated): 812, retries 2" in text


def test_tape_is_newest_first_with_cycle_and_tick():
    fills = [{"cycle": 3, "tick": t, "symbol": "NVDA", "qty": 1, "price": 100 + t, "buyer": "a", "seller": "b"}
             for t in (1, 5, 2)]
    rows = tape_md(fills).splitlines()[2:]
    assert [r.split("|")[1].strip() for r in rows] == ["(3, 5)", "(3, 2)", "(3, 1)"]


def test_two_chat_sessions_on_one_database_take_turns_and_the_run_stays_deterministic(tmp_path):
    """Two browser tabs are two controllers on one run: their cycles never overlap, each continues from
    where the other left the checkpoint, and the result is the single run the seed gives."""
    ref = FloorSession(tmp_path / "ref.db", fast_config(seed=4))
    ref.start()
    ref.run(6)
    want = ledger_fills(ref, range(1, 7))
    ref.close()

    async def main():
        db = tmp_path / "tabs.db"
        first = await FloorController.open(db, fast_config(seed=4))
        await first.new_run()
        second = await FloorController.open(db, fast_config(seed=4))  # the second tab joins the current run

        async def run(ctl):
            return [o.report.cycle async for o in ctl.run(3)]

        cycles = await asyncio.gather(run(first), run(second))
        await first.close()
        await second.close()
        return cycles

    cycles = asyncio.run(main())
    assert sorted(cycles[0] + cycles[1]) == [1, 2, 3, 4, 5, 6]
    s = FloorSession(tmp_path / "tabs.db")
    try:
        assert s.state()["cycle"] == 6
        assert ledger_fills(s, range(1, 7)) == want
    finally:
        s.close()


def test_a_terminal_pauses_and_rolls_back_a_ui_run_and_the_ui_reaches_a_terminal_run(tmp_path):
    """The run's owner may be the UI or a terminal: the other side is refused with the owner's name, or its
    rollback / fork / pause is delivered and applied at the owner's next cycle boundary."""
    import re
    import subprocess
    import sys

    db = tmp_path / "floor.db"
    cli = [sys.executable, "-c", "from cli.app import app; app()"]

    def terminal(*args, wait=True):
        p = subprocess.Popen([*cli, *args, "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=os.environ | {"COLUMNS": "200"})
        return " ".join(p.communicate(timeout=120)[0].split()) if wait else p

    async def ui_owns_a_run(ui):
        await run("/run 2")
        await app.handle_text("/run 400")
        while not step_named(ui, 6):
            await asyncio.sleep(0.05)
        busy = await asyncio.to_thread(terminal, "run", "--cycles", "1")
        assert re.search(rf"busy: {re.escape(str(db))} is in use: pid {os.getpid()} ", busy), busy
        rolled = await asyncio.to_thread(terminal, "rollback", "--to-cycle", "3")
        assert "rolled back to cycle 3; continuing on branch 2" in rolled, rolled
        paused = await asyncio.to_thread(terminal, "pause")
        assert "paused: the run stopped after cycle" in paused, paused
        await asyncio.wait_for(app._hub().wait(), 60)

    ui = drive(tmp_path, ui_owns_a_run, TRADING_FLOOR_UI_CYCLE_SECONDS="0.02")
    texts = " ".join(m.get("output", "") for m in ui.messages())
    assert re.search(r"■ Paused after \d+ of 400 cycles, asked by `.*pause --db", texts), texts

    status = terminal("status")
    assert "branch 2" in status and "idle: no process is running it" in status, status

    async def terminal_owns_a_run(ui):
        owner = terminal("run", "--cycles", "100000", wait=False)
        try:
            while "running: pid" not in await asyncio.to_thread(terminal, "status"):
                await asyncio.sleep(0.2)
            await run("/run 1")
            await app.handle_text("/rollback 4")
            await app.handle_text("/fork 3")
            assert "paused" in await asyncio.to_thread(terminal, "pause")
            owner.communicate(timeout=60)
        finally:
            owner.kill()

    ui = drive(tmp_path, terminal_owns_a_run)
    texts = [m.get("output", "") for m in ui.messages()]
    assert any(re.search(r"⚠️ .* is in use: pid \d+ \(`.*run --cycles 100000", t) for t in texts), texts
    assert any(t.startswith("↶ Rolled back to cycle 4; continuing on branch") for t in texts), texts
    assert any(re.match(r"↷ Forked at cycle 3: now on thread `run-1-b\d+`", t) for t in texts), texts


def test_pause_mid_run_and_a_page_that_opens_mid_run_joins_it(tmp_path):
    """`/pause` while a run goes on stops it at a cycle boundary; a page opened meanwhile (a reload, a second
    tab) is told a run is in progress, is shown the last cycles from the ledger, then follows the run."""
    async def script(ui):
        await app.handle_text("/run 400")
        hub = app._hub()
        while hub.progress.done < 3:
            await asyncio.sleep(0.02)
        other = _session()
        other.id, other.socket_id = "second-page", "socket-2"
        token = context_var.set(ChainlitContext(other))
        try:
            await app.on_chat_start()
        finally:
            context_var.reset(token)
        seen = hub.progress.done
        while hub.progress.done < seen + 2:
            await asyncio.sleep(0.02)
        await app.handle_text("/pause")
        await hub.wait()
        ui.other, ui.progress, ui.cycle = UI(other), hub.progress, await hub.ctl.cycle()
        ui.feed = await dashboard_feed()

    ui = drive(tmp_path, script, TRADING_FLOOR_UI_CYCLE_SECONDS="0.02")
    p = ui.progress
    assert p.ended and 5 <= p.done < 400 and p.cycle == ui.cycle == p.start_cycle + p.done
    assert any(t.startswith(f"■ Paused after {p.done} of 400 cycles, now at cycle {ui.cycle}.") for t in ui.texts())
    last = ui.feed
    assert last["cycle"] == ui.cycle and last["status"] == f"paused after {p.done} of 400 cycles"
    greeting = ui.other.texts()[0]
    assert "**A run is in progress** (running:" in greeting
    replayed = [m["name"] for m in ui.other.messages() if m.get("type") == "run"]
    assert len(replayed) >= 3 + 2 and all(n.startswith("Cycle ") for n in replayed)
    numbers = [int(n.split()[1]) for n in replayed]
    assert numbers == sorted(numbers) and numbers[-1] == ui.cycle  # the last few, then live to the pause
    assert any(t.startswith(f"■ Paused after {p.done} of 400 cycles") for t in ui.other.texts())
