"""The async twin of `FloorSession`, for the Chainlit app: `AsyncSqliteSaver` and `graph.ainvoke`.

It opens the same run database as the command line (ledger and checkpoints in one file) and the same
thread registry, so a run started with `trading-floor run` can be opened and continued in the UI and back. The
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

from graphs import run_database
from graphs import session_common as common
from graphs.context import FloorContext
from graphs.cycle_graph import build_graph
from graphs.floor import Floor
from graphs.fork_config import ForkConfigError, resolve_fork_config
from graphs.ownership import commands
from graphs.ownership.lease import Lease, acquire_lease, held_here
from graphs.session import CycleReport, SessionError
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
        self.lease: Lease | None = None
        self.stopped_by: dict | None = None  # set when a pause or reset command ended `iter_cycles`

    @classmethod
    async def open(cls, db_path: str | Path, config: FloorConfig | None = None, *, thread_id: str | None = None,
                   llm_models: dict[str, Any] | None = None) -> AsyncFloorSession:
        db = str(db_path)
        if db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(run_database.merge_legacy_checkpoints, db)
        floor = await asyncio.to_thread(Floor.open, db, config or load_config(), llm_models=dict(llm_models or {}))
        conn = await aiosqlite.connect(db)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")  # as the ledger and the sync session
        await conn.execute("PRAGMA busy_timeout=30000")
        self = cls(db, conn, floor)
        self.thread = self.threads.get(thread_id) if thread_id else self.threads.current()
        if thread_id and self.thread is None:
            await self.close()
            raise SessionError(f"no thread {thread_id!r} in {db}")
        if self.thread is not None:
            if not run_database.has_checkpoints(floor.ledger.conn, self.thread.thread_id):
                await self.close()
                raise SessionError(run_database.missing_checkpoints_message(db, self.thread.thread_id))
            common.apply_thread_config(self.floor, self.db_path, self.thread)
        return self

    # ----- ownership ------------------------------------------------------------------------------
    async def own(self, *, lease: Lease | None = None) -> Lease:
        """Hold the run database's single-writer lease (raises LeaseHeld naming the live holder)."""
        if self.lease is None:
            self.lease = lease or await asyncio.to_thread(acquire_lease, self.db_path)
            self.floor.lease = self.lease
            commands.ensure_schema(self.floor.ledger.conn)
        return self.lease

    def release(self) -> None:
        if self.lease is not None:
            lease, self.lease = self.lease, None
            self.floor.lease = None
            lease.release()

    async def serve_commands(self) -> None:
        """At a cycle boundary: apply what other processes asked the owner for, and answer them."""
        conn = self.floor.ledger.conn
        for command in commands.take(conn):
            try:
                result = await self._apply_command(command)
            except Exception as exc:  # noqa: BLE001 - the caller is told why, the owner goes on
                commands.answer(conn, command, refusal=str(exc) or type(exc).__name__)
            else:
                commands.answer(conn, command, result=result)

    async def _apply_command(self, command: commands.Command) -> dict:
        a = command.args
        if command.kind in ("pause", "reset"):
            self.stopped_by = {"kind": command.kind, "by": command.requested_by}
            return {"cycle": (await self.state()).get("cycle", 0), "thread_id": self.thread and self.thread.thread_id}
        keep = self.thread
        if a.get("thread_id") and keep is not None and a["thread_id"] != keep.thread_id:
            thread = self.threads.get(a["thread_id"])
            if thread is None:
                raise SessionError(f"no thread {a['thread_id']!r} in {self.db_path}")
            self.thread = thread
            common.apply_thread_config(self.floor, self.db_path, thread)
        try:
            if command.kind == "rollback":
                return await self.rollback(a["to_cycle"])
            cfg = FloorConfig.model_validate(a["config"]) if a.get("config") else None
            return {"thread_id": (await self.fork(a["at_cycle"], cfg, label=a.get("label"))).thread_id}
        finally:
            if keep is not None and self.thread is not keep:
                self.thread = keep
                common.apply_thread_config(self.floor, self.db_path, keep)

    @property
    def context(self) -> FloorContext:
        return FloorContext(floor=self.floor)

    async def state(self) -> dict:
        if self.thread is None:
            return {}
        return (await self.graph.aget_state(self.thread.config_dict)).values

    # ----- starting and running -----------------------------------------------------------------
    async def start(self, *, seed: int | None = None, name: str | None = None) -> ThreadRef:
        await self.own()
        cfg = self.floor.config
        if seed is not None and seed != cfg.seed:
            cfg = cfg.model_copy(update={"seed": seed})
            self.floor.use_config(cfg)
        run_id, branch_id = await asyncio.to_thread(self.floor.start_run, seed=cfg.seed, name=name)
        # the checkpoint first, then the thread that names it: a kill in between leaves no thread without one
        await self.graph.aupdate_state(common.thread_config(f"run-{run_id}"),
                                       common.start_values(run_id, branch_id, cfg), as_node="settle")
        thread = self.threads.add(f"run-{run_id}", run_id, cfg.model_dump(mode="json"), label=name or "main")
        self.thread = thread
        common.setup_llm(self.floor, self.db_path)
        return thread

    async def iter_cycles(self, cycles: int) -> AsyncIterator[CycleReport]:
        """Run up to `cycles` cycles; between cycles serve control commands (a pause or reset ends the loop)."""
        await self.own()
        self.stopped_by = None
        if self.thread is None:
            await self.start()
        await self._recover_unfinished_cycle()
        await self.serve_commands()
        for _ in range(cycles):
            if self.stopped_by is not None:
                return
            yield await self._invoke({})
            await self.serve_commands()

    async def run(self, cycles: int) -> list[CycleReport]:
        reports = []
        async for report in self.iter_cycles(cycles):
            reports.append(report)
            if report.interrupted:
                break
        return reports

    async def resume(self, answer: Any) -> CycleReport:
        """Answer the approval interrupt (True, False, or the indices of the orders to keep)."""
        await self.own()
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

    async def _checkpoint_at(self, cycle: int, *, ancestors: bool = False) -> Any:
        lineage = common.branch_lineage(self.floor.ledger.db.conn, (await self.state()).get("branch_id"))
        thread = self.thread
        while True:
            snaps = [s async for s in self.graph.aget_state_history(thread.config_dict)]
            snap = common.pick_checkpoint(snaps, cycle, lineage)
            if snap is not None:
                return snap
            parent = common.forked_from(self.threads, thread, cycle) if ancestors else None
            if parent is None:
                raise SessionError(common.no_checkpoint_message(thread, cycle))
            thread = parent

    async def rollback(self, to_cycle: int) -> dict:
        """Back to the end of `to_cycle` on this thread; the discarded future stays as its own branch."""
        await self.own()
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
        await self.own()
        snap = await self._checkpoint_at(at_cycle, ancestors=True)
        v = dict(snap.values)
        try:
            cfg = self.floor.config if config is None else resolve_fork_config(self.floor.config, config)
        except ForkConfigError as exc:
            raise SessionError(str(exc)) from exc
        new_branch = await asyncio.to_thread(self.floor.fork, v["run_id"], v["branch_id"], at_cycle,
                                             name=label or f"fork at cycle {at_cycle}", config=cfg)
        thread_id = f"run-{v['run_id']}-b{new_branch}"
        await self.graph.aupdate_state(common.thread_config(thread_id), common.fork_values(v, new_branch, cfg), as_node="settle")
        thread = self.threads.add(thread_id, v["run_id"], cfg.model_dump(mode="json"), parent=self.thread.thread_id,
                                  forked_at=at_cycle, label=label)
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
        """Bring books and ledger to the checkpoint (reads then see this thread's line); return the state.

        Only the lease's holder may realign (which can fork or truncate the ledger): a session that does
        not own the run only points its reads at the last settled cycle, writing nothing."""
        st = await self.state()
        if st and "run_id" in st:
            if self.lease is not None or held_here(self.db_path) is not None:
                await asyncio.to_thread(self.floor.align, st["run_id"], st["branch_id"], st["cycle"])
            else:
                await asyncio.to_thread(self._view_settled, st)
        return st

    def _view_settled(self, st: dict) -> None:
        with self.floor.ledger.read_snapshot():
            common.view_settled(self.floor, st)

    async def leaderboard(self) -> list[dict]:
        st = await self.align_to_state()
        if not st:
            return []
        return self.floor.ledger.leaderboard(self.floor.marks())

    async def close(self) -> None:
        self.release()
        self.floor.close()
        await self.conn.close()
