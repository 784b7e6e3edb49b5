"""floor/checkpoint_reader.py reads what LangGraph reads: the same values, `next`, checkpoint ids, parents,
interrupts and history order as `graph.get_state` / `get_state_history`, on real runs with a rollback, a
fork, an approval interrupt (asked, then answered) and a checkpoint left mid-cycle with pending Sends;
and it refuses what it does not decode, while the session falls back to LangGraph for it."""
from __future__ import annotations

import sqlite3
import typing
from datetime import UTC, datetime

import ormsgpack
import pytest
from floor_helpers import fast_config
from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from floor.checkpoint_reader import (
    NODE_ORDER,
    REDUCER_DEFAULTS,
    STATE_KEYS,
    CheckpointReader,
    UnsupportedCheckpoint,
    decode,
)
from floor.session import FloorSession
from graphs.state import CycleState, DecideInput


def _tasks(snap) -> list:
    return [(t.name, [(i.value, i.id) for i in t.interrupts]) for t in snap.tasks]


def _same(ours, theirs) -> None:
    assert ours.values == theirs.values
    assert list(ours.values) == list(theirs.values)  # the same keys in the same order
    assert ours.next == theirs.next
    assert ours.config == theirs.config
    assert ours.parent_config == theirs.parent_config
    assert ours.metadata == theirs.metadata
    assert ours.created_at == theirs.created_at
    assert _tasks(ours) == _tasks(theirs)
    assert [(i.value, i.id) for i in ours.interrupts] == [(i.value, i.id) for i in theirs.interrupts]


def _check_every_thread(session: FloorSession) -> int:
    """Compare the reader with LangGraph on every thread of the database; return the checkpoints seen."""
    reader, seen = CheckpointReader(session.conn), 0
    for thread in session.threads.all():
        cfg = thread.config_dict
        _same(reader.get_state(cfg), session.graph.get_state(cfg))
        ours, theirs = list(reader.get_state_history(cfg)), list(session.graph.get_state_history(cfg))
        assert [s.config["configurable"]["checkpoint_id"] for s in ours] == \
               [s.config["configurable"]["checkpoint_id"] for s in theirs]
        for a, b in zip(ours, theirs, strict=True):
            _same(a, b)
            named = {"configurable": dict(b.config["configurable"])}  # one checkpoint by its id (not live)
            _same(reader.get_state(named), session.graph.get_state(named))
        seen += len(ours)
    return seen


def test_the_reader_knows_the_cycle_graph_it_reads():
    from graphs.cycle_graph import build_graph

    compiled = build_graph().compile()
    assert tuple(compiled.nodes) == NODE_ORDER
    assert tuple(compiled.stream_channels_asis) == STATE_KEYS
    assert set(STATE_KEYS) == set(typing.get_type_hints(CycleState)) | set(typing.get_type_hints(DecideInput))
    reducers = {k for k, ch in compiled.channels.items() if isinstance(ch, BinaryOperatorAggregate)}
    assert reducers == set(REDUCER_DEFAULTS)
    assert all(REDUCER_DEFAULTS[k]() == compiled.channels[k].value for k in reducers)


def test_rollback_and_fork_read_the_same_as_langgraph(tmp_path):
    s = FloorSession(tmp_path / "rf.db", fast_config())
    s.start()
    s.run(5)
    s.rollback(2)
    s.run(2)
    s.fork(3, label="what-if")
    s.run(2)
    assert _check_every_thread(s) >= 12
    s.close()
    reader_only = FloorSession(tmp_path / "rf.db", readonly=True)  # the command line's readers
    assert reader_only.state()["cycle"] == 5 and reader_only._graph is None
    assert reader_only.history()[0]["cycle"] == 5 and reader_only._graph is None
    assert _check_every_thread(reader_only) >= 12
    reader_only.close()


def test_an_approval_interrupt_asked_then_answered_reads_the_same(tmp_path):
    s = FloorSession(tmp_path / "ap.db", fast_config(approval=True))
    s.start()
    report = None
    for _ in range(60):
        report = s.run(1)[-1]
        if report.interrupted:
            break
    assert report.interrupted, "some trader should propose orders within 60 cycles"
    snap = CheckpointReader(s.conn).get_state(s.thread.config_dict)
    assert snap.next == ("risk",) and snap.tasks[0].interrupts[0].value["orders"] == report.interrupted["orders"]
    _check_every_thread(s)
    s.resume(False)  # the interrupted checkpoint now carries the answer among its writes
    s.run(1)
    _check_every_thread(s)
    s.close()


def test_a_checkpoint_with_pending_sends_reads_the_same(tmp_path):
    s = FloorSession(tmp_path / "send.db", fast_config())
    s.start()
    s.run(2)
    s.own()
    s.graph.update_state(s.thread.config_dict, {}, as_node="discussion")  # decide's Sends wait in the checkpoint
    snap = CheckpointReader(s.conn).get_state(s.thread.config_dict)
    assert snap.next == ("decide",) * len(s.floor.config.traders)
    _check_every_thread(s)
    s.close()


def test_what_is_not_plain_data_is_refused_and_the_session_falls_back_to_langgraph(tmp_path):
    serde = JsonPlusSerializer()
    for odd in ({1, 2}, fast_config().market, [1, {"at": datetime(2024, 1, 2, tzinfo=UTC)}]):
        kind, blob = serde.dumps_typed(odd)
        with pytest.raises(UnsupportedCheckpoint, match="plain data"):
            decode(kind, blob)
    with pytest.raises(UnsupportedCheckpoint, match="pickle"):
        decode("pickle", b"\x80\x04N.")
    assert decode("msgpack", ormsgpack.packb({"a": [1, 2.5, None, True, "x"], 3: {}},
                                             option=ormsgpack.OPT_NON_STR_KEYS)) == \
        {"a": [1, 2.5, None, True, "x"], 3: {}}

    db = tmp_path / "odd.db"
    s = FloorSession(db, fast_config())
    s.start()
    s.run(1)
    s.own()
    s.graph.update_state(s.thread.config_dict, {"topic": {"a", "set"}}, as_node="settle")  # not our state's data
    s.close()
    reader = FloorSession(db, readonly=True)
    with pytest.raises(UnsupportedCheckpoint, match="builtins.set"):
        reader.reader.get_state(reader.thread.config_dict)
    assert reader.state()["topic"] == {"a", "set"}  # LangGraph read it
    assert reader.history()[0]["cycle"] == 1
    reader.close()


def test_a_writes_table_from_before_task_paths_is_read_too(tmp_path):
    db = tmp_path / "old.db"
    s = FloorSession(db, fast_config())
    s.start()
    s.run(2)
    s.close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE writes DROP COLUMN task_path")  # as an older langgraph-checkpoint-sqlite made it
    conn.commit()
    conn.close()
    reader = FloorSession(db, readonly=True)
    assert reader.state()["cycle"] == 2 and [h["cycle"] for h in reader.history()] == [2, 1, 0]
    assert reader._graph is None  # read without LangGraph (whose read-only saver cannot read this table)
    reader.close()
