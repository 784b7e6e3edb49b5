"""The async twin of `FloorSession`, for the Chainlit app: `AsyncSqliteSaver` and `graph.ainvoke`.

It opens the same files as the command line (`floor.db` and `floor.checkpoints.db`) and the same thread
registry, so a run started with `trading-floor run` can be opened and continued in the UI and back. The
decisions (which checkpoint a rollback returns to, the state of a fork, crash recovery) come from
graphs/session_common.py, shared with the sync session. Graph nodes are sync functions: `ainvoke` runs
them in worker threads, so the event loop stays free; the few direct Floor calls (align, fork) are sent
to a thread too. One session must not run two things at once: callers serialise (the UI holds a lock).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from graphs import session_common as common
from graphs.context import FloorContext
from graphs.cycle_graph import build_graph
from graphs.floor import Floor
from graphs.session import CycleReport, SessionError, checkpoint_path_for
from graphs.threads import ThreadRef, ThreadRegistry
from graphs.traders.config import FloorConfig, load_config


class AsyncFloorSession:
    """Open with `await AsyncFloorSession.open(db)`; close with `await session.close()`."""

    def __init__(self, db_path: str, conn: aiosqlite.Connection, floor: Floor) -> None:
        self.db_path = db_path
        self.conn = conn
        self.saver = AsyncSqliteSaver(conn)
        self.graph = build_graph().compile(checkpointer=self.saver)
        self.floor = floor
        self.threads = ThreadRegistry(floor.ledger.db.conn)
        self.thread: ThreadRef | None = None

    @classmethod
    async def open(cls, db_path: str | Path, config: FloorConfig | None = None, *, thread_id: str | None = None,
                   llm_models: dict[str, Any] | None = None) -> AsyncFloorSession:
        db = str(db_path)
        if db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(checkpoint_path_for(db))
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")  # as the ledger and the sync session
        floor = await asyncio.to_thread(Floor.open, db, config or load_config(), llm_models=dict(llm_models or {}))
        self = cls(db, conn, floor)
        self.thread = self.threads.get(thread_id) if thread_id else self.threads.current()
        if thread_id and self.thread is None:
            await self.close()
            raise SessionError(f"no thread {thread_id!r} in {db}")
        if self.thread is not None:
            common.apply_thread_config(self.floor, self.db_path, self.thread)
        return self

    @property
    def context(self) -> FloorContext:
        return FloorContext(floor=self.floor)

    async def state(self) -> dict:
        if self.thread is None:
            return {}
        return (await self.graph.aget_state(self.thread.config_dict)).values

    # ----- starting and running -----------------------------------------------------------------
    async def start(self, *, seed: int | None = None, name: str | None = None) -> ThreadRef:
        cfg = self.floor.config
        if seed is not None and seed != cfg.seed:
            cfg = cfg.model_copy(update={"seed": seed})
            self.floor.use_config(cfg)
        run_id, branch_id = await asyncio.to_thread(self.floor.start_run, seed=cfg.seed, name=name)
        thread = self.threads.add(f"run-{run_id}", run_id, cfg.model_dump(mode="json"), label=name or "main")
        await self.graph.aupdate_state(thread.config_dict, common.start_values(run_id, branch_id, cfg),
                                       as_node="settle")
        self.thread = thread
        common.setup_llm(self.floor, self.db_path)
        return thread

    async def iter_cycles(self, cycles: int) -> AsyncIterator[CycleReport]:
        if self.thread is None:
            await self.start()
        await self._recover_unfinished_cycle()
        for _ in range(cycles):
            yield await self._invoke({})

    async def run(self, cycles: int) -> list[CycleReport]:
        reports = []
        async for report in self.iter_cycles(cycles):
            reports.append(report)
            if report.interrupted:
                break
        return reports

    async def resume(self, answer: Any) -> CycleReport:
        """Answer the approval interrupt (True, False, or the indices of the orders to keep)."""
        return await self._invoke(Command(resume=answer))

    async def _invoke(self, payload: Any) -> CycleReport:
        cfg = self.thread.config_dict
        out = await self.graph.ainvoke(payload, cfg, context=self.context, durability="exit")
        snap = await self.graph.aget_state(cfg) if common.paused(out) else None
        return CycleReport(**common.report_fields(out, snap))

    async def pending_approval(self) -> dict | None:
        if self.thread is None:
            return None
        return common.interrupt_request(await self.graph.aget_state(self.thread.config_dict))

    async def _recover_unfinished_cycle(self) -> None:
        snap = await self.graph.aget_state(self.thread.config_dict)
        if not snap.next or common.paused_here(self.floor):
            return
        last = await self._checkpoint_at(snap.values["cycle"])
        await self.graph.aupdate_state(last.config, {}, as_node="settle")

    # ----- time travel ----------------------------------------------------------------------------
    async def _snapshots(self) -> list[Any]:
        return [s async for s in self.graph.aget_state_history(self.thread.config_dict)]

    async def history(self) -> list[dict]:
        return common.history_rows(await self._snapshots())

    async def _checkpoint_at(self, cycle: int) -> Any:
        lineage = common.branch_lineage(self.floor.ledger.db.conn, (await self.state()).get("branch_id"))
        snap = common.pick_checkpoint(await self._snapshots(), cycle, lineage)
        if snap is None:
            raise SessionError(f"no completed cycle {cycle} on thread {self.thread.thread_id}")
        return snap

    async def rollback(self, to_cycle: int) -> dict:
        """Back to the end of `to_cycle` on this thread; the discarded future stays as its own branch."""
        st = await self.state()
        current = st.get("cycle", 0)
        if not 0 <= to_cycle <= current:
            raise SessionError(f"cannot roll back to cycle {to_cycle}: the run is at cycle {current}")
        snap = await self._checkpoint_at(to_cycle)
        v = snap.values
        branch = await asyncio.to_thread(self.floor.align, v["run_id"], v["branch_id"], to_cycle)
        await self.graph.aupdate_state(snap.config, {"branch_id": branch}, as_node="settle")
        return {"cycle": to_cycle, "branch_id": branch, "kept_branch": st["branch_id"]}

    async def fork(self, at_cycle: int, config: FloorConfig | None = None, *, label: str | None = None) -> ThreadRef:
        """A new thread continuing from `at_cycle` (optionally with another config); this one is untouched."""
        snap = await self._checkpoint_at(at_cycle)
        v = dict(snap.values)
        cfg = config or self.floor.config
        new_branch = await asyncio.to_thread(self.floor.fork, v["run_id"], v["branch_id"], at_cycle,
                                             name=label or f"fork at cycle {at_cycle}")
        thread = self.threads.add(f"run-{v['run_id']}-b{new_branch}", v["run_id"], cfg.model_dump(mode="json"),
                                  parent=self.thread.thread_id, forked_at=at_cycle, label=label)
        await self.graph.aupdate_state(thread.config_dict, common.fork_values(v, new_branch, cfg), as_node="settle")
        self.thread = thread
        common.apply_thread_config(self.floor, self.db_path, thread)
        return thread

    async def use_thread(self, thread_id: str) -> ThreadRef:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise SessionError(f"no thread {thread_id!r}")
        self.threads.set_current(thread_id)
        self.thread = thread
        common.apply_thread_config(self.floor, self.db_path, thread)
        return thread

    # ----- reading --------------------------------------------------------------------------------
    async def align_to_state(self) -> dict:
        """Bring books and ledger to the checkpoint (reads then see this thread's line); return the state."""
        st = await self.state()
        if st and "run_id" in st:
            await asyncio.to_thread(self.floor.align, st["run_id"], st["branch_id"], st["cycle"])
        return st

    async def leaderboard(self) -> list[dict]:
        st = await self.align_to_state()
        if not st:
            return []
        return self.floor.ledger.leaderboard(self.floor.marks())

    async def close(self) -> None:
        self.floor.close()
        await self.conn.close()
