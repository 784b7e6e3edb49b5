"""The chat UI's handle on a run: the one `FloorSession`, each call made in a worker thread.

There is one implementation of a session (floor/session.py). Chainlit is async, so this adapter awaits
every call in a thread of its own (`asyncio.to_thread`): the event loop stays free while a cycle runs,
and LangGraph runs the graph exactly as it does for the command line (SqliteSaver, `graph.invoke`; the
nodes are sync functions, which `ainvoke` would have sent to worker threads anyway). It holds no logic
of its own, so the command line and the UI cannot drift apart: the same rollback checkpoint, the same
branch lineage, the same ownership of the run. One session must not run two things at once: callers
serialise (the UI holds a lock per run database).
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from floor.config import FloorConfig
from floor.ownership.lease import Lease
from floor.session import CycleReport, FloorSession
from floor.threads import ThreadRef


class AsyncFloorSession:
    """Open with `await AsyncFloorSession.open(db)`; close with `await session.close()`."""

    def __init__(self, session: FloorSession) -> None:
        self.sync = session

    @classmethod
    async def open(cls, db_path: str | Path, config: FloorConfig | None = None, **kw: Any) -> AsyncFloorSession:
        return cls(await asyncio.to_thread(FloorSession, db_path, config, **kw))

    # ----- plain attributes (no I/O) --------------------------------------------------------------
    @property
    def db_path(self) -> str:
        return self.sync.db_path

    @property
    def floor(self):
        return self.sync.floor

    @property
    def threads(self):
        return self.sync.threads

    @property
    def thread(self) -> ThreadRef | None:
        return self.sync.thread

    @property
    def lease(self) -> Lease | None:
        return self.sync.lease

    @property
    def stopped_by(self) -> dict | None:
        return self.sync.stopped_by

    def release(self) -> None:
        self.sync.release()

    # ----- every call that reads or writes the run, in a worker thread ----------------------------
    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        return await asyncio.to_thread(getattr(self.sync, method), *args, **kw)

    async def own(self, *, lease: Lease | None = None) -> Lease:
        return await self._call("own", lease=lease)

    async def state(self) -> dict:
        return await self._call("state")

    async def start(self, *, seed: int | None = None, name: str | None = None) -> ThreadRef:
        return await self._call("start", seed=seed, name=name)

    async def run(self, cycles: int) -> list[CycleReport]:
        return await self._call("run", cycles)

    async def resume(self, answer: Any) -> CycleReport:
        return await self._call("resume", answer)

    async def pending_approval(self) -> dict | None:
        return await self._call("pending_approval")

    async def set_approval(self, on: bool) -> None:
        await self._call("set_approval", on)

    async def history(self) -> list[dict]:
        return await self._call("history")

    async def rollback(self, to_cycle: int) -> dict:
        return await self._call("rollback", to_cycle)

    async def fork(self, at_cycle: int, config: FloorConfig | None = None, *, label: str | None = None) -> ThreadRef:
        return await self._call("fork", at_cycle, config, label=label)

    async def use_thread(self, thread_id: str) -> ThreadRef:
        return await self._call("use_thread", thread_id)

    async def align_to_state(self) -> dict:
        return await self._call("align_to_state")

    async def leaderboard(self) -> list[dict]:
        return await self._call("leaderboard")

    async def close(self) -> None:
        await self._call("close")
