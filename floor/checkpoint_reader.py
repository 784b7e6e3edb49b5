"""Read a thread's checkpoints from the run database without LangGraph.

`status`, `history`, `export` and the other readers only need the values of a thread's newest checkpoint
(or of all of them, newest first) and whether each one ends a cycle (`next` is empty). Compiling the cycle
graph for that would import langgraph, langchain_core and langsmith, about a second of start-up. This
module reads what LangGraph's `SqliteSaver` wrote, in its own schema:

    checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
    writes(thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value)

and decodes the blobs in the format of LangGraph's `JsonPlusSerializer` (type "msgpack": ormsgpack with
non-string keys; "null", "bytes" and "bytearray" as they are). Our state holds plain data only: ints,
floats, booleans, None, strings, lists and dicts; msgpack decodes those by itself. Of the serializer's
extension types only two can appear in our checkpoints, and only LangGraph's own ones: a pending `Send`
(in the tasks channel, mid-cycle) and an `Interrupt` (in the writes of the approval step). Anything else
(a pydantic model, a set, a datetime, a numpy array, a delta-channel snapshot, a pickle, a checkpoint of
another format version) is refused with `UnsupportedCheckpoint` naming what was found, never guessed at;
`FloorSession` then falls back to LangGraph itself, which reads everything.

The snapshot mirrors `CompiledStateGraph.get_state` / `get_state_history` (langgraph 1.x,
`Pregel._prepare_state_snapshot`) for the cycle graph:
- `values`: the state keys (`CycleState`) present among the checkpoint's channel values, and a reducer's
  key (`decisions`) as an empty list when it holds none (LangGraph's aggregate channels start empty);
- `next`: one name per pending `Send` (push tasks first), then every node, in the graph's order, whose
  trigger channel `branch:to:<node>` holds a value at a newer version than the node has seen;
- the newest checkpoint is read "live" (as `get_state` without a checkpoint id does): writes of tasks that
  already finished would be folded into its values. Our graph never leaves such writes behind except after a
  failed cycle; they, and input writes, are refused (LangGraph reads those checkpoints instead);
- the interrupts recorded for the pending tasks (the approval request), by task.
`tests/test_checkpoint_reader.py` compares it with LangGraph on real runs (rollback, fork, approval).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from floor.checkpoint_serde import unwrap

# The cycle graph's nodes in the order LangGraph lists them (START's node, then graphs/cycle_graph.py's
# `add_node` order): `next` lists triggered nodes in this order. A test checks it against the graph.
NODE_ORDER = ("__start__", "discussion", "decide", "risk", "settle")
# The state's keys in the order `get_state` returns them: graphs/state.py CycleState, then decide's input
# (DecideInput) key that is not a CycleState key; it rides in the Sends, never in the state itself.
STATE_KEYS = ("run_id", "branch_id", "cycle", "traders", "approval", "quotes", "topic", "sentiment", "messages",
              "decisions", "orders", "cancels", "rejections", "summary", "trader")
# Keys with a reducer (LangGraph's BinaryOperatorAggregate channel) read as their type's empty value when a
# checkpoint holds none: graphs/state.py `decisions` (a test checks this against the compiled graph).
REDUCER_DEFAULTS = {"decisions": list}
CHECKPOINT_VERSION = 4  # the checkpoint format this reader knows (LangGraph migrates older ones itself)

_TASKS = "__pregel_tasks"
_INTERRUPT = "__interrupt__"
_NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
# writes that say what happened to a task rather than what it produced (langgraph.pregel._task_status)
_CONTROL_WRITES = frozenset(("__error__", "__error_source_node__", _INTERRUPT, "__resume__"))
_PULL_PATH = "~__pregel_pull, "  # task_path of a node's task, as SqliteSaver stores it
# JsonPlusSerializer's msgpack extension codes, and the only constructors we accept under them
_EXT_POS_ARGS, _EXT_KW_ARGS = 1, 2
_SEND, _INTERRUPT_TYPE = ("langgraph.types", "Send"), ("langgraph.types", "Interrupt")


class CheckpointReadError(RuntimeError):
    """The checkpoints cannot be read as the cycle graph's; the sentence says why."""


class UnsupportedCheckpoint(CheckpointReadError):
    """A checkpoint holds something this reader does not decode (LangGraph itself can read it)."""


@dataclass(frozen=True)
class Interrupt:
    """An interrupt raised by a task (LangGraph's `Interrupt`: the request and its id)."""
    value: Any
    id: str


@dataclass(frozen=True)
class PendingSend:
    """A `Send` waiting in the tasks channel: a push task of `node` with argument `arg`."""
    node: str
    arg: Any


@dataclass(frozen=True)
class Task:
    """A task of the next step: its node and the interrupts it raised."""
    name: str
    interrupts: tuple[Interrupt, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The parts of LangGraph's `StateSnapshot` our readers use, with the same names."""
    values: dict
    next: tuple[str, ...]
    config: dict
    metadata: dict | None = None
    created_at: str | None = None
    parent_config: dict | None = None
    tasks: tuple[Task, ...] = ()
    interrupts: tuple[Interrupt, ...] = ()


def decode(type_: str | None, blob: bytes | None, *, what: str = "a checkpoint") -> Any:
    """A value serialized by LangGraph's JsonPlusSerializer (`dumps_typed`), compressed or not
    (floor/checkpoint_serde.py), or UnsupportedCheckpoint."""
    type_, blob = unwrap(type_, blob)
    if type_ == "null":
        return None
    if type_ == "bytes":
        return blob
    if type_ == "bytearray":
        return bytearray(blob)
    if type_ != "msgpack":
        raise UnsupportedCheckpoint(f"{what} is stored as {type_!r}, not msgpack: not read without LangGraph")
    import ormsgpack

    refused: list[str] = []

    def ext(code: int, data: bytes) -> Any:
        if code in (_EXT_POS_ARGS, _EXT_KW_ARGS):
            try:
                module, name, args = ormsgpack.unpackb(data, ext_hook=ext, option=ormsgpack.OPT_NON_STR_KEYS)[:3]
            except (ValueError, TypeError):
                module = name = args = None
            if (module, name) == _SEND and code == _EXT_POS_ARGS and isinstance(args, list) and len(args) >= 2:
                return PendingSend(args[0], args[1])
            if (module, name) == _INTERRUPT_TYPE and code == _EXT_KW_ARGS and isinstance(args, dict):
                return Interrupt(args.get("value"), args.get("id"))
        if not refused:
            refused.append(_describe(ormsgpack, code, data))
        raise ValueError(refused[0])

    try:
        return ormsgpack.unpackb(blob, ext_hook=ext, option=ormsgpack.OPT_NON_STR_KEYS)
    except (ValueError, TypeError) as exc:  # ormsgpack.MsgpackDecodeError is a ValueError
        why = refused[0] if refused else f"undecodable msgpack ({exc})"
        raise UnsupportedCheckpoint(f"{what} holds {why}: the cycle graph's state is plain data only") from None


def _describe(ormsgpack, code: int, data: bytes) -> str:
    """What a msgpack extension holds, for the refusal: the serializer writes [module, name, ...]."""
    try:
        head = ormsgpack.unpackb(data, ext_hook=lambda _c, _d: None, option=ormsgpack.OPT_NON_STR_KEYS)
    except (ValueError, TypeError):
        head = None
    if isinstance(head, list) and len(head) >= 2 and isinstance(head[0], str) and isinstance(head[1], str):
        return f"an object of type {head[0]}.{head[1]} (msgpack extension {code}, not plain data)"
    return f"a msgpack extension of code {code} (not plain data)"


class CheckpointReader:
    """The checkpoints of one run database (a connection shared with a SqliteSaver, or one of its own).

    `lock`, when given, is held around each query (the saver's lock, so one connection is never used by
    two threads at once)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock | None = None) -> None:
        self.conn = conn
        self.lock = lock or threading.Lock()
        self._task_path: bool | None = None  # whether the writes table has its task_path column

    def get_state(self, config: dict) -> Snapshot:
        """As `graph.get_state(config)`: the thread's newest checkpoint (live), or the one named by
        `checkpoint_id` (as recorded)."""
        conf = config["configurable"]
        ns = conf.get("checkpoint_ns", "")
        sql = ("SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
               "FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?")
        params: list[Any] = [str(conf["thread_id"]), ns]
        if conf.get("checkpoint_id"):
            sql += " AND checkpoint_id = ?"
            params.append(conf["checkpoint_id"])
        else:
            sql += " ORDER BY checkpoint_id DESC LIMIT 1"
        with self.lock:
            row = self._one(sql, params)
            if row is None:
                return Snapshot(values={}, next=(), config=config)
            writes = self._writes(row[0], row[1], row[2])
        return self._snapshot(row, writes, live=not conf.get("checkpoint_id"))

    def get_state_history(self, config: dict) -> Iterator[Snapshot]:
        """As `graph.get_state_history(config)`: every checkpoint of the thread, newest first."""
        conf = config["configurable"]
        with self.lock:
            rows = self._all(
                "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
                "FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC",
                (str(conf["thread_id"]), conf.get("checkpoint_ns", "")))
            writes = [self._writes(r[0], r[1], r[2]) for r in rows]
        for row, w in zip(rows, writes, strict=True):
            yield self._snapshot(row, w, live=False)

    # ----- reading ------------------------------------------------------------------------------
    def _all(self, sql: str, params) -> list[tuple]:
        if not isinstance(self.conn, sqlite3.Connection):  # PostgresSaver's layout (blobs apart): LangGraph reads it
            raise UnsupportedCheckpoint("checkpoints on PostgreSQL are read through LangGraph's PostgresSaver")
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # LangGraph's saver creates its tables on first use: no checkpoint yet
            raise

    def _one(self, sql: str, params) -> tuple | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _writes(self, thread_id: str, ns: str, checkpoint_id: str) -> list[tuple]:
        """Pending writes (task_id, task_path, channel, type, value) in SqliteSaver's order."""
        if self._task_path is None:  # a table written before LangGraph stored task paths has no such column
            columns = {r[1] for r in self._all("PRAGMA table_info(writes)", ())}
            self._task_path = not columns or "task_path" in columns
        path = "task_path" if self._task_path else "''"
        rows = self._all(f"SELECT task_id, {path}, idx, channel, type, value FROM writes "
                         "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?", (thread_id, ns, checkpoint_id))
        rows.sort(key=lambda r: (r[1], r[0], r[2]))  # langgraph.checkpoint.sqlite.utils.writes_sort_key
        return [(task_id, path, channel, type_, value) for task_id, path, _, channel, type_, value in rows]

    # ----- the snapshot -------------------------------------------------------------------------
    def _snapshot(self, row: tuple, writes: list[tuple], *, live: bool) -> Snapshot:
        thread_id, ns, checkpoint_id, parent_id, type_, blob, metadata_blob = row
        what = f"checkpoint {checkpoint_id} of thread {thread_id}"
        checkpoint = decode(type_, blob, what=what)
        if not isinstance(checkpoint, dict) or checkpoint.get("v") != CHECKPOINT_VERSION:
            version = checkpoint.get("v") if isinstance(checkpoint, dict) else type(checkpoint).__name__
            raise UnsupportedCheckpoint(f"{what} has format version {version!r}; this reader knows "
                                        f"version {CHECKPOINT_VERSION}")
        try:
            metadata = json.loads(metadata_blob) if metadata_blob is not None else {}
        except ValueError as exc:  # SqliteSaver writes the metadata as JSON
            raise UnsupportedCheckpoint(f"{what} has metadata that is not JSON ({exc})") from None
        channels: dict = checkpoint.get("channel_values") or {}
        for task_id, path, channel, _, _ in writes:
            if task_id == _NULL_TASK_ID and channel not in _CONTROL_WRITES:
                raise UnsupportedCheckpoint(f"{what} has input writes pending (to {channel!r})")
            if live and task_id != _NULL_TASK_ID and channel not in _CONTROL_WRITES:
                raise UnsupportedCheckpoint(f"{what} holds the writes of a finished task ({path}, {channel!r}): "
                                            "a cycle stopped halfway")
            if live and channel == "__resume__":
                raise UnsupportedCheckpoint(f"{what} has an answer to an interrupt pending ({path})")
        pending = _next_tasks(checkpoint, channels)
        interrupts = _interrupts(writes, what)
        unknown = set(interrupts) - {name for name, pull in pending if pull}
        if unknown:
            raise UnsupportedCheckpoint(f"{what} has interrupts of tasks that are not pending: {sorted(unknown)}")
        tasks = tuple(Task(name, tuple(interrupts.get(name, ())) if pull else ()) for name, pull in pending)
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}
        parent = ({"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}}
                  if parent_id else None)
        if metadata.get("parents"):
            raise UnsupportedCheckpoint(f"{what} belongs to a subgraph (parents {metadata['parents']})")
        values = {k: channels[k] if k in channels else REDUCER_DEFAULTS[k]()
                  for k in STATE_KEYS if k in channels or k in REDUCER_DEFAULTS}
        if not _plain(values):
            raise UnsupportedCheckpoint(f"{what} holds a Send or an Interrupt among its state values")
        return Snapshot(
            values=values,
            next=tuple(t.name for t in tasks), config=config, metadata=metadata, created_at=checkpoint.get("ts"),
            parent_config=parent, tasks=tasks, interrupts=tuple(i for t in tasks for i in t.interrupts))


def _plain(value: Any) -> bool:
    """True when `value` holds only msgpack's own types (no Send or Interrupt decoded into it)."""
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return not isinstance(value, PendingSend | Interrupt)


def _next_tasks(checkpoint: dict, channels: dict) -> list[tuple[str, bool]]:
    """The next step's tasks, (node, whether it is a node's own task rather than a Send's): pending Sends
    first, then the triggered nodes in graph order."""
    out = []
    for send in channels.get(_TASKS) or ():
        if not isinstance(send, PendingSend):
            raise UnsupportedCheckpoint(f"the tasks channel holds {type(send).__name__}, not a Send")
        if send.node in NODE_ORDER:
            out.append((send.node, False))
    versions = checkpoint.get("channel_versions") or {}
    if not versions:
        return out
    null = type(next(iter(versions.values())))()
    seen_all = checkpoint.get("versions_seen") or {}
    for node in NODE_ORDER:
        trigger = "__start__" if node == "__start__" else f"branch:to:{node}"
        if trigger not in channels:  # a trigger channel is available only when it holds a value
            continue
        seen = seen_all.get(node)
        if seen is None or versions.get(trigger, null) > seen.get(trigger, null):
            out.append((node, True))
    return out


def _interrupts(writes: list[tuple], what: str) -> dict[str, list[Interrupt]]:
    """The interrupts among the pending writes, by the node whose task raised them."""
    out: dict[str, list[Interrupt]] = {}
    for task_id, path, channel, type_, blob in writes:
        if channel != _INTERRUPT or task_id == _NULL_TASK_ID:
            continue
        if not (path or "").startswith(_PULL_PATH):
            raise UnsupportedCheckpoint(f"{what} has an interrupt of a task at {path!r}, not a node's task")
        value = decode(type_, blob, what=f"an interrupt of {what}")
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(i, Interrupt) for i in items):
            raise UnsupportedCheckpoint(f"{what} has an interrupt write that holds no Interrupt")
        out.setdefault(path[len(_PULL_PATH):], []).extend(items)
    return out
