"""The run as the UI process holds it: one hub per run database, shared by every page that shows it.

A `/run N` belongs to the hub, not to the chat session (websocket) that asked for it: it goes on in a task
of its own while pages come and go (a dropped socket, a reload, a second tab), and every page that is
watching is shown each cycle. The chat handler that starts a run returns at once, so the page stays free
for `/pause`, questions and the Pause button while the run goes on.

Steering happens at cycle boundaries only. `pause()` (the Pause button, `/pause`, Stop) lets the cycle in
progress finish and settle, then the run ends with "paused after N of M cycles". An approval request
suspends the run on a future: any page's answer resumes that cycle and the remaining cycles of the `/run`
go on. No Chainlit in here (the `View` presents, see chat_ui/present.py), so it is tested directly.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chat_ui.controller import CycleOutcome, FloorController
from chat_ui.dashboard_feed import DashboardFeed
from floor.session import SessionError

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where the current (or last) `/run` stands."""

    requested: int
    start_cycle: int
    done: int = 0
    cycle: int = 0  # the last settled cycle
    waiting: CycleOutcome | None = None  # the cycle waiting for approval
    stop: str | None = None  # "pause" or "stop" once asked
    stopped_by: dict | None = None  # a pause from another process (`trading-floor pause`)
    ended: bool = False
    error: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.requested - self.done)

    def status(self) -> str:
        if self.waiting is not None and not self.ended:
            return f"waiting for approval of cycle {self.waiting.report.cycle} ({self.done} of {self.requested} done)"
        if not self.ended:
            return f"running: {self.done} of {self.requested} cycles"
        if self.done < self.requested:
            return f"paused after {self.done} of {self.requested} cycles"
        return f"idle: ran {self.requested} cycle{'s' if self.requested != 1 else ''}"


class View(Protocol):
    async def cycle(self, outcome: CycleOutcome, progress: Progress, *, dashboard: bool) -> None: ...
    async def approval(self, outcome: CycleOutcome, progress: Progress) -> None: ...
    async def answered(self, answer: Any, outcome: CycleOutcome, progress: Progress) -> None: ...
    async def finished(self, progress: Progress) -> None: ...


class FloorHub:
    def __init__(self, ctl: FloorController, view: View, *, pace: float = 0.3, dashboard_every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctl = ctl
        self.view = view
        self.pace = pace  # seconds a cycle stays on screen at least
        self.dashboard_every = dashboard_every  # seconds between two dashboard updates during a run
        self.clock = clock
        self.progress: Progress | None = None
        self.task: asyncio.Task | None = None
        self._answer: asyncio.Future | None = None
        self.audience: Any = None  # the pages watching (chat_ui/present.py), set by the app
        self.feed = DashboardFeed()  # the newest dashboard, fetched by the pages' sidebar elements

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def status(self) -> str:
        return self.progress.status() if self.progress else "idle"

    async def dashboard(self) -> dict | None:
        """The dashboard now (None before the first run), published to the pages' feed."""
        props = await self.ctl.dashboard(self.status())
        return None if props is None else self.feed.publish(props)

    # ----- steering ---------------------------------------------------------------------------------
    async def start(self, cycles: int) -> Progress:
        if self.running:
            p = self.progress
            raise SessionError(f"a run is already going ({p.status()}): `/pause` it first, or wait for it to end")
        self.progress = Progress(requested=cycles, start_cycle=await self.ctl.cycle())
        self.progress.cycle = self.progress.start_cycle
        self.task = asyncio.ensure_future(self._run(self.progress))
        return self.progress

    def pause(self, kind: str = "pause") -> bool:
        """Stop the run at the next cycle boundary (True when a run was going)."""
        if not self.running:
            return False
        self.progress.stop = self.progress.stop or kind
        self.ctl.pause()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()  # a run waiting for approval ends; the request stays for later
        return True

    def waiting_run(self) -> bool:
        return self.running and self._answer is not None and not self._answer.done()

    def answer(self, answer: Any) -> bool:
        """Give the run waiting for approval its answer (False when no run waits: resume directly)."""
        if not self.waiting_run():
            return False
        self._answer.set_result(answer)
        return True

    async def wait(self) -> None:
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)

    async def close(self) -> None:
        self.pause("stop")
        await self.wait()
        await self.ctl.close()

    # ----- the run ----------------------------------------------------------------------------------
    async def _run(self, p: Progress) -> None:
        last_dash = -1e9
        try:
            while p.remaining and p.stop is None:
                waiting = None
                async with contextlib.aclosing(self.ctl.run(p.remaining)) as cycles:
                    async for outcome in cycles:
                        if outcome.story is None:
                            waiting = outcome
                            break
                        started = self.clock()
                        p.done += 1
                        p.cycle = outcome.report.cycle
                        show_dash = not p.remaining or self.clock() - last_dash >= self.dashboard_every
                        await self._safely(self.view.cycle(outcome, p, dashboard=show_dash))
                        if show_dash:
                            last_dash = self.clock()
                        if p.stop is not None:
                            break
                        await asyncio.sleep(max(0.0, started + self.pace - self.clock()))
                p.stopped_by = self.ctl.stopped_by
                if waiting is None or p.stop is not None:
                    break
                if not await self._approve(p, waiting):
                    break
        except SessionError as exc:
            p.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the person, logged with its traceback
            log.exception("the run failed")
            p.error = f"the run failed: {type(exc).__name__}: {exc}"
        finally:
            p.ended = True
            self._answer = None
            await self._safely(self.view.finished(p))

    async def _approve(self, p: Progress, waiting: CycleOutcome) -> bool:
        """Show the request, wait for an answer from any page, resume that cycle; False when paused."""
        p.waiting = waiting
        self._answer = asyncio.get_running_loop().create_future()
        await self._safely(self.view.approval(waiting, p))
        try:
            answer = await self._answer
        except asyncio.CancelledError:
            if p.stop is None:
                raise
            return False
        finally:
            self._answer = None
        outcome = await self.ctl.resume(answer)
        p.waiting = None
        p.done += 1
        p.cycle = outcome.report.cycle
        await self._safely(self.view.answered(answer, outcome, p))
        return True

    @staticmethod
    async def _safely(call: Awaitable[None]) -> None:
        """Presenting never ends a run: a page that cannot be reached misses the update, nothing more."""
        try:
            await call
        except Exception:  # noqa: BLE001
            log.exception("could not present an update")
