"""An on-disk cache of LLM answers: with `use_cache: true` a rerun is exact and makes no request.

Key: SHA-256 of a canonical JSON of (model parameters, messages, tool schemas). Messages are reduced to
what the model sees (role, content, tool calls with their ids and arguments, tool-call id), so message
ids that change from run to run do not spoil the key, while any change of prompt, tool result, tool
list, model, endpoint, temperature or max_tokens does. Tool-call ids are part of the cached answers, so
a rerun replays the same ids and the keys of later steps match too.

Why our own wrapper rather than langchain-core's `BaseCache` (`set_llm_cache` or the model's `cache=`):
the tool loop needs to know whether an answer was a hit (to report it, and to charge the budget with
the recorded usage so that a rerun exhausts it at the same point), and the key should not depend on
LangChain's serialisation of the model object. Storage is one table; the connection is shared behind a
lock because traders decide in parallel threads. Where it lives: a SQLite file beside a SQLite run
database (`floor.llm-cache.db`), and on PostgreSQL the run database itself (table `llm_answers` in the
run's `?schema=`, so every process of a shared floor reuses the same answers, and `copy`/`reset` of the
schema take it along).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, message_to_dict, messages_from_dict
from langchain_core.utils.function_calling import convert_to_openai_tool


def _canonical_message(msg: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": msg.type, "content": msg.content}
    tool_calls = getattr(msg, "tool_calls", None)
    if tool_calls:
        out["tool_calls"] = [{"name": c["name"], "args": c["args"], "id": c.get("id")} for c in tool_calls]
    tool_call_id = getattr(msg, "tool_call_id", None)
    if tool_call_id:
        out["tool_call_id"] = tool_call_id
    return out


def _canonical_tool(tool: Any) -> Any:
    try:
        return convert_to_openai_tool(tool)
    except Exception:  # an unusual tool object: its name still distinguishes it
        return {"name": getattr(tool, "name", repr(tool))}


def cache_key(params: Mapping[str, Any], messages: Sequence[BaseMessage], tools: Sequence[Any]) -> str:
    payload = {
        "params": dict(params),
        "messages": [_canonical_message(m) for m in messages],
        "tools": [_canonical_tool(t) for t in tools],
    }
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LLMCache:
    """The answer store: a SQLite file, `":memory:"` (a per-process cache, tests), or a `postgresql://` URL
    (the run database's own schema)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        if self.path.startswith(("postgresql://", "postgres://")):
            from ledger.pg_connection import connect

            self._conn = connect(self.path)  # autocommit; `?` placeholders as on SQLite
            self._put = self._conn.dialect.insert_or_replace("llm_answers", "key, message", "key")
        else:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._put = "INSERT OR REPLACE INTO llm_answers (key, message) VALUES (?, ?)"
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS llm_answers (key TEXT PRIMARY KEY, message TEXT NOT NULL)"
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> AIMessage | None:
        with self._lock:
            row = self._conn.execute("SELECT message FROM llm_answers WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        (msg,) = messages_from_dict([json.loads(row[0])])
        return msg if isinstance(msg, AIMessage) else AIMessage(content=msg.content)

    def put(self, key: str, message: AIMessage) -> None:
        text = json.dumps(message_to_dict(message), sort_keys=True, default=str)
        with self._lock:
            self._conn.execute(self._put, (key, text))

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM llm_answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
