"""The two sweep engines on their own (analysis/sweep_engines.py), with small task functions that misbehave:
a worker that kills itself (os._exit), an exception once, an exception every time. Local runs real
process pools; Ray runs a real local Ray (tests/sweep_ray.py). No mocks."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sweep_tasks
from sweep_ray import local_ray  # noqa: F401 - the fixture

from analysis.sweep_engines import run_tasks


@pytest.mark.parametrize("workers", [1, 2])
def test_local_outcomes_come_back_in_item_order_and_stream_as_they_finish(workers):
    seen = []
    outs = run_tasks(sweep_tasks.square, None, list(range(7)), workers=workers, on_result=lambda o: seen.append(o.index))
    assert [o.value for o in outs] == [k * k for k in range(7)]
    assert sorted(seen) == list(range(7)) and all(o.ok and o.worker for o in outs)


def test_local_pool_retries_a_worker_that_killed_itself(tmp_path):
    outs = run_tasks(sweep_tasks.crash_once, str(tmp_path), [1, 2, 3], workers=2, retries=2)
    assert [o.value for o in outs] == [10, 20, 30]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashed-1", "crashed-2", "crashed-3"]


def test_local_records_a_point_that_always_fails_after_its_retries(tmp_path):
    outs = run_tasks(sweep_tasks.always_fails, str(tmp_path), [1, 2], workers=2, retries=2)
    assert [o.ok for o in outs] == [False, False]
    assert outs[0].error == "ValueError: point 1 is broken"
    assert (tmp_path / "attempts-1").read_text() == "..."  # 1 + 2 retries
    inline = run_tasks(sweep_tasks.raise_once, str(tmp_path), [5], workers=1, retries=1)
    assert inline[0].value == 105


def _interrupt_after_the_first(tmp_path, engine: str) -> list[int]:
    """Run slow tasks, press "Ctrl-C" (KeyboardInterrupt) when the first finishes; the pids that had started."""
    def stop(_outcome):
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("started-*")) and time.monotonic() < deadline:
            time.sleep(0.05)  # let a slow task start, so there is something running to cancel
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_tasks(sweep_tasks.slow_but_the_first, str(tmp_path), [0, 1, 2, 3], engine=engine, workers=2,
                  on_result=stop)
    assert time.monotonic() - start < 60  # the slow tasks sleep 120 s: nobody waited for them
    return [int(p.name.rsplit("-", 1)[1]) for p in tmp_path.glob("started-*")]


def _gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True  # a zombie: dead, waiting for its parent to reap it
        time.sleep(0.1)
    return False


def test_ctrl_c_on_the_local_engine_kills_the_running_workers(tmp_path):
    pids = _interrupt_after_the_first(tmp_path, "local")
    assert pids and all(_gone(p) for p in pids)


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of"):
        run_tasks(sweep_tasks.square, None, [1], engine="dask")


@pytest.mark.usefixtures("local_ray")
class TestRay:
    def test_each_item_is_a_ray_task_and_outcomes_keep_item_order(self):
        outs = run_tasks(sweep_tasks.square, None, list(range(6)), engine="ray")
        assert [o.value for o in outs] == [k * k for k in range(6)]
        import os

        assert all(int(o.worker.rsplit(":", 1)[1]) != os.getpid() for o in outs)  # ran in Ray workers

    def test_a_task_that_kills_its_worker_once_succeeds_on_retry(self, tmp_path):
        outs = run_tasks(sweep_tasks.crash_once, str(tmp_path), [1, 2], engine="ray", retries=2)
        assert [o.value for o in outs] == [10, 20] and all(o.ok for o in outs)
        assert (tmp_path / "crashed-1").exists() and (tmp_path / "crashed-2").exists()

    def test_a_task_that_kills_its_worker_with_no_retries_left_is_recorded_as_failed(self, tmp_path):
        outs = run_tasks(sweep_tasks.crash_once, str(tmp_path), [7], engine="ray", retries=0)
        assert not outs[0].ok
        print(outs[0].error)
        assert outs[0].error.startswith("WorkerCrashedError") and "died" in outs[0].error

    def test_exceptions_are_retried_then_recorded_with_the_original_error(self, tmp_path):
        outs = run_tasks(sweep_tasks.raise_once, str(tmp_path), [1], engine="ray", retries=1)
        assert outs[0].value == 101
        outs = run_tasks(sweep_tasks.always_fails, str(tmp_path), [4], engine="ray", retries=2)
        assert outs[0].error == "ValueError: point 4 is broken"
        assert (tmp_path / "attempts-4").read_text() == "..."

    def test_ctrl_c_cancels_the_running_ray_tasks(self, tmp_path):
        pids = _interrupt_after_the_first(tmp_path, "ray")
        assert pids and all(_gone(p) for p in pids)  # force-cancelled: their worker processes are ended
