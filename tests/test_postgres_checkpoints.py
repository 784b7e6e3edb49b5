"""LangGraph's checkpoints on PostgreSQL: PostgresSaver in a schema of its own beside the run's ledger, in
the same database (floor/database.py: `connect_checkpoints`, `make_saver`, `has_checkpoints`)."""
from __future__ import annotations

import operator
import uuid
from typing import Annotated, TypedDict

import psycopg
from langgraph.graph import END, START, StateGraph

from floor import database as run_database
from ledger.store import Ledger


class S(TypedDict):
    cycle: int
    seen: Annotated[list[int], operator.add]


def _graph(saver):
    g = StateGraph(S)
    g.add_node("tick", lambda s: {"cycle": s["cycle"] + 1, "seen": [s["cycle"] + 1]})
    g.add_edge(START, "tick")
    g.add_edge("tick", END)
    return g.compile(checkpointer=saver)


def test_checkpoints_live_in_their_own_schema_of_the_run_database(pg_url):
    schema = f"run_{uuid.uuid4().hex[:8]}"
    url = f"{pg_url}&schema={schema}"
    ledger = Ledger.open(url, symbols=["AAA"])
    ledger.start_run(config={}, seed=1)
    conn = run_database.connect_checkpoints(url)
    assert not run_database.has_checkpoints(conn, "run-1")  # no table yet: not an error
    graph = _graph(run_database.make_saver(conn))
    cfg = {"configurable": {"thread_id": "run-1"}}
    state = {"cycle": 0, "seen": []}
    for _ in range(3):
        state = graph.invoke(state, cfg)
    assert state["cycle"] == 3 and run_database.has_checkpoints(conn, "run-1")
    with psycopg.connect(pg_url) as c:
        tables = dict(c.execute("SELECT table_name, table_schema FROM information_schema.tables "
                                "WHERE table_schema IN (%s, %s)", (schema, f"{schema}_checkpoints")).fetchall())
    assert tables["checkpoints"] == f"{schema}_checkpoints" and tables["checkpoint_writes"] == f"{schema}_checkpoints"
    assert tables["fills"] == schema and tables["meta"] == schema  # the ledger's, in its own schema
    # another connection (another process, a reader) sees the same thread's state and history
    other = run_database.connect_checkpoints(url)
    reader = _graph(run_database.make_saver(other, readonly=True))
    assert reader.get_state(cfg).values["cycle"] == 3
    assert [h.values.get("cycle") for h in reader.get_state_history(cfg)][0] == 3
    other.close()
    conn.close()
    ledger.close()
