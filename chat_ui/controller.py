"""The floor session as the chat UI uses it: no Chainlit in here, so it is tested directly.

One controller per chat session wraps an `AsyncFloorSession` on the run database shared with the command
line. A lock serialises everything that touches the Floor (cycles, time travel, reads), so ledger reads
never interleave with a cycle running in LangGraph's worker threads. The lock belongs to the database,
not to the chat session: two browser tabs on one run take turns, cycle by cycle, and each continues from
where the checkpoint stands (the Floor realigns its books and ledger to it), so together they make the
one run the seed gives. `pause()` only sets a flag: the run
loop stops after the cycle in progress. Reads go through `asyncio.to_thread`, so a big ledger query does
not stall Chainlit's event loop either.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chat_ui import dashboard, tables
from chat_ui.narrate import CycleStory, cycle_story
from floor.async_session import AsyncFloorSession
from floor.config import FloorConfig
from floor.ownership.commands import ControlRefused, own_or_deliver
from floor.ownership.lease import Lease, LeaseHeld, held_here
from floor.session import CycleReport, SessionError
from floor.session_support import paused_here
from traders import explain


@dataclass
class CycleOutcome:
    report: CycleReport
    story: CycleStory | None = None  # None while the cycle waits for approval


_DB_LOCKS: dict[tuple[int, str], asyncio.Lock] = {}


def _database_lock(session: AsyncFloorSession) -> asyncio.Lock:
    """One lock per run database and event loop (":memory:" databases are private to their session)."""
    db = session.db_path
    key = str(Path(db).resolve()) if db != ":memory:" else f"memory:{id(session)}"
    return _DB_LOCKS.setdefault((id(asyncio.get_running_loop()), key), asyncio.Lock())


class FloorController:
    def __init__(self, session: AsyncFloorSession) -> None:
        self.session = session
        self.pause_requested = False
        self.approval: bool | None = None  # None: keep what the thread has
        self.closed = False
        self.stopped_by: dict | None = None  # who paused the last /run from another window

    @classmethod
    async def open(cls, db_path: str | Path, config: FloorConfig | None = None, **kw: Any) -> FloorController:
        return cls(await AsyncFloorSession.open(db_path, config, **kw))

    async def close(self) -> None:
        self.pause_requested = True
        async with self.lock:
            if not self.closed:
                self.closed = True
                await self.session.close()

    @property
    def lock(self) -> asyncio.Lock:
        return _database_lock(self.session)

    @property
    def floor(self):
        return self.session.floor

    async def cycle(self) -> int:
        return (await self.session.state()).get("cycle", 0)

    # ----- running --------------------------------------------------------------------------------
    async def new_run(self, seed: int | None = None) -> str:
        async with self.lock:
            thread = await self.session.start(seed=seed)
            return thread.thread_id

    async def run(self, cycles: int) -> AsyncIterator[CycleOutcome]:
        """See `_run`; the run database's lease is held only while a `/run` goes on, so between runs the
        command line (or another UI) may run the floor, and is told who holds it while this one runs."""
        try:
            async for outcome in self._run(cycles):
                yield outcome
        finally:
            self.session.release()  # also while a cycle waits for approval: `resume` takes it again

    async def _run(self, cycles: int) -> AsyncIterator[CycleOutcome]:
        """Run up to `cycles` cycles, yielding each as it settles; stops on pause or an approval request.

        A cycle is never abandoned half-way: Chainlit's Stop button cancels the handler's task, and the
        cycle in progress (whose nodes run in worker threads) is shielded, finishes and is recorded, the
        lock still held; only then does the cancellation go on. So Stop acts as "pause after this cycle".
        """
        self.pause_requested = False
        self.stopped_by = None
        for _ in range(cycles):
            if self.pause_requested:
                break
            task = asyncio.ensure_future(self._one_cycle())
            try:
                outcome = await asyncio.shield(task)
            except asyncio.CancelledError:
                self.pause_requested = True
                await asyncio.wait({task})
                raise
            if outcome is not None:
                yield outcome
            if self.session.stopped_by is not None:  # `trading-floor pause` (or reset) from another window
                self.stopped_by = self.session.stopped_by
                break
            if outcome.report.interrupted:
                break

    async def _one_cycle(self) -> CycleOutcome | None:
        """One cycle, or None when a pause from another window was waiting before it could start."""
        async with self.lock:
            if self.closed:
                raise SessionError("this chat session has ended")
            if await self.session.pending_approval() is not None and self.session.floor.work is not None:
                raise SessionError("a cycle is waiting for approval: approve or reject its orders first")
            if self.session.thread is None:
                await self.session.start()
            await self._apply_approval()
            try:
                reports = await self.session.run(1)
            except LeaseHeld as exc:
                raise SessionError(str(exc)) from None
            return await self._outcome(reports[0]) if reports else None

    async def resume(self, answer: Any) -> CycleOutcome:
        async with self.lock:
            if await self.session.pending_approval() is None:
                raise SessionError("no cycle is waiting for approval")
            try:
                return await self._outcome(await self.session.resume(answer))
            except LeaseHeld as exc:
                raise SessionError(str(exc)) from None
            finally:
                self.session.release()

    async def _outcome(self, report: CycleReport) -> CycleOutcome:
        if report.interrupted:
            return CycleOutcome(report)
        story = await asyncio.to_thread(cycle_story, self.floor.ledger, report.cycle)
        story.thread = self.session.thread.thread_id if self.session.thread else ""
        story.branch = self.floor.ledger.branch_id
        return CycleOutcome(report, story)

    async def story(self, cycle: int) -> CycleStory | None:
        """A settled cycle of the current line, told again (a reloaded page shows the last few)."""
        async with self.lock:
            st = await self._aligned()
            if not st or not 1 <= cycle <= st["cycle"]:
                return None
            story = await asyncio.to_thread(cycle_story, self.floor.ledger, cycle)
            story.thread = self.session.thread.thread_id if self.session.thread else ""
            story.branch = st.get("branch_id")
            return story

    def pause(self) -> None:
        self.pause_requested = True

    async def _aligned(self) -> dict:
        """The state, with the books and ledger brought to it for reading. While a cycle of this process
        waits for approval, its books are mid-cycle in memory and must stay so (resume executes on them):
        reads then see them as they are, the last settled cycle plus the paused cycle's market tick."""
        if paused_here(self.floor):
            return await self.session.state()
        return await self.session.align_to_state()

    async def set_approval(self, on: bool) -> None:
        self.approval = on
        async with self.lock:
            held = self.session.lease is not None  # within a /run: keep it; between runs: give it back
            try:
                await self._apply_approval()
            finally:
                if not held:
                    self.session.release()

    async def _apply_approval(self) -> None:
        if self.approval is None or self.session.thread is None:
            return
        try:
            await self.session.set_approval(self.approval)
        except LeaseHeld as exc:
            raise SessionError(str(exc)) from None

    # ----- time travel ------------------------------------------------------------------------------
    async def rollback(self, to_cycle: int) -> dict:
        async with self.lock:
            return await self._control("rollback", {"to_cycle": to_cycle}, lambda: self.session.rollback(to_cycle))

    async def fork(self, at_cycle: int) -> str:
        async with self.lock:
            out = await self._control("fork", {"at_cycle": at_cycle, "config": None, "label": None},
                                      self._fork_here(at_cycle))
            if self.session.thread is None or self.session.thread.thread_id != out["thread_id"]:
                await self.session.use_thread(out["thread_id"])  # the owner made it; this page follows it
            return out["thread_id"]

    def _fork_here(self, at_cycle: int):
        async def fork() -> dict:
            return {"thread_id": (await self.session.fork(at_cycle)).thread_id}
        return fork

    async def _control(self, kind: str, args: dict, direct) -> dict:
        """Act directly when this process may own the run; else deliver the command to the process that
        runs it (it applies it at its next cycle boundary) and return its answer."""
        s = self.session
        if s.lease is not None or held_here(s.db_path) is not None:
            return await direct()
        if s.thread is not None:
            args = args | {"thread_id": s.thread.thread_id}
        try:
            out = await asyncio.to_thread(own_or_deliver, s.db_path, kind, args)
        except ControlRefused as exc:
            raise SessionError(str(exc)) from None
        if not isinstance(out, Lease):
            return out
        await s.own(lease=out)
        try:
            return await direct()
        finally:
            s.release()

    async def threads(self) -> list[str]:
        current = self.session.thread.thread_id if self.session.thread else None
        return [f"{'→ ' if t.thread_id == current else ''}`{t.thread_id}`"
                + (f" (forked from {t.parent_thread} at cycle {t.forked_at})" if t.parent_thread else "")
                for t in self.session.threads.all()]

    async def use(self, thread_id: str) -> str:
        async with self.lock:
            return (await self.session.use_thread(thread_id)).thread_id

    # ----- reading ----------------------------------------------------------------------------------
    async def book(self, symbol: str, levels: int = 8) -> str:
        async with self.lock:
            if symbol not in self.floor.by_symbol:
                return f"Unknown symbol {symbol}. Symbols: {', '.join(self.floor.by_symbol)}."
            st = await self._aligned()
            if not st:
                return "No run yet: start one with `/run 1`."
            d = self.floor.exchange.depth(symbol, levels)
            return tables.depth_md(symbol, d.bids, d.asks)

    def config_text(self) -> str:
        """The floor's configuration as YAML, with amounts of money in dollars (the file keeps cents)."""
        cfg = tables.dollars_config(self.floor.config.model_dump(mode="json"))
        return "```yaml\n" + yaml.safe_dump(cfg, sort_keys=False) + "```"

    async def dashboard(self, status: str = "idle") -> dict | None:
        """The Dashboard element's props at the run's current cycle (None before the first run)."""
        async with self.lock:
            st = await self._aligned()
            if not st:
                return None
            thread = self.session.thread.thread_id if self.session.thread else None
            return await asyncio.to_thread(dashboard.build, self.floor, cycle=st["cycle"], thread=thread,
                                           branch=st.get("branch_id"), status=status)

    async def leaderboard_md(self) -> str:
        async with self.lock:
            st = await self._aligned()
            if not st:
                return ""
            return await asyncio.to_thread(lambda: tables.leaderboard_md(self.floor.ledger.leaderboard(self.floor.marks())))

    async def ask(self, question: str) -> str:
        """A question to a trader (or the floor). LLM-mode traders answer with their LLM, read-only."""
        async with self.lock:
            st = await self._aligned()
            if not st:
                return "No run yet, so there is nothing to explain: start one with `/run 3`."
            floor = self.floor
            q = explain.parse_question(question, floor.trader_names, list(floor.by_symbol))
            if q["trader"]:  # "what have you learned?", "why did you change your threshold?": from its memory
                from traders.memory.answers import memory_answer
                said = await asyncio.to_thread(memory_answer, floor.ledger, q["trader"], question)
                if said is not None:
                    return said
            if q["trader"] and floor.config.trader(q["trader"]).mode == "llm":
                try:
                    return await asyncio.to_thread(explain.answer_with_llm, floor, q["trader"], question)
                except Exception as exc:  # noqa: BLE001 - the LLM failing falls back, visibly
                    prefix = f"_(LLM unavailable: {type(exc).__name__}; answering from the records)_\n\n"
                    return prefix + await asyncio.to_thread(self._rule_answer, question)
            return await asyncio.to_thread(self._rule_answer, question)

    def _rule_answer(self, question: str) -> str:
        floor = self.floor
        return explain.answer(floor.ledger, question, floor.marks(), floor.trader_names, list(floor.by_symbol))
