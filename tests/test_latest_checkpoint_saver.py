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
    # each cycle's opening read came from memory; the one read before them (the session's look for an
    # unfinished cycle) is made through the session's own connection, not the ledger's the cycles write on,
    # and goes to the file
    assert len(file_reads) == before + 1
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


def test_on_connection_routes_the_calling_thread_only(tmp_path, file_reads):
    """Inside `on_connection`, this thread's reads and writes go through the given connection; another
    thread's through the saver's own; a memo written on one connection is not trusted on the other."""
    import threading

    saver, config = _saver_with_a_checkpoint(tmp_path)
    own = saver.conn
    other = sqlite3.connect(tmp_path / "c.db", isolation_level=None, check_same_thread=False)
    seen = {}
    with saver.on_connection(other):
        assert saver.conn is other
        worker = threading.Thread(target=lambda: seen.update(conn=saver.conn))
        worker.start()
        worker.join()
        assert saver.get_tuple(config).metadata == {"source": "loop", "step": 3}
        assert len(file_reads) == 1  # written through `own`: read from the file through `other`
        saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}},
                  {"v": 1, "id": "1f0-b", "ts": "2026-12-06T00:00:01+00:00", "versions_seen": {},
                   "channel_versions": {"x": 2}, "channel_values": {"x": "z"}}, {"step": 4}, {"x": 2})
        assert not other.in_transaction  # the put committed (autocommit): nothing left open on `other`
        assert saver.get_tuple(config).checkpoint["id"] == "1f0-b" and len(file_reads) == 1  # from memory
    assert seen["conn"] is own and saver.conn is own
    assert saver.get_tuple(config).checkpoint["id"] == "1f0-b" and len(file_reads) == 2  # own conn: the file
    assert _from_file(saver, config).checkpoint["id"] == "1f0-b"


def test_a_rule_floor_commits_its_checkpoints_on_the_ledger_connection(tmp_path):
    """A rule floor's cycle writes its checkpoint through the ledger's connection (floor/session.py): for the
    ledger that is no other connection's commit, so SQLite keeps its page cache from one cycle to the next;
    the session's checkpoint connection writes nothing."""
    session = FloorSession(tmp_path / "f.db", load_config())
    session.start()
    list(session.iter_cycles(2))
    ledger_conn = session.floor.ledger.db.conn
    version = ledger_conn.execute("PRAGMA data_version").fetchone()[0]
    own_changes = session.conn.total_changes
    list(session.iter_cycles(3))
    assert ledger_conn.execute("PRAGMA data_version").fetchone()[0] == version
    assert session.conn.total_changes == own_changes
    assert session.state()["cycle"] == 5
    assert _from_file(session.saver, session.thread.config_dict).checkpoint["channel_values"]["cycle"] == 5
    session.close()
