"""The graph that `langgraph.json` names, for `langgraph dev` and the LangGraph HTTP API.

It is compiled WITHOUT a checkpointer: the server brings its own (`langgraph dev` refuses a graph that
has one). Nobody can pass Python objects through the HTTP API, so the nodes reach a process-wide Floor
opened from the environment:
- TRADING_FLOOR_DB: the ledger file or a postgresql:// URL (default: ~/.cache/trading-floor/langgraph-dev.db, outside the
  watched project folder);
- TRADING_FLOOR_CONFIG: a floor YAML (default: the packaged floor.yaml).

A thread with no state starts a new run on its first cycle; every later run continues it. Runs from an
old checkpoint (time travel) are safe: the first node brings the ledger and the books to that cycle.
"""
from __future__ import annotations

import os
from pathlib import Path

from floor.config import load_config
from floor.ownership.lease import LeaseHeld, acquire_lease
from floor.runtime import Floor
from graphs.context import set_default_floor_factory
from graphs.cycle_graph import build_graph


def _default_db() -> Path | str:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    db = os.environ.get("TRADING_FLOOR_DB", "")
    if db.startswith(("postgresql://", "postgres://")):
        return db  # a URL stays text (a Path would fold its `//`)
    return Path(db or cache / "trading-floor" / "langgraph-dev.db")


def _open_floor() -> Floor:
    """The server's Floor, which owns the run database for the server's lifetime: `langgraph dev` advances
    cycles whenever a client asks, so no other process may write the file meanwhile (a second writer is
    refused with this server's pid). Time travel goes through the server's own API, so it takes no
    control commands from the command line."""
    config_path = os.environ.get("TRADING_FLOOR_CONFIG")
    floor = Floor.open(_default_db(), load_config(config_path) if config_path else load_config())
    try:
        floor.lease = acquire_lease(str(_default_db()), command="langgraph dev", accepts_commands=False)
    except LeaseHeld:
        floor.close()
        raise
    return floor


set_default_floor_factory(_open_floor)
graph = build_graph().compile()
