"""What a page is shown, in Chainlit terms: cycle steps, the sidebar dashboard, the approval prompt.

Every function here presents to the page of the current Chainlit context. `Audience` runs one of them for
every page watching a hub, each in its own session's context; a page that reconnected (same session, a
new socket) is first brought up to date. `BroadcastView` is the hub's view (chat_ui/hub.py) over an
audience. The dashboard is one custom element in the element sidebar, sent once per page: it then fetches
the hub's newest props itself (chat_ui/dashboard_feed.py), so updates never re-send it, neither as a chat
message nor as an element (which would re-open a sidebar the person closed, or reset its size). A page
keeps its last `keep_cycles()` cycle steps, so one watched for an hour stays as light as after 200 cycles.
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import chainlit as cl
from chainlit.context import context, init_ws_context
from chainlit.session import WebsocketSession
from chainlit.utils import utc_now

from chat_ui.narrate import cycle_title, order_text, summary_text
from chat_ui.numbers import plural

if TYPE_CHECKING:
    from chat_ui.controller import CycleOutcome
    from chat_ui.hub import FloorHub, Progress
    from chat_ui.narrate import CycleStory

log = logging.getLogger(__name__)
DELIVERY_TIMEOUT = 20.0  # seconds one page may take to accept an update before it is skipped
KEEP_CYCLES = 200  # cycle steps a page keeps (TRADING_FLOOR_UI_KEEP_CYCLES); older ones are taken off it


def keep_cycles() -> int:
    """How many cycle steps a page keeps (TRADING_FLOOR_UI_KEEP_CYCLES, default 200, at least 1)."""
    try:
        return max(1, int(os.environ.get("TRADING_FLOOR_UI_KEEP_CYCLES", KEEP_CYCLES)))
    except ValueError:
        return KEEP_CYCLES


def older_cycles_text() -> str:
    return (f"Older cycles are no longer on this page, which keeps the last {keep_cycles()} "
            "cycles to stay fast during a long run: `trading-floor history` lists them, `trading-floor explain "
            "CYCLE TRADER` shows one trader's decision in any cycle, and questions here (`@momentum why did you "
            "buy NVDA in cycle 12?`) reach every cycle.")


def main_actions(running: bool = False) -> list[cl.Action]:
    """The buttons under a message. Each one is a socket event of its own, and each event makes Chainlit's
    page re-render the whole chat (about 100 ms with 200 cycle steps on a 2-core machine): a run's end (its
    Pause and Stop taken off, the result with its buttons) sends few. During a run the dashboard shows the
    status live, so Pause and Stop suffice."""
    if running:
        return [cl.Action(name="pause", payload={}, label="Pause"), cl.Action(name="stop", payload={}, label="Stop")]
    return [cl.Action(name="run", payload={"cycles": n}, label=f"▶ Run {n}") for n in (1, 3, 10)] + [
        cl.Action(name="status", payload={}, label="Status")]


def after_run_actions() -> list[cl.Action]:
    """The buttons under a run's result: run on (the greeting and `/help` have the full set)."""
    return [cl.Action(name="run", payload={"cycles": n}, label=f"▶ Run {n}") for n in (1, 10)]


# ----- one page ---------------------------------------------------------------------------------------
async def show_cycle(outcome: CycleOutcome) -> None:
    await show_story(outcome.story, outcome.report.summary)


async def show_story(story: CycleStory, summary: dict | None = None) -> None:
    """The cycle as one step titled with its summary, with a nested step per node (and per trader).

    The whole tree goes to the page in one message (the children inside the parent's `steps`), already
    finished: one event per cycle instead of two per step, so a long run does not flood the page."""
    root = _node(cycle_title(story), "run", f"Cycle {story.cycle}: "
                 + (summary_text(summary) if summary else cycle_title(story)))
    for name, lines in (("market tick", [story.market]), ("discussion", story.discussion)):
        root["steps"].append(_node(name, "tool", "\n\n".join(x for x in lines if x) or "_nothing this cycle_", root))
    decide = _node("decide", "tool", plural(len(story.decisions), "decision"), root)
    decide["steps"] = [_node(trader, "llm" if "llm mode" in text else "tool", text, decide)
                       for trader, text in story.decisions.items()]
    root["steps"].append(decide)
    for name, lines in (("risk", story.risk), ("execution", story.execution), ("fills", story.fills)):
        root["steps"].append(_node(name, "tool", "\n\n".join(lines) or "_nothing this cycle_", root))
    await context.emitter.send_step(root)
    await _keep_last_cycles(root["id"])


async def _keep_last_cycles(step_id: str) -> None:
    """Keep the page's last `keep_cycles()` cycle steps: an hour-long run would otherwise grow the page by
    one step tree per cycle (the browser's memory, and the cost of each re-render of the chat). The first
    step taken off becomes, in place, one line saying where the older cycles are; later ones are removed
    (Chainlit's `Step.remove`)."""
    shown = cl.user_session.get("cycle_steps")
    if shown is None:
        shown = []
        cl.user_session.set("cycle_steps", shown)
    shown.append(step_id)
    while len(shown) > keep_cycles():
        old_id = shown.pop(0)
        if cl.user_session.get("older_cycles_note") is None:  # the oldest step becomes the note, in its place
            cl.user_session.set("older_cycles_note", old_id)
            await context.emitter.update_step({**_node("floor", "assistant_message", older_cycles_text()),
                                               "id": old_id})
        else:
            await cl.Step(name="cycle", type="run", id=old_id).remove()


def _node(name: str, kind: str, output: str, parent: dict | None = None) -> dict:
    """A finished step as the page receives it (what `cl.Step.to_dict()` gives, plus its children)."""
    now = utc_now()
    return {"name": name, "type": kind, "id": str(uuid.uuid4()), "threadId": context.session.thread_id,
            "parentId": parent["id"] if parent else None, "streaming": False, "metadata": {}, "tags": None,
            "input": "", "isError": False, "output": output, "createdAt": now, "start": now, "end": now,
            "language": None, "defaultOpen": False, "autoCollapse": False, "showInput": False, "generation": None,
            "steps": []}


async def show_dashboard(props: dict | None, *, reopen: bool = False) -> None:
    """Give this page its dashboard element in the element sidebar, once: later updates reach the element
    through the feed it polls (`props` were published there by `FloorHub.dashboard`). `reopen` (the person
    asked: `/status`, the Status button) sends it again with these props, which opens the sidebar if it
    was closed. Chainlit's page shows `display="side"` elements in the sidebar and re-opens it whenever
    such an element arrives, hence once."""
    if props is None:
        return
    el = cl.user_session.get("dashboard_el")
    if el is not None and not reopen:
        return
    if el is None:
        # a url, so Chainlit does not write the props to a file
        el = cl.CustomElement(name="Dashboard", props=props, display="side", url="/public/elements/Dashboard.jsx")
        cl.user_session.set("dashboard_el", el)
    el.props = props
    await context.emitter.send_element(el.to_dict())


async def show_approval(outcome: CycleOutcome, remaining: int) -> None:
    req = outcome.report.interrupted or {}
    orders = [f"{o['trader']} ({o.get('source', 'decision')}): {order_text(o)}" for o in req.get("orders", [])]
    prompt = cl.CustomElement(name="ApprovalPrompt", display="inline", url="/public/elements/ApprovalPrompt.jsx",
                              props={"cycle": outcome.report.cycle, "orders": orders, "remaining": remaining})
    msg = cl.Message(content=f"Cycle {outcome.report.cycle} waits for your approval of "
                             f"{plural(len(orders), 'order')}:", elements=[prompt], actions=[
        cl.Action(name="approve", payload={"answer": True}, label="Approve all"),
        cl.Action(name="approve", payload={"answer": False}, label="Reject all"),
    ])
    await msg.send()
    cl.user_session.set("approval", (msg, prompt))


async def close_approval(answer: Any) -> None:
    held = cl.user_session.get("approval")
    if held is None:
        return
    msg, prompt = held
    cl.user_session.set("approval", None)
    await msg.remove_actions()
    prompt.props = {**prompt.props, "answer": "approved" if answer is True else "rejected" if not answer else
                    f"kept orders {', '.join(str(i + 1) for i in answer)}"}
    await prompt.update()


async def say(text: str, *, actions: list[cl.Action] | None = None, author: str | None = None) -> None:
    kw = {"author": author} if author else {}
    await cl.Message(content=text, actions=actions or [], **kw).send()


# ----- every page watching a hub ----------------------------------------------------------------------
@dataclass
class Member:
    session: Any  # chainlit WebsocketSession
    socket_id: Any
    registered: bool  # known to Chainlit's session registry (a test's mocked session is not)


class Audience:
    """The pages watching one hub, by Chainlit session id. A page joins on chat start and stays until
    Chainlit deletes its session (after its `session_timeout`): a dropped socket is not a leave."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.catch_up: Callable[[], Awaitable[None]] | None = None  # presents "where the run is" to one page
        self._watch: asyncio.Task | None = None

    def join(self, session: Any) -> None:
        self.members[session.id] = Member(session, session.socket_id,
                                          WebsocketSession.get_by_id(session.id) is session)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.ensure_future(self._watch_reconnects())

    def leave(self, session_id: str) -> None:
        self.members.pop(session_id, None)

    def _live(self) -> list[Member]:
        for sid, m in list(self.members.items()):
            if m.registered and WebsocketSession.get_by_id(sid) is not m.session:
                del self.members[sid]  # Chainlit cleared it
        return list(self.members.values())

    async def each(self, present: Callable[[], Awaitable[None]]) -> None:
        """`present()` once per page, each in its own session's context, all pages at once."""
        members = self._live()
        if members:
            await asyncio.gather(*(asyncio.ensure_future(self._deliver(m, present)) for m in members))

    async def _deliver(self, m: Member, present: Callable[[], Awaitable[None]] | None) -> None:
        init_ws_context(m.session)
        try:
            if m.socket_id != m.session.socket_id and self.catch_up is not None:
                m.socket_id = m.session.socket_id  # the page came back on a new socket: bring it up to date
                await asyncio.wait_for(self.catch_up(), DELIVERY_TIMEOUT)
            if present is not None:
                await asyncio.wait_for(present(), DELIVERY_TIMEOUT)
        except Exception:  # noqa: BLE001 - one page failing never stops the others, nor the run
            log.warning("could not update page %s", m.session.id, exc_info=True)

    async def _watch_reconnects(self, every: float = 0.5) -> None:
        """Between runs nothing is sent: a page that reconnects is still shown where the run is."""
        while self.members:
            await asyncio.sleep(every)
            for m in self._live():
                if m.socket_id != m.session.socket_id:
                    await asyncio.ensure_future(self._deliver(m, None))

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()


class BroadcastView:
    """The hub's view: each event presented to every page of the audience."""

    def __init__(self, audience: Audience, hub_ref: Callable[[], FloorHub]) -> None:
        self.audience = audience
        self.hub = hub_ref

    async def _dashboard(self) -> dict | None:
        return await self.hub().dashboard()

    async def cycle(self, outcome: CycleOutcome, progress: Progress, *, dashboard: bool) -> None:
        props = await self._dashboard() if dashboard else None

        async def present() -> None:
            await show_cycle(outcome)
            await show_dashboard(props)

        await self.audience.each(present)

    async def approval(self, outcome: CycleOutcome, progress: Progress) -> None:
        props = await self._dashboard()

        async def present() -> None:
            await show_dashboard(props)
            await show_approval(outcome, progress.remaining - 1)

        await self.audience.each(present)

    async def answered(self, answer: Any, outcome: CycleOutcome, progress: Progress | None) -> None:
        props = await self._dashboard()
        verb = "approved" if answer is True else "rejected" if not answer else "partly approved"
        more = (f" The run goes on: {plural(progress.remaining, 'more cycle')}."
                if progress is not None and progress.remaining and progress.stop is None else "")

        async def present() -> None:
            await close_approval(answer)
            await say(f"{'✓' if answer else '✗'} Cycle {outcome.report.cycle}: orders {verb}.{more}")
            await show_cycle(outcome)
            await show_dashboard(props)

        await self.audience.each(present)

    async def finished(self, progress: Progress) -> None:
        hub = self.hub()
        props = await self._dashboard()
        board = await hub.ctl.leaderboard_md()
        at = f"now at cycle {progress.cycle}"
        if progress.error:
            text = f"⚠️ {progress.error}\n\nStopped after {progress.done} of {progress.requested} cycles, {at}."
        elif progress.done < progress.requested:
            why = {"stop": " (stopped)", "pause": ""}.get(progress.stop or "", "")
            if progress.stopped_by:
                why = f", asked by `{progress.stopped_by['by']}`"
            waits = (f" Cycle {progress.waiting.report.cycle} still waits for approval."
                     if progress.waiting is not None else "")
            text = f"■ Paused after {progress.done} of {progress.requested} cycles{why}, {at}.{waits}"
        else:
            text = f"✓ Ran {plural(progress.requested, 'cycle')}, {at}."
        if board:
            text += "\n\n" + board

        async def present() -> None:
            run_msg = cl.user_session.get("run_msg")
            if run_msg is not None:
                cl.user_session.set("run_msg", None)
                await run_msg.remove_actions()
            await show_dashboard(props)
            await say(text, actions=after_run_actions())

        await self.audience.each(present)
