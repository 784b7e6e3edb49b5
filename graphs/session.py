"""A floor session: the compiled cycle graph with its SQLite checkpointer, over one run database.

This is what the command line (and, with the async saver, the Chainlit app) drives: start a run,
run N cycles, roll back to cycle K, fork at cycle K, inspect. LangGraph's checkpoints live in a SQLite
file beside the ledger (`floor.db` -> `floor.checkpoints.db`): a second writer inside the ledger's file
would make the ledger reload its in-memory mirror after every checkpoint.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from graphs import session_common as common
from graphs.context import FloorContext
from graphs.cycle_graph import build_graph
from graphs.floor import Floor
from graphs.threads import ThreadRef, ThreadRegistry
from graphs.traders.config import FloorConfig

DEFAULT_DB = Path("runs/floor.db")


def checkpoint_path_for(db_path: str) -> str:
    return ":memory:" if db_path == ":memory:" else str(Path(db_path).with_suffix(".checkpoints.db"))


class SessionError(RuntimeError):
    """A request the session cannot carry out, with a sentence saying why."""


@dataclass(frozen=True)
class CycleReport:
    cycle: int
    summary: dict
    interrupted: dict | None = None  # the approval request, when the graph paused before execution


class FloorSession:
    def __init__(self, db_path: str | Path, config: FloorConfig | None = None, *, thread_id: str | None = None,
                 llm_models: dict[str, Any] | None = None) -> None:
        self.db_path = str(db_path)
        if self.db_path != ":memory:":
            Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = checkpoint_path_for(self.db_path)
        self.conn = sqlite3.connect(self.checkpoint_path, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # as the ledger: a commit survives a killed process without waiting for the disk (fsync) each cycle
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.saver = SqliteSaver(self.conn)
        self.graph = build_graph().compile(checkpointer=self.saver)
        from graphs.traders.config import load_config

        self._base_config = config or load_config()
        self.floor = Floor.open(self.db_path, self._base_config, llm_models=dict(llm_models or {}))
        self.threads = ThreadRegistry(self.floor.ledger.db.conn)
        self.thread: ThreadRef | None = self.threads.get(thread_id) if thread_id else self.threads.current()
        if thread_id and self.thread is None:
            raise SessionError(f"no thread {thread_id!r} in {self.db_path}")
        if self.thread is not None:
            self._use_thread_config(self.thread)

    # ----- threads and config -------------------------------------------------------------------
    def _use_thread_config(self, thread: ThreadRef) -> None:
        common.apply_thread_config(self.floor, self.db_path, thread)

    @property
    def context(self) -> FloorContext:
        return FloorContext(floor=self.floor)

    def state(self) -> dict:
        if self.thread is None:
            return {}
        return self.graph.get_state(self.thread.config_dict).values

    # ----- starting and running -----------------------------------------------------------------
    def start(self, *, seed: int | None = None, name: str | None = None) -> ThreadRef:
        cfg = self.floor.config
        if seed is not None and seed != cfg.seed:
            cfg = cfg.model_copy(update={"seed": seed})
            self.floor.use_config(cfg)
        run_id, branch_id = self.floor.start_run(seed=cfg.seed, name=name)
        thread = self.threads.add(f"run-{run_id}", run_id, cfg.model_dump(mode="json"), label=name or "main")
        self.graph.update_state(thread.config_dict, common.start_values(run_id, branch_id, cfg), as_node="settle")
        self.thread = thread
        common.setup_llm(self.floor, self.db_path)
        return thread

    def run(self, cycles: int, on_cycle: Callable[[CycleReport], None] | None = None) -> list[CycleReport]:
        reports = []
        for report in self.iter_cycles(cycles):
            reports.append(report)
            if on_cycle:
                on_cycle(report)
            if report.interrupted:
                break
        return reports

    def iter_cycles(self, cycles: int) -> Iterator[CycleReport]:
        if self.thread is None:
            self.start()
        self._recover_unfinished_cycle()
        for _ in range(cycles):
            yield self._invoke({})

    def resume(self, answer: Any) -> CycleReport:
        """Answer the approval interrupt (True, False, or the indices of the orders to keep)."""
        return self._invoke(Command(resume=answer))

    def _invoke(self, payload: Any) -> CycleReport:
        config = self.thread.config_dict
        if not self.floor.config.has_llm_traders:
            # Rule decisions take a fraction of a millisecond and hold the GIL: the decide fan-out gains
            # nothing from a pool of threads, which LangGraph would start (and join) on every cycle.
            config = {**config, "max_concurrency": 1}
        out = self.graph.invoke(payload, config, context=self.context, durability="exit")
        snap = self.graph.get_state(self.thread.config_dict) if common.paused(out) else None
        return CycleReport(**common.report_fields(out, snap))

    def pending_approval(self) -> dict | None:
        return common.interrupt_request(self.graph.get_state(self.thread.config_dict))

    def _recover_unfinished_cycle(self) -> None:
        """A checkpoint left mid-cycle by another process (a crash or an abandoned approval) is rewound to
        the last completed cycle: its work in memory is gone, and the cycle is re-run from its start."""
        snap = self.graph.get_state(self.thread.config_dict)
        if not snap.next:
            return
        if common.paused_here(self.floor):
            return  # this process paused it (approval): resume() continues it
        last = self._checkpoint_at(snap.values["cycle"])
        self.graph.update_state(last.config, {}, as_node="settle")

    # ----- time travel ----------------------------------------------------------------------------
    def history(self) -> list[dict]:
        """Completed cycles of the current thread, newest first: cycle, branch, checkpoint id, summary."""
        return common.history_rows(self.graph.get_state_history(self.thread.config_dict))

    def _checkpoint_at(self, cycle: int):
        """The newest end-of-cycle checkpoint of the current line at `cycle`."""
        lineage = common.branch_lineage(self.floor.ledger.db.conn, self.state().get("branch_id"))
        snap = common.pick_checkpoint(self.graph.get_state_history(self.thread.config_dict), cycle, lineage)
        if snap is None:
            raise SessionError(f"no completed cycle {cycle} on thread {self.thread.thread_id}")
        return snap

    def rollback(self, to_cycle: int) -> dict:
        """Back to the end of `to_cycle` on this thread. The discarded future stays as its own branch."""
        current = self.state().get("cycle", 0)
        if not 0 <= to_cycle <= current:
            raise SessionError(f"cannot roll back to cycle {to_cycle}: the run is at cycle {current}")
        snap = self._checkpoint_at(to_cycle)
        v = snap.values
        old_branch = self.state()["branch_id"]
        branch = self.floor.align(v["run_id"], v["branch_id"], to_cycle)
        if branch == v["branch_id"] and to_cycle < current:
            # the checkpoint's branch had no future beyond it (it was already a fork): still keep history
            branch = v["branch_id"]
        self.graph.update_state(snap.config, {"branch_id": branch}, as_node="settle")
        return {"cycle": to_cycle, "branch_id": branch, "kept_branch": old_branch}

    def fork(self, at_cycle: int, config: FloorConfig | None = None, *, label: str | None = None) -> ThreadRef:
        """A new thread continuing from `at_cycle` (optionally with another config); this one is untouched."""
        snap = self._checkpoint_at(at_cycle)
        v = dict(snap.values)
        cfg = config or self.floor.config
        new_branch = self.floor.fork(v["run_id"], v["branch_id"], at_cycle,
                                     name=label or f"fork at cycle {at_cycle}")
        thread = self.threads.add(f"run-{v['run_id']}-b{new_branch}", v["run_id"], cfg.model_dump(mode="json"),
                                  parent=self.thread.thread_id, forked_at=at_cycle, label=label)
        self.graph.update_state(thread.config_dict, common.fork_values(v, new_branch, cfg), as_node="settle")
        self.thread = thread
        self._use_thread_config(thread)
        return thread

    def use_thread(self, thread_id: str) -> ThreadRef:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise SessionError(f"no thread {thread_id!r}; see `trading-floor status`")
        self.threads.set_current(thread_id)
        self.thread = thread
        self._use_thread_config(thread)
        return thread

    # ----- reading --------------------------------------------------------------------------------
    def leaderboard(self) -> list[dict]:
        st = self.state()
        if not st:
            return []
        self.floor.align(st["run_id"], st["branch_id"], st["cycle"])
        return self.floor.ledger.leaderboard(self.floor.marks())

    def close(self) -> None:
        self.floor.close()
        self.conn.close()
