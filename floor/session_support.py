"""The pure parts of a session (floor/session.py): functions over LangGraph state snapshots, the Floor
or the ledger connection, with no checkpointer of their own.

They choose which checkpoint a rollback returns to, the branch lineage, the state a new run or a fork
starts with, and what a reader sees; `trading-floor doctor` rebuilds checkpoints with the same values.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floor.threads import ThreadRef, ThreadRegistry

if TYPE_CHECKING:  # the config and the Floor import numpy and the market: readers (run_reader.py) do not need them
    from floor.config import FloorConfig
    from floor.runtime import Floor


def setup_llm(floor: Floor, db_path: str) -> None:
    """LLM budget and response cache, only when some trader runs in LLM mode."""
    cfg = floor.config
    if cfg.has_llm_traders:
        from traders.llm.budget import Budget
        from traders.llm.cache import LLMCache

        floor.llm_budget = Budget.for_floor(floor)  # earlier spending read from the ledger (budget.py)
        cache_path = db_path if db_path == ":memory:" or "://" in db_path else str(Path(db_path).with_suffix(".llm-cache.db"))
        floor.llm_cache = LLMCache(cache_path)


def apply_thread_config(floor: Floor, db_path: str, thread: ThreadRef) -> None:
    """A thread carries the config it was started or forked with; the Floor switches to it."""
    from floor.config import FloorConfig

    cfg = FloorConfig.model_validate(thread.config)
    if cfg != floor.config:
        floor.use_config(cfg)
    setup_llm(floor, db_path)


def thread_config(thread_id: str) -> dict:
    """LangGraph's config naming one thread."""
    return {"configurable": {"thread_id": thread_id}}


def start_values(run_id: int, branch_id: int, cfg: FloorConfig) -> dict:
    """The state written (as if by `settle`) at cycle 0 of a new run."""
    return {"run_id": run_id, "branch_id": branch_id, "cycle": 0,
            "traders": [t.name for t in cfg.traders], "approval": cfg.approval}


def fork_values(values: dict, new_branch: int, cfg: FloorConfig) -> dict:
    """The state of a fork's new thread: the cycle it was forked at, on its own branch, with its config."""
    out = {k: values[k] for k in ("run_id", "cycle", "traders") if k in values}
    return out | {"branch_id": new_branch, "approval": cfg.approval, "traders": [t.name for t in cfg.traders]}


def interrupt_request(snap: Any) -> dict | None:
    """The approval request the graph is paused on, if any."""
    if snap.next and snap.tasks and snap.tasks[0].interrupts:
        return snap.tasks[0].interrupts[0].value
    return None


def next_cycle() -> Any:
    """The input that starts the next cycle on a thread whose last cycle is complete: LangGraph's
    `Command(goto=<the graph's first node>)`, which schedules that node directly. An input dict (even `{}`) goes
    through the graph's `__start__` task first: a super-step of LangGraph's own scheduling that writes
    nothing here, about 1.7% of a rule cycle (instructions counted under valgrind, 100 cycles). The
    cycle, its checkpoint and every row are the same. A cycle paused mid-way (approval) is not complete:
    a new cycle there starts with an input dict, which begins it again (`FloorSession.iter_cycles`)."""
    from langgraph.types import Command

    from graphs.cycle_graph import NODES

    return Command(goto=NODES[0])


def paused(out: dict) -> bool:
    """Whether an invocation stopped at an interrupt (LangGraph puts `__interrupt__` in its output then):
    only a paused cycle needs the checkpoint read back to learn what it waits for."""
    return "__interrupt__" in out


def report_fields(out: dict, snap: Any = None) -> dict:
    """Keyword arguments of a `CycleReport` after one invocation: `snap`, the thread's state, is needed only
    when the invocation `paused`."""
    if snap is not None and snap.next:
        return {"cycle": out.get("cycle", 0) + 1, "summary": {}, "interrupted": interrupt_request(snap) or {}}
    return {"cycle": out["cycle"], "summary": out.get("summary", {})}


def history_rows(snaps: Iterable[Any]) -> list[dict]:
    """Completed cycles, newest first, one row per (branch, cycle)."""
    seen, out = set(), []
    for snap in snaps:
        v = snap.values
        if snap.next or "cycle" not in v:
            continue
        key = (v["branch_id"], v["cycle"])
        if key in seen:
            continue
        seen.add(key)
        out.append({"cycle": v["cycle"], "branch_id": v["branch_id"],
                    "checkpoint_id": snap.config["configurable"]["checkpoint_id"], "summary": v.get("summary", {})})
    return out


def branch_lineage(conn: sqlite3.Connection, branch_id: int | None) -> set[int]:
    """The branch and all its fork ancestors."""
    out: set[int] = set()
    while branch_id is not None:
        out.add(branch_id)
        row = conn.execute("SELECT parent_id FROM branches WHERE branch_id = ?", (branch_id,)).fetchone()
        branch_id = row[0] if row else None
    return out


def pick_checkpoint(snaps: Iterable[Any], cycle: int, lineage: set[int]) -> Any | None:
    """The newest end-of-cycle checkpoint at `cycle` on the current line (else any at that cycle)."""
    best = None
    for snap in snaps:
        v = snap.values
        if snap.next or v.get("cycle") != cycle:
            continue
        if v.get("branch_id") in lineage:
            return snap
        best = best or snap
    return best


def forked_from(threads: ThreadRegistry, thread: ThreadRef, cycle: int) -> ThreadRef | None:
    """The thread `thread` was forked from, when `cycle` lies before the fork (its history is there)."""
    if thread.parent_thread is None or thread.forked_at is None or cycle > thread.forked_at:
        return None
    return threads.get(thread.parent_thread)


def no_checkpoint_message(thread: ThreadRef, cycle: int) -> str:
    if thread.forked_at is not None and cycle < thread.forked_at:
        return (f"thread {thread.thread_id} begins at cycle {thread.forked_at}, where it was forked from "
                f"{thread.parent_thread}: roll it back to cycle {thread.forked_at} or later, or fork at cycle "
                f"{cycle} (a fork may start from the line it came from)")
    return f"no completed cycle {cycle} on thread {thread.thread_id}"


def paused_here(floor: Floor) -> bool:
    """True when this process paused the cycle (approval) and still holds its work in memory."""
    return floor.work is not None and floor.at is not None


def open_floor(db_path: str, config: FloorConfig, readonly: bool, llm_models: dict | None) -> Floor:
    """The Floor over a run database; `readonly` opens the ledger for reading only (no lease, no writes)."""
    from floor.runtime import Floor

    models = dict(llm_models or {})
    if not readonly:
        return Floor.open(db_path, config, llm_models=models)
    from ledger.store import Ledger
    from market.instruments import DEFAULT_UNIVERSE

    ledger = Ledger.open(db_path, fee_bps=config.fee_bps, symbols=[i.symbol for i in DEFAULT_UNIVERSE],
                         readonly=True)
    return Floor(config=config, ledger=ledger, db_path=db_path, llm_models=models)


def view_settled(floor: Floor, state: dict) -> int:
    """For a reader, inside `ledger.read_snapshot()`: point the ledger and the books at the last cycle the
    state's branch has wholly settled (the checkpoint's cycle, or the one after it when the owner has
    committed a cycle and not yet written its checkpoint), without writing anything. Returns that cycle."""
    run_id, branch_id = state["run_id"], state["branch_id"]
    floor.ledger.use(run_id, branch_id, remember=False)
    cycle = max(floor.ledger.last_cycle() or 0, state["cycle"])
    while cycle > state["cycle"] and not floor.snapshots.has_cycle(run_id, branch_id, cycle):
        cycle -= 1  # rows of a cycle in progress (reservations) come before its journal
    floor.exchange = floor.exchange_at(run_id, branch_id, cycle)
    floor.at = None  # a writer in this process would restore its own books on its next align
    return cycle

