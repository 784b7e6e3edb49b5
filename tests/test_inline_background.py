"""A rule floor's cycles write LangGraph's checkpoint in the invoking thread (graphs/inline_background.py),
and each cycle's checkpoint is still complete and readable when the cycle returns."""
from __future__ import annotations

import contextvars
import threading

import pytest

from floor.config import load_config
from floor.session import FloorSession
from graphs.inline_background import InlineExecutor, inline_background


@pytest.fixture
def counted_threads(monkeypatch):
    started: list[str] = []
    start = threading.Thread.start

    def counting(self):
        started.append(self.name)
        return start(self)

    monkeypatch.setattr(threading.Thread, "start", counting)
    return started


def test_rule_cycles_start_no_thread_each_and_leave_a_readable_checkpoint(tmp_path, counted_threads):
    db = tmp_path / "run.db"
    session = FloorSession(db, load_config(seed=5))
    session.start()
    session.run(2)  # the lease's heartbeat is up
    counted_threads.clear()
    for cycle in range(3, 9):
        session.run(1)
        reader = FloorSession(db, readonly=True)  # another connection: what a crash right now would leave
        try:
            assert reader.state()["cycle"] == cycle
        finally:
            reader.close()
    assert counted_threads == []  # LangGraph would have started one pool thread per cycle
    session.close()


def test_the_same_cycles_with_langgraphs_own_pools(tmp_path):
    """Writing inline changes where the write runs, not what is written."""
    import graphs.inline_background as inline

    def run(path, reuse: bool):
        session = FloorSession(path, load_config(seed=9))
        session.start()
        if not reuse:
            original, inline._installed[:] = list(inline._installed), [False]
        try:
            reports = [(r.cycle, r.summary) for r in session.run(5)]
        finally:
            if not reuse:
                inline._installed[:] = original
        state = session.state()
        session.close()
        return reports, {k: v for k, v in state.items() if k != "summary"}

    assert run(tmp_path / "a.db", True) == run(tmp_path / "b.db", False)


def test_only_the_entering_thread_runs_langgraphs_background_work_inline():
    from langgraph.pregel import _executor

    with inline_background() as active:
        assert active
        with _executor.get_executor_for_config({}) as mine:
            assert isinstance(mine, InlineExecutor)
            assert mine.submit(threading.get_ident).result() == threading.get_ident()
            failed = mine.submit(lambda: 1 / 0)
            assert isinstance(failed.exception(), ZeroDivisionError)  # delivered as a pool delivers it
        seen = []

        def in_worker():  # LangGraph copies the context into its workers: a loop started there
            with _executor.get_executor_for_config({}) as theirs:
                seen.append(theirs)

        t = threading.Thread(target=contextvars.copy_context().run, args=(in_worker,))
        t.start()
        t.join()
        assert seen and not isinstance(seen[0], InlineExecutor)
    with _executor.get_executor_for_config({}) as after:
        assert not isinstance(after, InlineExecutor)
