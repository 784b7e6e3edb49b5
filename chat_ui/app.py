"""The Chainlit app: watch the floor cycle by cycle, question the traders, steer the run.

Handlers only; the work is in chat_ui/controller.py (the async floor session), chat_ui/narrate.py (a
cycle's records as sentences), chat_ui/tables.py and chat_ui/charts.py. Started by `trading-floor ui`,
which sets TRADING_FLOOR_DB (the run database shared with the command line), optionally
TRADING_FLOOR_CONFIG, and TRADING_FLOOR_UI_AUTH=1 with TRADING_FLOOR_UI_USER / TRADING_FLOOR_UI_PASSWORD
when the server listens beyond loopback. Chat text is parsed into commands or questions only: it never
reaches the exchange, where orders come from the traders through their tools and the risk checks.
"""
from __future__ import annotations

import asyncio
import hmac
import os

import chainlit as cl

from chat_ui.commands import HELP, Command, Invalid, Question, parse
from chat_ui.controller import CycleOutcome, FloorController
from chat_ui.narrate import order_text, summary_text
from floor.config import load_config
from floor.session import DEFAULT_DB, SessionError

DASHBOARD_EVERY = 10  # in a long run, redraw the charts at most about this many times


def _ctl() -> FloorController:
    return cl.user_session.get("ctl")


def main_actions() -> list[cl.Action]:
    return [
        cl.Action(name="run", payload={"cycles": 1}, label="▶ Run 1"),
        cl.Action(name="run", payload={"cycles": 3}, label="▶ Run 3"),
        cl.Action(name="run", payload={"cycles": 10}, label="▶ Run 10"),
        cl.Action(name="pause", payload={}, label="Pause"),
        cl.Action(name="status", payload={}, label="Status"),
    ]


if os.environ.get("TRADING_FLOOR_UI_AUTH") == "1":
    @cl.password_auth_callback
    async def password_auth(username: str, password: str) -> cl.User | None:
        """Credentials come only from the environment; compared in constant time."""
        user, secret = os.environ.get("TRADING_FLOOR_UI_USER", ""), os.environ.get("TRADING_FLOOR_UI_PASSWORD", "")
        if user and secret and hmac.compare_digest(username, user) and hmac.compare_digest(password, secret):
            return cl.User(identifier=username, metadata={"role": "operator"})
        return None


@cl.on_chat_start
async def on_chat_start() -> None:
    db = os.environ.get("TRADING_FLOOR_DB", str(DEFAULT_DB))
    cfg_path = os.environ.get("TRADING_FLOOR_CONFIG")
    ctl = await FloorController.open(db, load_config(cfg_path) if cfg_path else load_config())
    cl.user_session.set("ctl", ctl)
    thread = ctl.session.thread
    where = (f"Continuing thread `{thread.thread_id}` at cycle {await ctl.cycle()}." if thread
             else "No run yet: `/run 3` starts one.")
    await cl.Message(content=f"**Trading Floor** on `{db}`. {where}\n\n{HELP}", actions=main_actions()).send()


@cl.on_chat_end
async def on_chat_end() -> None:
    ctl = _ctl()
    if ctl is not None:
        ctl.pause()
        await ctl.close()


@cl.on_stop
async def on_stop() -> None:
    if _ctl() is not None:
        _ctl().pause()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    await handle_text(message.content)


async def handle_text(text: str) -> None:
    parsed = parse(text)
    ctl = _ctl()
    try:
        if isinstance(parsed, Invalid):
            await cl.Message(content=parsed.message).send()
        elif isinstance(parsed, Question):
            answer = await ctl.ask(parsed.text)
            await cl.Message(content=answer, author="floor").send()
        else:
            await handle_command(ctl, parsed)
    except SessionError as exc:
        await cl.Message(content=f"⚠️ {exc}").send()


async def handle_command(ctl: FloorController, cmd: Command) -> None:
    if cmd.name == "run":
        await run_cycles(ctl, cmd.arg)
    elif cmd.name == "pause":
        ctl.pause()
        await cl.Message(content="Pausing after the cycle in progress.").send()
    elif cmd.name == "rollback":
        out = await ctl.rollback(cmd.arg)
        await cl.Message(content=f"⏪ Rolled back to cycle {out['cycle']}; continuing on branch {out['branch_id']} "
                                 f"(branch {out['kept_branch']} keeps the discarded future).").send()
        await show_dashboard(ctl)
    elif cmd.name == "fork":
        thread = await ctl.fork(cmd.arg)
        await cl.Message(content=f"🔀 Forked at cycle {cmd.arg}: now on thread `{thread}`; the original is "
                                 "untouched (`/threads`, `/use THREAD`).").send()
        await show_dashboard(ctl)
    elif cmd.name == "approval":
        await ctl.set_approval(cmd.arg)
        await cl.Message(content="✋ Approval mode **on**: proposed orders wait for you before execution."
                         if cmd.arg else "Approval mode **off**: orders go straight from risk to execution.").send()
    elif cmd.name == "book":
        await cl.Message(content=await ctl.book(cmd.arg)).send()
    elif cmd.name == "config":
        await cl.Message(content=ctl.config_text()).send()
    elif cmd.name == "status":
        await show_dashboard(ctl)
    elif cmd.name == "threads":
        await cl.Message(content="\n".join(f"- {t}" for t in await ctl.threads()) or "No threads yet.").send()
    elif cmd.name == "use":
        await cl.Message(content=f"Now on thread `{await ctl.use(cmd.arg)}` at cycle {await ctl.cycle()}.").send()
        await show_dashboard(ctl)
    elif cmd.name == "new":
        thread = await ctl.new_run(cmd.arg)
        await cl.Message(content=f"New run on thread `{thread}`.").send()
    elif cmd.name == "help":
        await cl.Message(content=HELP, actions=main_actions()).send()


def _cycle_pace() -> float:
    """Seconds a cycle takes at least on screen (TRADING_FLOOR_UI_CYCLE_SECONDS, default 0.3). A rule cycle
    computes in a few milliseconds, far faster than a browser renders its steps: unpaced, a long /run
    floods the page, which then shows cycles (and answers Stop) long after the server produced them."""
    try:
        return max(0.0, float(os.environ.get("TRADING_FLOOR_UI_CYCLE_SECONDS", "0.3")))
    except ValueError:
        return 0.3


async def run_cycles(ctl: FloorController, cycles: int) -> None:
    every = max(1, cycles // DASHBOARD_EVERY)
    done = 0
    pace = _cycle_pace()
    loop = asyncio.get_running_loop()
    started = loop.time()
    async for outcome in ctl.run(cycles):
        if outcome.story is None:
            await ask_approval(outcome)
            return
        await show_cycle(outcome)
        await asyncio.sleep(max(0.0, started + pace - loop.time()))  # Stop cancels the wait, too
        started = loop.time()
        done += 1
        if done % every == 0 and done < cycles:
            await show_dashboard(ctl)
    await show_dashboard(ctl)
    if done < cycles:
        who = f", asked by `{ctl.stopped_by['by']}`" if ctl.stopped_by else ""
        await cl.Message(content=f"⏸ Paused after {done} of {cycles} cycles{who}.").send()


async def show_cycle(outcome: CycleOutcome) -> None:
    """The cycle as one step, with a nested step per node (and per trader inside `decide`)."""
    story = outcome.story
    async with cl.Step(name=f"Cycle {story.cycle}", type="run", show_input=False) as step:
        sections = [("market tick", [story.market]), ("discussion", story.discussion)]
        for name, lines in sections:
            async with cl.Step(name=name, type="tool", show_input=False) as sub:
                sub.output = "\n\n".join(x for x in lines if x) or "_nothing this cycle_"
        async with cl.Step(name="decide", type="tool", show_input=False) as decide:
            for trader, text in story.decisions.items():
                async with cl.Step(name=trader, type="llm" if "llm mode" in text else "tool", show_input=False) as t:
                    t.output = text
            decide.output = f"{len(story.decisions)} decisions"
        for name, lines in (("risk", story.risk), ("execution", story.execution), ("fills", story.fills)):
            async with cl.Step(name=name, type="tool", show_input=False) as sub:
                sub.output = "\n\n".join(lines) or "_nothing this cycle_"
        step.output = f"Cycle {story.cycle}: " + summary_text(outcome.report.summary)


async def ask_approval(outcome: CycleOutcome) -> None:
    req = outcome.report.interrupted or {}
    orders = req.get("orders", [])
    lines = [f"{i}. **{o['trader']}** ({o.get('source', 'decision')}): {order_text(o)}" for i, o in enumerate(orders)]
    msg = cl.Message(content=f"✋ Cycle {outcome.report.cycle} waits for approval of {len(orders)} order(s):\n\n"
                             + "\n".join(lines), actions=[
        cl.Action(name="approve", payload={"answer": True}, label="✅ Approve all"),
        cl.Action(name="approve", payload={"answer": False}, label="❌ Reject all"),
    ])
    await msg.send()
    cl.user_session.set("approval_msg", msg)


async def show_dashboard(ctl: FloorController) -> None:
    board = await ctl.dashboard()
    if board is None:
        await cl.Message(content="No run yet: `/run 3` starts one.").send()
        return
    previous = cl.user_session.get("dashboard_msg")
    if previous is not None:
        await previous.remove()
    elements = [cl.Plotly(name=name, figure=fig, display="inline", size="medium")
                for name, fig in board.figures.items()]
    content = (f"### Floor at cycle {board.cycle}\n**Leaderboard**\n\n{board.leaderboard}\n\n**Holdings**\n\n"
               f"{board.holdings}\n\n**Cash**\n\n{board.cash}\n\n**Recent trades**\n\n{board.tape}")
    msg = cl.Message(content=content, elements=elements, author="dashboard", actions=main_actions())
    await msg.send()
    cl.user_session.set("dashboard_msg", msg)


@cl.action_callback("run")
async def on_run(action: cl.Action) -> None:
    try:
        await run_cycles(_ctl(), int(action.payload.get("cycles", 1)))
    except SessionError as exc:
        await cl.Message(content=f"⚠️ {exc}").send()


@cl.action_callback("pause")
async def on_pause(action: cl.Action) -> None:
    _ctl().pause()
    await cl.Message(content="Pausing after the cycle in progress.").send()


@cl.action_callback("status")
async def on_status(action: cl.Action) -> None:
    await show_dashboard(_ctl())


@cl.action_callback("approve")
async def on_approve(action: cl.Action) -> None:
    ctl = _ctl()
    msg = cl.user_session.get("approval_msg")
    if msg is not None:
        await msg.remove_actions()
        cl.user_session.set("approval_msg", None)
    answer = bool(action.payload.get("answer"))
    try:
        outcome = await ctl.resume(answer)
    except SessionError as exc:
        await cl.Message(content=f"⚠️ {exc}").send()
        return
    await cl.Message(content="✅ Orders approved." if answer else "❌ Orders rejected.").send()
    await show_cycle(outcome)
    await show_dashboard(ctl)
