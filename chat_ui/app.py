"""The Chainlit app: watch the floor cycle by cycle, question the traders, steer the run.

Handlers only. The run belongs to the process, not to a page: chat_ui/hub.py holds one controller per run
database (chat_ui/controller.py) and runs `/run N` in a task of its own, so a dropped websocket, a reload
or a second tab never ends it; chat_ui/present.py shows each cycle to every page watching, with the live
dashboard in the element sidebar. Started by `trading-floor ui`, which sets TRADING_FLOOR_DB (the run
database shared with the command line), optionally TRADING_FLOOR_CONFIG, and TRADING_FLOOR_UI_AUTH=1 with
TRADING_FLOOR_UI_USER / TRADING_FLOOR_UI_PASSWORD when the server listens beyond loopback. Chat text is
parsed into commands or questions only: it never reaches the exchange, where orders come from the
traders through their tools and the risk checks.
"""
from __future__ import annotations

import asyncio
import hmac
import os
from pathlib import Path

import chainlit as cl
from chainlit.auth import get_current_user
from chainlit.config import config as cl_config
from chainlit.context import context
from chainlit.server import app as server
from fastapi import Depends, Response

from chat_ui import assets, present
from chat_ui.commands import HELP, Command, Invalid, Question, parse
from chat_ui.controller import FloorController
from chat_ui.hub import FloorHub
from floor.config import load_config
from floor.session import DEFAULT_DB, SessionError


def _config():
    path = os.environ.get("TRADING_FLOOR_CONFIG")
    return load_config(path) if path else load_config()


assets.install(llm=_config().has_llm_traders)
REPLAY_CYCLES = 3  # a page that opens (or reloads) on a run is shown its last few cycles again
_HUBS: dict[tuple[int, str], FloorHub] = {}
_HUB_LOCK: dict[int, asyncio.Lock] = {}


def _seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _cycle_pace() -> float:
    """Seconds a cycle takes at least on screen (TRADING_FLOOR_UI_CYCLE_SECONDS, default 0.3). A rule cycle
    computes in milliseconds, far faster than a browser renders its steps: unpaced, a long /run floods
    the page. The dashboard is redrawn at most every TRADING_FLOOR_UI_DASHBOARD_SECONDS (default 1) during
    a run, and always at its end."""
    return _seconds("TRADING_FLOOR_UI_CYCLE_SECONDS", 0.3)


async def get_hub() -> FloorHub:
    """The process's hub for the run database (one per event loop), opened on first use."""
    db = os.environ.get("TRADING_FLOOR_DB", str(DEFAULT_DB))
    loop = id(asyncio.get_running_loop())
    key = (loop, str(Path(db).resolve()))
    async with _HUB_LOCK.setdefault(loop, asyncio.Lock()):
        hub = _HUBS.get(key)
        if hub is None:
            ctl = await FloorController.open(db, _config())
            audience = present.Audience()
            hub = FloorHub(ctl, present.BroadcastView(audience, lambda: _HUBS[key]), pace=_cycle_pace(),
                           dashboard_every=_seconds("TRADING_FLOOR_UI_DASHBOARD_SECONDS", 1.0))
            hub.audience = audience
            audience.catch_up = lambda: catch_up(hub)
            _HUBS[key] = hub
        return hub


async def close_hubs() -> None:
    """Close every hub of this event loop (tests; a server ends with its process)."""
    loop = id(asyncio.get_running_loop())
    for key in [k for k in _HUBS if k[0] == loop]:
        hub = _HUBS.pop(key)
        hub.audience.stop()
        await hub.close()


def _hub() -> FloorHub:
    return cl.user_session.get("hub")


async def dashboard_feed(after: int | None = None, user: object = Depends(get_current_user)) -> Response:
    """`GET /floor/dashboard?after=N`: the newest dashboard props as JSON, or 204 when the page has them (its
    element polls this, see chat_ui/dashboard_feed.py). Behind Chainlit's login when auth is on."""
    body = (await get_hub()).feed.newer_than(after)
    if body is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def _add_route_first(path: str, endpoint) -> None:
    """A GET route ahead of Chainlit's catch-all `/{path}` (which serves the page and would shadow it)."""
    routes = server.router.routes
    if any(getattr(r, "path", None) == path for r in routes):
        return  # the module was loaded again
    server.add_api_route(path, endpoint, methods=["GET"])
    routes.insert(0, routes.pop())


_add_route_first(f"{cl_config.run.root_path}/floor/dashboard", dashboard_feed)


if os.environ.get("TRADING_FLOOR_UI_AUTH") == "1":
    @cl.password_auth_callback
    async def password_auth(username: str, password: str) -> cl.User | None:
        """Credentials come only from the environment; compared in constant time."""
        user, secret = os.environ.get("TRADING_FLOOR_UI_USER", ""), os.environ.get("TRADING_FLOOR_UI_PASSWORD", "")
        if user and secret and hmac.compare_digest(username, user) and hmac.compare_digest(password, secret):
            return cl.User(identifier=username, metadata={"role": "operator"})
        return None


def _short(path: str, width: int = 48) -> str:
    return path if len(path) <= width else "…/" + "/".join(Path(path).parts[-2:])


async def where_text(hub: FloorHub) -> str:
    ctl = hub.ctl
    thread = ctl.session.thread
    if thread is None:
        return "No run yet: `/run 3` starts one."
    st = await ctl.session.state()
    text = f"Thread `{thread.thread_id}` (branch {st.get('branch_id')}) is at cycle {st.get('cycle', 0)}."
    if hub.running:
        text += f" **A run is in progress** ({hub.status()}): it goes on here; `/pause` stops it."
    return text


async def catch_up(hub: FloorHub) -> None:
    """A page back on a new socket (after a drop): where the run is, and the current dashboard."""
    await present.say(f"↻ Reconnected. {await where_text(hub)}", actions=present.main_actions(hub.running))
    await present.show_dashboard(await hub.dashboard())


@cl.on_chat_start
async def on_chat_start() -> None:
    hub = await get_hub()
    cl.user_session.set("hub", hub)
    first_visit = hub.ctl.session.thread is None
    await present.say(f"**Trading Floor** on `{_short(hub.ctl.session.db_path)}`. {await where_text(hub)}\n\n"
                      + (HELP if first_visit else "`/help` lists the commands."),
                      actions=present.main_actions(hub.running))
    if hub.ctl.session.thread is not None:
        last = await hub.ctl.cycle()
        for c in range(max(1, last - REPLAY_CYCLES + 1), last + 1):  # the conversation so far, from the ledger
            story = await hub.ctl.story(c)
            if story is not None:
                await present.show_story(story)
        await present.show_dashboard(await hub.dashboard())
        if hub.waiting_run():
            await present.show_approval(hub.progress.waiting, hub.progress.remaining - 1)
    hub.audience.join(context.session)  # from now on this page is shown every cycle of every run


@cl.on_chat_end
async def on_chat_end() -> None:
    """A socket dropped (or the page closed): the run and the hub go on; Chainlit keeps the session for
    its `session_timeout`, and a page that comes back on it is caught up."""


@cl.on_stop
async def on_stop() -> None:
    if _hub() is not None:
        _hub().pause("stop")


@cl.on_message
async def on_message(message: cl.Message) -> None:
    await handle_text(message.content)


async def handle_text(text: str) -> None:
    parsed = parse(text)
    hub = _hub()
    try:
        if isinstance(parsed, Invalid):
            await present.say(parsed.message)
        elif isinstance(parsed, Question):
            await present.say(await hub.ctl.ask(parsed.text), author="floor")
        else:
            await handle_command(hub, parsed)
    except SessionError as exc:
        await present.say(f"⚠️ {exc}")


_NOT_WHILE_RUNNING = {"rollback", "fork", "use", "new"}


async def handle_command(hub: FloorHub, cmd: Command) -> None:
    ctl = hub.ctl
    if cmd.name in _NOT_WHILE_RUNNING and hub.running:
        await present.say(f"⚠️ A run is in progress ({hub.status()}): `/pause` it before `/{cmd.name}`.")
        return
    if cmd.name == "run":
        await start_run(hub, cmd.arg)
    elif cmd.name in ("pause", "stop"):
        await pause(hub, cmd.name)
    elif cmd.name == "rollback":
        out = await ctl.rollback(cmd.arg)
        await present.say(f"↶ Rolled back to cycle {out['cycle']}; continuing on branch {out['branch_id']} "
                          f"(branch {out['kept_branch']} keeps the discarded future).")
        await refresh_dashboards(hub)
    elif cmd.name == "fork":
        thread = await ctl.fork(cmd.arg)
        await present.say(f"↷ Forked at cycle {cmd.arg}: now on thread `{thread}`; the original is "
                          "untouched (`/threads`, `/use THREAD`).")
        await refresh_dashboards(hub)
    elif cmd.name == "approval":
        await ctl.set_approval(cmd.arg)
        await present.say("Approval mode **on**: proposed orders wait for you before execution."
                          if cmd.arg else "Approval mode **off**: orders go straight from risk to execution.")
    elif cmd.name == "book":
        await present.say(await ctl.book(cmd.arg))
    elif cmd.name == "config":
        await present.say(ctl.config_text())
    elif cmd.name == "status":
        await show_status(hub)
    elif cmd.name == "threads":
        await present.say("\n".join(f"- {t}" for t in await ctl.threads()) or "No threads yet.")
    elif cmd.name == "use":
        await present.say(f"Now on thread `{await ctl.use(cmd.arg)}` at cycle {await ctl.cycle()}.")
        await refresh_dashboards(hub)
    elif cmd.name == "new":
        thread = await ctl.new_run(cmd.arg)
        await present.say(f"New run on thread `{thread}`.")
        await refresh_dashboards(hub)
    elif cmd.name == "help":
        await present.say(HELP, actions=present.main_actions(hub.running))


async def start_run(hub: FloorHub, cycles: int) -> None:
    progress = await hub.start(cycles)
    msg = cl.Message(content=f"▶ Running {cycles} cycle{'s' if cycles != 1 else ''} from cycle "
                             f"{progress.start_cycle}. Pause (or `/pause`) stops after the cycle in progress.",
                     actions=present.main_actions(True))
    await msg.send()
    cl.user_session.set("run_msg", msg)  # its Pause/Stop buttons go when the run ends


async def pause(hub: FloorHub, kind: str = "pause") -> None:
    if hub.pause(kind):
        await present.say("■ Pausing after the cycle in progress…")
    else:
        await present.say(f"Nothing is running. {await where_text(hub)}")


async def show_status(hub: FloorHub) -> None:
    """Where the run is, its leaderboard in the chat, and this page's dashboard brought up to date (and
    opened, if the person had closed the sidebar: they asked)."""
    text = await where_text(hub)
    board = await hub.ctl.leaderboard_md()
    await present.say(text + ("\n\n" + board if board else ""), actions=present.main_actions(hub.running))
    await present.show_dashboard(await hub.dashboard(), reopen=True)


async def refresh_dashboards(hub: FloorHub) -> None:
    props = await hub.dashboard()  # pages with a dashboard fetch it; the others are sent one
    await hub.audience.each(lambda: present.show_dashboard(props))


@cl.action_callback("run")
async def on_run(action: cl.Action) -> None:
    try:
        await start_run(_hub(), int(action.payload.get("cycles", 1)))
    except SessionError as exc:
        await present.say(f"⚠️ {exc}")


@cl.action_callback("pause")
async def on_pause(action: cl.Action) -> None:
    await pause(_hub(), "pause")


@cl.action_callback("stop")
async def on_stop_action(action: cl.Action) -> None:
    await pause(_hub(), "stop")


@cl.action_callback("status")
async def on_status(action: cl.Action) -> None:
    await show_status(_hub())


@cl.action_callback("approve")
async def on_approve(action: cl.Action) -> None:
    """The answer goes to the run waiting for it (which then goes on), or resumes the cycle directly."""
    hub = _hub()
    answer = action.payload.get("answer")
    answer = answer if isinstance(answer, list) else bool(answer)
    if hub.answer(answer):
        return
    try:
        outcome = await hub.ctl.resume(answer)
    except SessionError as exc:
        await present.say(f"⚠️ {exc}")
        return
    await hub.view.answered(answer, outcome, None)
