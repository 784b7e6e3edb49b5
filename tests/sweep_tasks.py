"""Task functions for the sweep engine tests: each runs in a worker process (local pool or Ray task).

They are plain module functions, so a worker imports them by name (the Ray fixture ships this module by
value). Markers on disk make "fail only the first time" visible across processes and retries."""
from __future__ import annotations

import os
import time
from pathlib import Path


def square(_shared, item):
    return item * item


def crash_once(marker_dir: str, item):
    """Kills its own worker process (os._exit, like a kill -9 or an OOM kill) the first time per item."""
    marker = Path(marker_dir) / f"crashed-{item}"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return item * 10


def raise_once(marker_dir: str, item):
    marker = Path(marker_dir) / f"raised-{item}"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError(f"transient failure on {item}")
    return item + 100


def always_fails(marker_dir: str, item):
    """Counts its attempts in a file, then raises."""
    log = Path(marker_dir) / f"attempts-{item}"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(".")
    raise ValueError(f"point {item} is broken")


def slow_but_the_first(marker_dir: str, item):
    """Item 0 returns at once; any other marks that it started (with its pid), then sleeps long: a Ctrl-C
    must not wait for it."""
    if item == 0:
        return item
    (Path(marker_dir) / f"started-{item}-{os.getpid()}").write_text("1")
    time.sleep(120)
    return item


def point_failing_once_for_seed_2(config_json: str, job):
    """A real sweep point (analysis.sweep.run_point), except that seed 2 raises until a marker exists."""
    from analysis.sweep import run_point

    overrides, seed, cycles, keep_db = job
    if seed == 2 and not (Path(keep_db).parent / "seed-2-may-run").exists():
        raise RuntimeError("seed 2 is not ready")
    return run_point(config_json, (overrides, seed, cycles, None))
