"""LangGraph's background work of a rule cycle, run in the invoking thread instead of a new pool's thread.

LangGraph's sync loop hands its background work (for the floor, with durability "exit": the one
end-of-cycle checkpoint write) to a thread pool it creates for each `invoke` and shuts down when the
invocation ends: a thread started, woken and joined per cycle, about 0.3 ms of CPU, a sixth of an empty
graph's cycle (`bench langgraph_share` prints both), and on a loaded machine the wait for that thread to
be scheduled. The loop waits for that write before `invoke` returns anyway, so nothing runs alongside it.
Within `inline_background()`, the invocations this thread makes use `InlineExecutor`, which runs each
submitted call at once and returns its finished future: the same write, done by the thread that waits
for it. LangGraph still collects every task's result and re-raises its error when the invocation ends,
and the checkpoint is on disk when `invoke` returns, as before (the kill -9 tests rely on it).

Only the thread that entered the block gets the inline executor: LangGraph copies the context into its
worker threads, and a loop started there keeps a pool of its own. The floor session uses it for rule
floors, whose decide step is one task; a floor with LLM traders keeps LangGraph's pool, which runs the
traders' model calls in parallel.

`langgraph.pregel._executor.get_executor_for_config` is where LangGraph asks for its pool (langgraph 1.x).
If a later version no longer looks there, the hook is not installed and every invocation keeps
LangGraph's own pool: slower, never wrong.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextvars import ContextVar
from typing import Any

_owner: ContextVar[int | None] = ContextVar("floor_inline_background", default=None)
_install_lock = threading.Lock()
_installed: list[bool] = []  # [True] once the hook is in place, [False] if this LangGraph has no such hook


class InlineExecutor(Executor):
    """An executor that runs each call when it is submitted, in the submitting thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as a pool would
            future.set_exception(exc)
        return future


_INLINE = InlineExecutor()


def _install() -> bool:
    with _install_lock:
        if not _installed:
            try:
                from langgraph.pregel import _executor
            except ImportError:  # pragma: no cover - a LangGraph without the module
                _installed.append(False)
                return False
            original = getattr(_executor, "get_executor_for_config", None)
            if original is None or not hasattr(_executor, "BackgroundExecutor"):
                _installed.append(False)
                return False

            @contextlib.contextmanager
            def get_executor_for_config(config):  # noqa: ANN001 - LangGraph's signature
                if _owner.get() == threading.get_ident():
                    yield _INLINE
                    return
                with original(config) as executor:
                    yield executor

            _executor.get_executor_for_config = get_executor_for_config
            _installed.append(True)
        return _installed[0]


@contextlib.contextmanager
def inline_background() -> Iterator[bool]:
    """Within this block, LangGraph invocations made by this thread run their background work inline.
    Yields whether the hook is in place (False: LangGraph's own pools are used)."""
    if not _install():
        yield False
        return
    token = _owner.set(threading.get_ident())
    try:
        yield True
    finally:
        _owner.reset(token)
