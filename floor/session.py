"""A floor session: the compiled cycle graph with its SQLite checkpointer, over one run database.

This is what the command line (and, with the async saver, the Chainlit app) drives: start a run,
run N cycles, roll back to cycle K, fork at cycle K, inspect. LangGraph's checkpoints live in the run
database itself (floor/database.py), so one file is one whole run.

Reading the state does not need LangGraph: `state()` and `history()` read the checkpoints with
floor/checkpoint_reader.py (LangGraph's own reading is the fallback for a checkpoint it does not decode),
so the cycle graph is compiled, and langgraph imported, only when a session first runs, rewinds or
updates it (`graph`). Readers (`status`, `history`, `export`) start without it.

Who may write: a session that changes anything first owns the database's single-writer lease
(floor/ownership/lease.py), and while it runs cycles it serves the control commands other processes
post (floor/ownership/commands.py) at every cycle boundary. A session opened `readonly=True` never
writes, never takes the lease, and reads whole cycles only.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floor import database as run_database
from floor import gc_policy
from floor import session_support as common
from floor.checkpoint_reader import CheckpointReader, UnsupportedCheckpoint
from floor.config import FloorConfig
from floor.database import DEFAULT_DB  # noqa: F401 - the command line's run database, named here as before
from floor.fork_config import ForkConfigError, resolve_fork_config
from floor.ownership import commands
from floor.ownership.lease import Lease, acquire_lease, held_here
from floor.threads import ThreadRef, ThreadRegistry

if TYPE_CHECKING:
    from graphs.context import FloorContext


class SessionError(RuntimeError):
    """A request the session cannot carry out, with a sentence saying why."""


@dataclass(frozen=True)
class CycleReport:
    cycle: int
    summary: dict
    interrupted: dict | None = None  # the approval request, when the graph paused before execution


_REPORTED = ["cycle", "summary"]  # the state's keys an invocation's CycleReport reads (session_support.report_fields)


class FloorSession:
    def __init__(self, db_path: str | Path, config: FloorConfig | None = None, *, thread_id: str | None = None,
                 llm_models: dict[str, Any] | None = None, readonly: bool = False) -> None:
        self.db_path = str(db_path)
        self.readonly = readonly
        self.lease: Lease | None = None
        self.stopped_by: dict | None = None  # set when a pause or reset command ended `iter_cycles`
        if self.db_path != ":memory:" and not readonly and not run_database.is_url(self.db_path):
            Path(self.db_path).parent.mkdir(parents=True, exist_ok=True)
            run_database.merge_legacy_checkpoints(self.db_path)
        from floor.config import load_config

        self._base_config = config or load_config()
        self.floor = common.open_floor(self.db_path, self._base_config, readonly, llm_models)
        self.conn = run_database.connect_checkpoints(self.db_path, readonly=readonly)
        if not readonly:  # PostgreSQL: the checkpoint's commit makes the cycle's ledger commits durable
            run_database.pair_commits(self.floor.ledger.db.conn, self.conn)
        self._conn_lock = threading.Lock()  # one user of the connection at a time: the reader or the saver
        self.reader = CheckpointReader(self.conn, self._conn_lock)
        self._graph = None  # compiled on first use (`graph`)
        self._graph_lock = threading.Lock()
        self.threads = ThreadRegistry(self.floor.ledger.db.conn, readonly=readonly)
        self.thread: ThreadRef | None = self.threads.get(thread_id) if thread_id else self.threads.current()
        if thread_id and self.thread is None:
            self.close()
            raise SessionError(f"no thread {thread_id!r} in {self.db_path}")
        if self.thread is not None:
            if not run_database.has_checkpoints(self.conn, self.thread.thread_id):
                self.close()
                raise SessionError(run_database.missing_checkpoints_message(self.db_path, self.thread.thread_id))
            self._use_thread_config(self.thread)

    # ----- threads and config -------------------------------------------------------------------
    def _use_thread_config(self, thread: ThreadRef) -> None:
        common.apply_thread_config(self.floor, self.db_path, thread)

    @property
    def graph(self):
        """The cycle graph compiled with a SqliteSaver on the run database (langgraph is imported here)."""
        with self._graph_lock:  # the UI calls a session from worker threads: compile it once
            if self._graph is None:
                from graphs.cycle_graph import build_graph

                # SqliteSaver on this connection (sharing its lock), or PostgresSaver on PostgreSQL
                saver = run_database.make_saver(self.conn, self._conn_lock, readonly=self.readonly)
                self._graph = build_graph().compile(checkpointer=saver)
        return self._graph

    @property
    def saver(self):
        """The graph's SqliteSaver on the run database."""
        return self.graph.checkpointer

    @property
    def context(self) -> FloorContext:
        from graphs.context import FloorContext

        return FloorContext(floor=self.floor)

    def _snapshot(self, config: dict):
        """The thread's state as `graph.get_state` gives it, read without LangGraph when possible."""
        try:
            return self.reader.get_state(config)
        except UnsupportedCheckpoint:
            return self.graph.get_state(config)

    def _state_history(self, config: dict) -> list:
        try:
            return list(self.reader.get_state_history(config))
        except UnsupportedCheckpoint:
            return list(self.graph.get_state_history(config))

    def state(self) -> dict:
        if self.thread is None:
            return {}
        return self._snapshot(self.thread.config_dict).values

    # ----- ownership ------------------------------------------------------------------------------
    def own(self, *, wait: float = 0.0, on_wait=None, lease: Lease | None = None, prepare: bool = True) -> Lease:
        """Hold the run database's single-writer lease (raises LeaseHeld naming the live holder).

        With `prepare` (the default) the cycle graph is compiled first, as it was when sessions compiled it
        on opening: a rollback or a fork holds the lease while working, not while langgraph imports (about
        a second). `trading-floor run` passes False: it compiles the graph once it owns the run, and not at
        all when the run is already at `--until`."""
        if self.readonly:
            raise SessionError(f"{self.db_path} is open read-only")
        if self.lease is None:
            if prepare and lease is None:
                self.graph  # noqa: B018 - compiled before the lease is taken
            self.lease = lease or acquire_lease(self.db_path, wait=wait, on_wait=on_wait)
            self.floor.lease = self.lease
            commands.ensure_schema(self.floor.ledger.conn)  # then each cycle's look at it is one plain read
        return self.lease

    def release(self) -> None:
        if self.lease is not None:
            lease, self.lease = self.lease, None
            self.floor.lease = None
            lease.release()

    def serve_commands(self) -> None:
        """At a cycle boundary: apply what other processes asked the owner for, and answer them."""
        commands.serve(self.floor.ledger.conn, self._apply_command)

    def _apply_command(self, command: commands.Command) -> dict:
        a = command.args
        if command.kind in ("pause", "reset"):
            self.stopped_by = {"kind": command.kind, "by": command.requested_by}
            return {"cycle": self.state().get("cycle", 0), "thread_id": self.thread and self.thread.thread_id}
        with self._on_thread(a.get("thread_id")):
            if command.kind == "rollback":
                return self.rollback(a["to_cycle"])
            cfg = FloorConfig.model_validate(a["config"]) if a.get("config") else None
            return {"thread_id": self.fork(a["at_cycle"], cfg, label=a.get("label")).thread_id}

    @contextmanager
    def _on_thread(self, thread_id: str | None) -> Iterator[None]:
        """Apply a command to `thread_id` (another line than the one this owner runs), then come back."""
        keep = self.thread
        if thread_id and keep is not None and thread_id != keep.thread_id:
            thread = self.threads.get(thread_id)
            if thread is None:
                raise SessionError(f"no thread {thread_id!r} in {self.db_path}")
            self.thread = thread
            self._use_thread_config(thread)
        try:
            yield
        finally:
            if keep is not None and self.thread is not keep:
                self.thread = keep
                self._use_thread_config(keep)

    # ----- starting and running -----------------------------------------------------------------
    def start(self, *, seed: int | None = None, name: str | None = None) -> ThreadRef:
        self.own()
        cfg = self.floor.config
        if seed is not None and seed != cfg.seed:
            cfg = cfg.model_copy(update={"seed": seed})
            self.floor.use_config(cfg)
        run_id, branch_id = self.floor.start_run(seed=cfg.seed, name=name)
        # the checkpoint first, then the thread that names it: a kill in between leaves no thread without one
        self.graph.update_state(common.thread_config(f"run-{run_id}"), common.start_values(run_id, branch_id, cfg),
                                as_node="settle")
        thread = self.threads.add(f"run-{run_id}", run_id, cfg.model_dump(mode="json"), label=name or "main")
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

    def iter_cycles(self, cycles: int | None = None, *, until: int | None = None) -> Iterator[CycleReport]:
        """Run `cycles` more cycles, or up to cycle `until` (none when the run is already there). Between
        cycles the owner serves control commands; a pause or reset ends the loop (`stopped_by`)."""
        self.own()
        self.stopped_by = None
        if self.thread is None:
            self.start()
        waiting = self._recover_unfinished_cycle()
        self.serve_commands()
        done = 0
        while self.stopped_by is None:
            if until is not None:
                if self.state().get("cycle", 0) >= until:
                    return
            elif done >= (cycles or 0):
                return
            # A cycle waiting for approval is begun again by a new input (its pending task discarded), as
            # before; otherwise the next cycle starts at the graph's first node (session_support.next_cycle).
            report = self._invoke({} if waiting else common.next_cycle())
            waiting = bool(report.interrupted)
            done += 1
            yield report
            self.serve_commands()

    def resume(self, answer: Any) -> CycleReport:
        """Answer the approval interrupt (True, False, or the indices of the orders to keep)."""
        from langgraph.types import Command

        self.own()
        return self._invoke(Command(resume=answer))

    def _invoke(self, payload: Any) -> CycleReport:
        with gc_policy.cycle_gc():  # the collector wakes less often while the cycle runs (floor/gc_policy.py)
            return self._invoke_graph(payload)

    def _invoke_graph(self, payload: Any) -> CycleReport:
        config = self.thread.config_dict
        # version "v2": LangGraph streams the state after each step and nothing else; its default ("v1")
        # also streams every task's update, only to find interrupts in them, which "v2" hands over itself
        if self.floor.config.has_llm_traders:
            got = self.graph.invoke(payload, config, context=self.context, durability="exit", version="v2", output_keys=_REPORTED)
        else:
            # Rule decisions take a fraction of a millisecond and hold the GIL: the decide fan-out gains
            # nothing from a pool of threads, which LangGraph would start (and join) on every cycle; its one
            # background write, the checkpoint, is done by this thread (graphs/inline_background.py), through
            # the ledger's connection on SQLite (floor/latest_checkpoint_saver.py `on_connection`).
            from graphs.inline_background import inline_background

            with inline_background(), self._checkpoints_on_ledger_connection():
                got = self.graph.invoke(payload, {**config, "max_concurrency": 1}, context=self.context,
                                        durability="exit", version="v2", output_keys=_REPORTED)
        out = got.value if not got.interrupts else {**(got.value or {}), "__interrupt__": list(got.interrupts)}
        snap = self.graph.get_state(self.thread.config_dict) if common.paused(out) else None
        return CycleReport(**common.report_fields(out, snap))

    def _checkpoints_on_ledger_connection(self):
        """While this thread runs a cycle: the saver writes the checkpoint through the ledger's SQLite
        connection (one connection's commits, so neither drops the other's page cache); elsewhere, and on
        PostgreSQL, nothing changes."""
        on_connection = getattr(self.graph.checkpointer, "on_connection", None)
        ledger_conn = self.floor.ledger.db.conn
        if on_connection is None or self.readonly or not isinstance(ledger_conn, sqlite3.Connection):
            return contextlib.nullcontext()
        return on_connection(ledger_conn)

    def pending_approval(self) -> dict | None:
        if self.thread is None:
            return None
        return common.interrupt_request(self.graph.get_state(self.thread.config_dict))

    def set_approval(self, on: bool) -> None:
        """Ask (or stop asking) a person to approve each cycle's orders, from the next cycle on."""
        if self.thread is None:
            return
        snap = self.graph.get_state(self.thread.config_dict)
        if snap.next or snap.values.get("approval") == on:
            return  # mid-cycle: the new setting applies from the next cycle
        self.own()
        self.graph.update_state(self.thread.config_dict, {"approval": on}, as_node="settle")

    def _recover_unfinished_cycle(self) -> bool:
        """A checkpoint left mid-cycle by another process (a crash or an abandoned approval) is rewound to
        the last completed cycle: its work in memory is gone, and the cycle is re-run from its start.
        True when the cycle is this process's own, paused for approval (resume() continues it)."""
        snap = self.graph.get_state(self.thread.config_dict)
        if not snap.next:
            return False
        if common.paused_here(self.floor):
            return True  # this process paused it (approval): resume() continues it
        last = self._checkpoint_at(snap.values["cycle"])
        self.graph.update_state(last.config, {}, as_node="settle")
        return False

    # ----- time travel ----------------------------------------------------------------------------
    def history(self) -> list[dict]:
        """Completed cycles of the current thread, newest first: cycle, branch, checkpoint id, summary."""
        return common.history_rows(self._state_history(self.thread.config_dict))

    def _checkpoint_at(self, cycle: int, *, ancestors: bool = False):
        """The newest end-of-cycle checkpoint of the current line at `cycle`; with `ancestors`, a cycle
        before the thread was forked is found on the thread it was forked from."""
        lineage = common.branch_lineage(self.floor.ledger.db.conn, self.state().get("branch_id"))
        thread = self.thread
        while True:
            snap = common.pick_checkpoint(self.graph.get_state_history(thread.config_dict), cycle, lineage)
            if snap is not None:
                return snap
            parent = common.forked_from(self.threads, thread, cycle) if ancestors else None
            if parent is None:
                raise SessionError(common.no_checkpoint_message(thread, cycle))
            thread = parent

    def rollback(self, to_cycle: int) -> dict:
        """Back to the end of `to_cycle` on this thread. The discarded future stays as its own branch."""
        self.own()
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
        self.own()
        snap = self._checkpoint_at(at_cycle, ancestors=True)
        v = dict(snap.values)
        try:
            cfg = self.floor.config if config is None else resolve_fork_config(self.floor.config, config)
        except ForkConfigError as exc:
            raise SessionError(str(exc)) from exc
        new_branch = self.floor.fork(v["run_id"], v["branch_id"], at_cycle,
                                     name=label or f"fork at cycle {at_cycle}", config=cfg)
        thread_id = f"run-{v['run_id']}-b{new_branch}"
        self.graph.update_state(common.thread_config(thread_id), common.fork_values(v, new_branch, cfg), as_node="settle")
        thread = self.threads.add(thread_id, v["run_id"], cfg.model_dump(mode="json"), parent=self.thread.thread_id,
                                  forked_at=at_cycle, label=label)
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
    def align_to_state(self) -> dict:
        """Bring books and ledger to the checkpoint (reads then see this thread's line); return the state.

        Only the lease's holder may realign (which can fork or truncate the ledger): a session that does
        not own the run only points its reads at the last settled cycle, writing nothing."""
        st = self.state()
        if st and "run_id" in st:
            if self.readonly or (self.lease is None and held_here(self.db_path) is None):
                with self.floor.ledger.read_snapshot():
                    common.view_settled(self.floor, st)
            else:
                self.floor.align(st["run_id"], st["branch_id"], st["cycle"])
        return st

    def leaderboard(self) -> list[dict]:
        if self.readonly:
            with self.floor.ledger.read_snapshot():  # the leaderboard of one settled cycle
                st = self.state()
                if not st:
                    return []
                common.view_settled(self.floor, st)
                return self.floor.ledger.leaderboard(self.floor.marks())
        if not self.align_to_state():
            return []
        return self.floor.ledger.leaderboard(self.floor.marks())

    def close(self) -> None:
        self.release()
        self.floor.close()
        with self._conn_lock:
            self.conn.close()
