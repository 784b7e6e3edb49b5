"""LangGraph's SqliteSaver for the run database, remembering the checkpoint it wrote last.

Every invoke of the cycle graph begins by reading its thread's newest checkpoint: a SELECT, a second one for
its pending writes, zlib, msgpack. On a floor that is, nearly always, the checkpoint this very saver wrote
at the end of the cycle before: reading it back cost about 0.47 M instructions of a rule cycle's ~40 M
(callgrind), of which decoding the msgpack is 0.21 M.

`LatestCheckpointSaver` keeps the msgpack of the last checkpoint it wrote (before compression, as the
serializer made it; floor/checkpoint_serde.py) with its metadata, and answers the next read of "the latest
checkpoint of that thread" from them, while nothing can have changed the thread since:
- no other connection committed to the file (`PRAGMA data_version` is what it was right after the write);
- this connection changed no row since (`total_changes`: a rollback's or a vacuum's statements through it);
- no pending writes were stored and no thread was deleted through the saver (`put_writes`, `delete_thread`).
The values are decoded afresh for every read, as from the file, so no two readers share an object and a
caller that changes what it got changes nothing for the next. Any other read (a checkpoint by id, another
thread or namespace, or after any of the changes above) goes to the file, as before.

`on_connection(conn)`: within the block, and on the calling thread only, the saver reads and writes through
`conn` instead of its own connection. A rule floor's session runs each cycle on one thread and passes the
ledger's connection (floor/session.py): the checkpoint is then not another connection's commit, which made
SQLite drop the ledger connection's whole page cache at the start of the next cycle (about 70 page reads a
cycle, and a re-check of the ledger's version). The commits are the same two as before, ledger then
checkpoint, each whole or not at all. Every other thread (a UI reading the state, `set_approval`) keeps the
saver's own connection, and so never writes into a transaction the cycle's thread has open.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id, get_checkpoint_metadata
from langgraph.checkpoint.sqlite import SqliteSaver


class _Written:
    """What a read of the thread's latest checkpoint would give, kept as bytes, and the file's state then."""

    __slots__ = ("thread_id", "ns", "checkpoint_id", "parent_id", "payload", "metadata", "file_state")

    def __init__(self, thread_id: str, ns: str, checkpoint_id: str, parent_id: str | None,
                 payload: tuple[str, bytes], metadata: bytes, file_state: tuple) -> None:
        self.thread_id, self.ns, self.checkpoint_id, self.parent_id = thread_id, ns, checkpoint_id, parent_id
        self.payload, self.metadata = payload, metadata
        self.file_state = file_state


class LatestCheckpointSaver(SqliteSaver):
    """SqliteSaver answering the read of a thread's latest checkpoint from what it wrote last, and writing
    through another connection on request (see above)."""

    _written: _Written | None = None

    def __init__(self, conn, *args: Any, **kwargs: Any) -> None:
        self._routes = threading.local()
        super().__init__(conn, *args, **kwargs)

    @property
    def conn(self):
        """The connection SqliteSaver uses: `on_connection`'s on the thread inside it, else the saver's own."""
        return getattr(self._routes, "conn", None) or self._own_conn

    @conn.setter
    def conn(self, value) -> None:
        self._own_conn = value

    @contextmanager
    def on_connection(self, conn) -> Iterator[None]:
        """Within the block, on this thread: read and write checkpoints through `conn` (another connection to
        the same file, in autocommit mode, with no transaction of its own open when the saver writes)."""
        if not self.is_setup:
            self.setup()  # on the saver's own connection: the set-up script would commit what `conn` holds open
        outer = getattr(self._routes, "conn", None)
        self._routes.conn = conn
        try:
            yield
        finally:
            self._routes.conn = outer

    def _file_state(self) -> tuple:
        """What must be unchanged for the memo to stand: the connection, other connections' commits to the file
        (`data_version`) and this connection's own changes."""
        conn = self.conn
        return id(conn), conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def put(self, config: dict, checkpoint: dict, metadata: dict, new_versions: dict) -> dict:
        self._written = None
        saved = super().put(config, checkpoint, metadata, new_versions)
        payload = self.serde.last_payload(checkpoint)
        if payload is not None:
            conf = config["configurable"]
            # what SqliteSaver stored (and json.loads back when reading it)
            meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False).encode("utf-8", "ignore")
            with self.lock:
                file_state = self._file_state()
            self._written = _Written(str(conf["thread_id"]), conf["checkpoint_ns"], checkpoint["id"],
                                     conf.get("checkpoint_id"), payload, meta, file_state)
        return saved

    def put_writes(self, config: dict, writes: Any, task_id: str, task_path: str = "") -> None:
        self._written = None
        super().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._written = None
        super().delete_thread(thread_id)

    def get_tuple(self, config: dict) -> CheckpointTuple | None:
        w = self._written
        conf = config["configurable"]
        if (w is not None and not get_checkpoint_id(config) and str(conf["thread_id"]) == w.thread_id
                and conf.get("checkpoint_ns", "") == w.ns):
            with self.lock:
                now = self._file_state()
            if now == w.file_state and self._written is w:
                parent = None if not w.parent_id else {"configurable": {
                    "thread_id": w.thread_id, "checkpoint_ns": w.ns, "checkpoint_id": w.parent_id}}
                return CheckpointTuple(
                    {"configurable": {"thread_id": w.thread_id, "checkpoint_ns": w.ns, "checkpoint_id": w.checkpoint_id}},
                    self.serde.inner.loads_typed(w.payload), json.loads(w.metadata), parent, [])
            if now[0] == w.file_state[0]:  # a change seen on the memo's own connection: it is stale for good
                self._written = None  # (a read through the other connection just goes to the file)
        return super().get_tuple(config)
