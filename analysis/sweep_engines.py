"""Where the runs of a sweep, a realism check or a backtest execute: `local` processes or `ray` tasks.

`run_tasks(fn, shared, items, engine=...)` calls `fn(shared, item)` once per item and hands each outcome to
`on_result` as soon as it finishes (completion order, for streaming and progress), then returns all the
outcomes in item order (so what the caller computes from them never depends on timing or on the engine).
`shared` is sent once (Ray: one object in the object store; local: pickled with each item).

Engines:
- `local`: `workers` processes of a `ProcessPoolExecutor` (in-process when workers is 1). No Ray import.
- `ray`: each item is one Ray task (`num_cpus=1`). Ray itself retries a task whose worker died (kill -9,
  out-of-memory kill, `os._exit`) and, with `retry_exceptions`, one that raised, up to `retries` times;
  after that the outcome carries the error and the sweep goes on. `address=None`: the cluster in
  RAY_ADDRESS if set, else a new local instance with `workers` CPUs, on the loopback; `"auto"` (Ray's:
  RAY_ADDRESS, else the cluster `ray start` runs on this machine) or `"host:port"` joins an existing one.
  A Ray that the caller already initialised (a test fixture, a notebook) is used as is and left running.

The local engine retries the same way: an exception resubmits the item; a worker that died breaks the
pool, which is rebuilt, and every item that was in flight counts one attempt (the pool cannot say which
item killed it). Ctrl-C (KeyboardInterrupt) cancels what is queued or running (Ray: `ray.cancel(force=
True)`; local: the worker processes are killed) and is raised again to the caller; outcomes delivered
before it are already in the caller's hands.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ENGINES = ("local", "ray")


@dataclass
class TaskOutcome:
    index: int
    value: Any = None
    error: str | None = None  # the last attempt's error, when every attempt failed
    seconds: float = 0.0  # wall time of the successful attempt, inside the worker
    worker: str = ""  # host:pid that ran it

    @property
    def ok(self) -> bool:
        return self.error is None


def _timed_call(fn: Callable, shared: Any, item: Any) -> tuple[Any, float, str]:
    start = time.perf_counter()
    value = fn(shared, item)
    return value, time.perf_counter() - start, f"{socket.gethostname()}:{os.getpid()}"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 2000 else text[:2000] + " ..."


def run_tasks(fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any], *, engine: str = "local",
              workers: int = 2, retries: int = 2, address: str | None = None,
              on_result: Callable[[TaskOutcome], None] | None = None) -> list[TaskOutcome]:
    """Run fn(shared, item) for every item on `engine`; see the module docstring."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    outcomes: dict[int, TaskOutcome] = {}

    def deliver(out: TaskOutcome) -> None:
        outcomes[out.index] = out
        if on_result:
            on_result(out)

    if items:
        if engine == "ray":
            _run_ray(fn, shared, items, workers, retries, address, deliver)
        elif workers <= 1 or len(items) == 1:
            _run_inline(fn, shared, items, retries, deliver)
        else:
            _run_pool(fn, shared, items, workers, retries, deliver)
    return [outcomes[k] for k in range(len(items))]


def run_per_seed(fn: Callable[[Any, Any], Any], shared: Any, jobs: Sequence[tuple], *, what: str,
                 on_done: Callable[[int], None] | None = None, retries: int = 2, **engine: Any) -> list[Any]:
    """`run_tasks` over jobs whose first element is a seed: the values in job (seed) order, whatever the
    engine or the timing; `on_done(seed)` as each finishes. A seed that still fails after its retries raises
    RuntimeError naming it ("2 of 8 `what` failed after 2 retries; seed 5: ...")."""
    outcomes = run_tasks(fn, shared, jobs, retries=retries, **engine,
                         on_result=(lambda o: on_done(jobs[o.index][0])) if on_done else None)
    failed = [(jobs[o.index][0], o.error) for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} {what} failed after {retries} retries; seed "
                           f"{failed[0][0]}: {failed[0][1]}")
    return [o.value for o in outcomes]


# -- local ----------------------------------------------------------------------------------------------

def _run_inline(fn, shared, items, retries, deliver) -> None:
    for k, item in enumerate(items):
        for attempt in range(retries + 1):
            try:
                value, secs, who = _timed_call(fn, shared, item)
            except Exception as exc:  # noqa: BLE001 - recorded as the point's error after the last attempt
                if attempt == retries:
                    deliver(TaskOutcome(k, error=_error_text(exc)))
                continue
            deliver(TaskOutcome(k, value, None, secs, who))
            break


def _run_pool(fn, shared, items, workers, retries, deliver) -> None:
    attempts = [0] * len(items)
    todo = list(range(len(items)))  # not yet submitted, in item order
    pool = ProcessPoolExecutor(max_workers=workers)
    running: dict[Future, int] = {}
    try:
        while todo or running:
            while todo and len(running) < 2 * workers:  # a short queue: a broken pool loses little
                k = todo.pop(0)
                attempts[k] += 1
                running[pool.submit(_timed_call, fn, shared, items[k])] = k
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                k = running.pop(fut)
                try:
                    value, secs, who = fut.result()
                except BrokenProcessPool as exc:
                    broken = True
                    _retry_or_fail(k, exc, attempts, retries, todo, deliver)
                except Exception as exc:  # noqa: BLE001
                    _retry_or_fail(k, exc, attempts, retries, todo, deliver)
                else:
                    deliver(TaskOutcome(k, value, None, secs, who))
            if broken:  # every other item in flight died with the pool: one attempt each
                for fut, k in list(running.items()):
                    running.pop(fut)
                    _retry_or_fail(k, BrokenProcessPool("a worker process died"), attempts, retries, todo, deliver)
                pool.shutdown(wait=True, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers)
    except BaseException:
        _kill_pool(pool)
        raise
    pool.shutdown(wait=True)


def _retry_or_fail(k, exc, attempts, retries, todo, deliver) -> None:
    if attempts[k] > retries:
        deliver(TaskOutcome(k, error=_error_text(exc)))
    else:
        todo.insert(0, k)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued items and end the worker processes now (a Ctrl-C must not wait for running points)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # the executor keeps no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(timeout=5)


# -- ray ------------------------------------------------------------------------------------------------

@contextmanager
def ray_connection(address: str | None = None, workers: int = 2) -> Iterator[Any]:
    """`ray`, initialised for the duration: joins `address`, or starts a local instance with `workers` CPUs.
    A Ray already initialised in this process is used and left as it was."""
    local = not address and not os.environ.get("RAY_ADDRESS")
    if local and "ray" not in sys.modules:
        # a new single-machine instance: every Ray process on the loopback (read by Ray at import time;
        # Ray's own switch for its single-node mode, which a cluster member must not have)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray engine needs Ray: pip install -e '.[ray]'") from None
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": "WARNING"}
    if address:
        kwargs["address"] = address
    elif local:  # "local": a new instance even if `ray start` runs a cluster on this machine
        kwargs |= {"address": "local", "num_cpus": workers}
    ray.init(**kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


def _run_ray(fn, shared, items, workers, retries, address, deliver) -> None:
    with ray_connection(address, workers) as ray:
        from ray.exceptions import RayError

        task = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=True)(_timed_call)
        fn_ref, shared_ref = ray.put(fn), ray.put(shared)
        pending = {task.remote(fn_ref, shared_ref, item): k for k, item in enumerate(items)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=min(len(pending), 64), timeout=0.2)
                for ref in done:
                    k = pending.pop(ref)
                    try:
                        value, secs, who = ray.get(ref)
                    except RayError as exc:
                        deliver(TaskOutcome(k, error=_ray_error_text(exc)))
                    else:
                        deliver(TaskOutcome(k, value, None, secs, who))
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def _ray_error_text(exc: BaseException) -> str:
    """The original exception's line for a task that raised (not Ray's whole remote traceback); for a
    worker that died, Ray's own first line (e.g. WorkerCrashedError: The worker died unexpectedly ...)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return _error_text(cause)
    return _error_text(exc).splitlines()[0]
