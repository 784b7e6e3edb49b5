"""floor/latest_checkpoint_saver.py: the read of a thread's latest checkpoint answered from what the saver
wrote last gives what the file gives, fresh objects each time, and goes to the file as soon as anything may
have changed the thread."""
from __future__ import annotations

import sqlite3

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from floor.config import load_config
from floor.database import connect_checkpoints
from floor.latest_checkpoint_saver import LatestCheckpointSaver
from floor.session import FloorSession


@pytest.fixture
def file_reads(monkeypatch):
    reads = []
    original = SqliteSaver.get_tuple

    def counted(self, config):
        reads.append(config)
        return original(self, config)

    monkeypatch.setattr(SqliteSaver, "get_tuple", counted)
    return reads


def _from_file(saver, config):
    return SqliteSaver.get_tuple(saver, config)


def test_a_floor_run_reads_its_own_checkpoints_from_memory_and_they_equal_the_file_s(tmp_path, file_reads):
    session = FloorSession(tmp_path / "f.db", load_config())
    session.start()
    saver = session.saver
    assert isinstance(saver, LatestCheckpointSaver)
    list(session.iter_cycles(3))
    before = len(file_reads)
    list(session.iter_cycles(4))
    assert len(file_reads) == before  # each cycle's opening read came from memory
    config = session.thread.config_dict
    mine, theirs = saver.get_tuple(config), _from_file(saver, config)
    assert mine == theirs and mine.checkpoint["channel_values"]["cycle"] == 7
    again = saver.get_tuple(config)
    assert again.checkpoint == mine.checkpoint and again.checkpoint is not mine.checkpoint
    mine.checkpoint["channel_values"]["summary"]["trades"] = -1  # a caller's change stays its own
    assert saver.get_tuple(config).checkpoint == theirs.checkpoint
    session.close()


def _saver_with_a_checkpoint(tmp_path):
    conn = connect_checkpoints(str(tmp_path / "c.db"))
    from floor.checkpoint_serde import CompressedSerializer

    saver = LatestCheckpointSaver(conn, serde=CompressedSerializer())
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    checkpoint = {"v": 1, "id": "1f0-a", "ts": "2026-12-06T00:00:00+00:00", "versions_seen": {},
                  "channel_versions": {"x": 1}, "channel_values": {"x": "y" * 400, "n": [1, 2.5, None]}}
    saver.put(config, checkpoint, {"source": "loop", "step": 3}, {"x": 1})
    return saver, {"configurable": {"thread_id": "t"}}


def test_another_connection_s_commit_sends_the_read_to_the_file(tmp_path, file_reads):
    saver, config = _saver_with_a_checkpoint(tmp_path)
    assert saver.get_tuple(config).metadata == {"source": "loop", "step": 3} and not file_reads
    other = sqlite3.connect(tmp_path / "c.db")
    other.execute("UPDATE checkpoints SET metadata = ? WHERE thread_id = 't'", (b'{"step": 9}',))
    other.commit()
    assert saver.get_tuple(config).metadata == {"step": 9} and len(file_reads) == 1


def test_a_change_through_the_saver_s_own_connection_sends_the_read_to_the_file(tmp_path, file_reads):
    saver, config = _saver_with_a_checkpoint(tmp_path)
    saver.conn.execute("DELETE FROM checkpoints")
    saver.conn.commit()
    assert saver.get_tuple(config) is None and len(file_reads) == 1


def test_pending_writes_and_reads_by_id_or_of_other_threads_go_to_the_file(tmp_path, file_reads):
    saver, config = _saver_with_a_checkpoint(tmp_path)
    assert saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_id": "1f0-a"}}).checkpoint["id"] == "1f0-a"
    assert saver.get_tuple({"configurable": {"thread_id": "u"}}) is None
    assert len(file_reads) == 2
    saver.put_writes({"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "1f0-a"}},
                     [("x", "z")], "task-1")
    got = saver.get_tuple(config)
    assert len(file_reads) == 3 and [w[1:] for w in got.pending_writes] == [("x", "z")]
