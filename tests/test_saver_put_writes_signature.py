"""floor/database.py hands LangGraph a saver whose `put_writes` carries its signature, worked out once:
LangGraph's own check (does it take `task_path`?) answers as for the plain saver, and writes stored
through it read back."""
from __future__ import annotations

import sqlite3

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.pregel._checkpoint import put_writes_accepts_task_path

from floor.database import make_saver


def test_langgraph_s_task_path_check_answers_as_for_the_plain_saver():
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    saver = make_saver(conn)
    plain = SqliteSaver(sqlite3.connect(":memory:"))
    assert put_writes_accepts_task_path(saver.put_writes) is put_writes_accepts_task_path(plain.put_writes) is True
    assert "__signature__" in saver.put_writes.__dict__


def test_writes_through_it_are_stored_with_their_task_path():
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    saver = make_saver(conn)
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c1"}}
    saver.put_writes(config, [("orders", [1, 2]), ("summary", {"cycle": 3})], "task-1", task_path="~settle")
    saver.put_writes(config, [("topic", "x")], task_id="task-2")
    rows = conn.execute("SELECT task_id, task_path, channel FROM writes ORDER BY task_id, idx").fetchall()
    assert rows == [("task-1", "~settle", "orders"), ("task-1", "~settle", "summary"), ("task-2", "", "topic")]
