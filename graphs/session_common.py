"""Logic shared by the sync `FloorSession` (graphs/session.py) and the async `AsyncFloorSession`.

Everything here is pure over LangGraph state snapshots, the Floor, or the ledger connection, so the two
sessions differ only in how they talk to the checkpointer (`invoke`/`get_state` versus their `a`-twins).
Keeping it here means a rollback from the command line and one from the chat UI choose the same
checkpoint, the same branch lineage and the same thread config.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphs.floor import Floor
from graphs.threads import ThreadRef
from graphs.traders.config import FloorConfig


def setup_llm(floor: Floor, db_path: str) -> None:
    """LLM budget and response cache, only when some trader runs in LLM mode."""
    cfg = floor.config
    if cfg.has_llm_traders:
        from graphs.llm.budget import Budget
        from graphs.llm.cache import LLMCache

        floor.llm_budget = Budget(cfg.llm_budget)
        cache_path = ":memory:" if db_path == ":memory:" else str(Path(db_path).with_suffix(".llm-cache.db"))
        floor.llm_cache = LLMCache(cache_path)


def apply_thread_config(floor: Floor, db_path: str, thread: ThreadRef) -> None:
    """A thread carries the config it was started or forked with; the Floor switches to it."""
    cfg = FloorConfig.model_validate(thread.config)
    if cfg != floor.config:
        floor.use_config(cfg)
    setup_llm(floor, db_path)


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


def paused_here(floor: Floor) -> bool:
    """True when this process paused the cycle (approval) and still holds its work in memory."""
    return floor.work is not None and floor.at is not None
