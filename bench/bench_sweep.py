"""A sweep of 32 points x 60 cycles on each engine, in the same run: local and Ray, 1 and 2 workers.

The points are the default floor (floor.yaml) at fee_bps 0, 5, 10 and 25 with seeds 1..8. Four runs:
- local, 1 worker: every point in this process, one after the other: the baseline (no engine at all);
- ray, 1 worker: a local Ray with one CPU, so its tasks run one at a time: the same work plus Ray's cost;
- local, 2 workers: two processes (ProcessPoolExecutor);
- ray, 2 workers: a local Ray with two CPUs.
Ray is started (and its start timed) before its run is timed; its workers' first imports (the floor,
LangGraph) are inside the timed run, as a user pays them once per sweep.

Figures: the wall time of each run; Ray's overhead per task = (wall of ray 1 worker - the time spent
inside its 32 tasks) / 32, as a share of a point's time inside a task (target under 5 %: the verdict);
beside it, (ray 1 worker - local 1 worker) / 32, which also holds the workers' first imports and any
change of the machine's load between the two runs; scaling = 1-worker wall / 2-worker wall for each
engine (target 1.7x for Ray). The four runs must give identical rows. The runs follow each other, so a
busy machine (other processes on the 2 cores) moves the scaling figure: the load average is printed, and
for the 2-worker runs how many points ran at once on average and how much longer a point took than alone
(what the machine's other load costs, not the engine).
"""
from __future__ import annotations

import os
import time

from analysis import sweep_dataset as ds
from analysis.sweep import run_point, sweep
from floor.config import load_config

GRID = {"fee_bps": [0, 5, 10, 25]}
SEEDS = list(range(1, 9))
CYCLES = 60
TARGET_OVERHEAD = 0.05
TARGET_SCALING = 1.7


def _timed(config, engine: str, workers: int) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    out = sweep(config, GRID, SEEDS, CYCLES, engine=engine, workers=workers, retries=0)
    wall = time.perf_counter() - start
    assert not out.failed, out.failed[0]["error"]
    return wall, out.records


def _ray_run(config, workers: int) -> tuple[float, float, list[dict]]:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, as the engine does
    import ray

    start = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    boot = time.perf_counter() - start
    try:
        wall, records = _timed(config, "ray", workers)
    finally:
        ray.shutdown()
    return boot, wall, records


def main() -> bool:
    config = load_config()
    n = len(GRID["fee_bps"]) * len(SEEDS)
    run_point(config.model_dump_json(), ({}, 1, 2, None))  # warm up this process: imports, first run
    print(f"{n} points x {CYCLES} cycles, default floor; load average before: {os.getloadavg()[0]:.2f}")
    walls, rows = {}, {}
    walls["local 1"], rows["local 1"] = _timed(config, "local", 1)
    boot1, walls["ray 1"], rows["ray 1"] = _ray_run(config, 1)
    walls["local 2"], rows["local 2"] = _timed(config, "local", 2)
    boot2, walls["ray 2"], rows["ray 2"] = _ray_run(config, 2)
    point = walls["local 1"] / n
    for name, wall in walls.items():
        print(f"  {name:8s} worker(s): {wall:7.1f} s  ({wall / n:.2f} s a point, {walls['local 1'] / wall:.2f}x "
              "the baseline)")
    print(f"  Ray start: {boot1:.1f} s (1 CPU), {boot2:.1f} s (2 CPUs), not in the walls above")
    inside = sum(r["seconds"] for r in rows["ray 1"])
    dispatch = (walls["ray 1"] - inside) / n  # Ray's own cost: scheduling, arguments, results, per task
    versus = (walls["ray 1"] - walls["local 1"]) / n
    print(f"  Ray overhead per task (wall minus the time inside the tasks, 1 worker): {1000 * dispatch:.0f} ms = "
          f"{100 * dispatch / (inside / n):.1f} % of a {inside / n:.2f} s point (target < {100 * TARGET_OVERHEAD:.0f} %)")
    print(f"  ray 1 worker against local 1 worker, per point: {1000 * versus:+.0f} ms ({100 * versus / point:+.1f} %; "
          "includes the workers' first imports and any change of the machine's load between the two runs)")
    scale_ray = walls["ray 1"] / walls["ray 2"]
    scale_local = walls["local 1"] / walls["local 2"]
    print(f"  scaling 1 -> 2 workers: ray {scale_ray:.2f}x (target >= {TARGET_SCALING}x), local {scale_local:.2f}x; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    for name in ("local 2", "ray 2"):
        busy = sum(r["seconds"] for r in rows[name])
        print(f"  {name} workers: {busy / walls[name]:.2f} points running on average (time inside the points / wall), "
              f"{busy / n:.2f} s inside a point against {point:.2f} s alone")
    same = len({repr([{k: v for k, v in r.items() if k not in ds.HOW_MADE} for r in rs]) for rs in rows.values()}) == 1
    print(f"  identical rows on all four runs: {same}")
    return same and dispatch / (inside / n) < TARGET_OVERHEAD and scale_ray >= TARGET_SCALING


if __name__ == "__main__":
    main()
