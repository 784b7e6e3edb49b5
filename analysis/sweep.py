"""`trading-floor sweep`: run a grid of configs and seeds in parallel processes and tabulate trader metrics.

A grid is a dict of dotted config keys to value lists (e.g. {"market.noise.count": [300, 1000],
"fee_bps": [0, 5]}); every combination runs with every seed. Each point is a fresh run in its own SQLite
file in a temporary directory, inside a worker process (`concurrent.futures.ProcessPoolExecutor`, 2
workers by default for 2-core CI machines): runs share nothing, so the results do not depend on the
number of workers or on timing, and the rows come back in grid order.
"""
from __future__ import annotations

import itertools
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

METRIC_KEYS = ("return", "total_pnl", "sharpe", "sortino", "max_drawdown", "turnover", "hit_rate",
               "avg_holding_cycles", "fills", "fees", "shortfall_bps")


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """['market.noise.count=300,1000', 'fee_bps=0,5'] -> {key: [values]}."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"grid entries look like key=v1,v2 (got {item!r})")
        grid[key.strip()] = [parse_value(v) for v in values.split(",")]
    return grid


def apply_overrides(config, overrides: dict[str, Any]):
    """A copy of a FloorConfig with dotted keys set (validated again: unknown keys are refused)."""
    data = config.model_dump(mode="json")
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ValueError(f"{dotted}: {p!r} is not a config section")
            node = node[p]
        node[leaf] = value
    return type(config).model_validate(data)


def points(grid: dict[str, list[Any]], seeds: list[int]) -> list[tuple[dict[str, Any], int]]:
    keys = list(grid)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))] or [{}]
    return [(combo, seed) for combo in combos for seed in seeds]


def run_point(args) -> list[dict]:
    """One run of the grid: a fresh floor in a temporary file, `cycles` cycles, metrics per trader."""
    config_json, overrides, seed, cycles = args
    from analysis.trader_metrics import all_trader_metrics
    from floor.config import FloorConfig
    from floor.session import FloorSession

    cfg = apply_overrides(FloorConfig.model_validate_json(config_json), overrides)
    with tempfile.TemporaryDirectory() as tmp:
        session = FloorSession(Path(tmp) / "sweep.db", cfg)
        try:
            session.start(seed=seed)
            session.run(cycles)
            rows = all_trader_metrics(session.floor.ledger, [i.symbol for i in session.floor.instruments])
        finally:
            session.close()
    label = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "base"
    return [{"params": label, "seed": seed, "trader": r["account"], **{k: r[k] for k in METRIC_KEYS}} for r in rows]


def run_sweep(config, grid: dict[str, list[Any]], seeds: list[int], cycles: int, *, workers: int = 2,
              on_done: Callable[[int], None] | None = None) -> list[dict]:
    for combo, _ in points(grid, seeds[:1]):  # refuse a bad key before starting any process
        apply_overrides(config, combo)
    cfg_json = config.model_dump_json()
    jobs = [(cfg_json, combo, seed, cycles) for combo, seed in points(grid, seeds)]
    rows: list[dict] = []
    if workers <= 1 or len(jobs) == 1:
        for k, job in enumerate(jobs):
            rows += run_point(job)
            if on_done:
                on_done(k)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for k, out in enumerate(pool.map(run_point, jobs)):  # map keeps grid order
                rows += out
                if on_done:
                    on_done(k)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean of each metric over seeds, per (params, trader); sorted by params then mean return."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["params"], r["trader"])].append(r)
    out = []
    for (params, trader), rs in groups.items():
        row = {"params": params, "trader": trader, "runs": len(rs)}
        for k in METRIC_KEYS:
            vals = [float(r[k]) for r in rs if r[k] is not None and math.isfinite(float(r[k]))]
            row[k] = sum(vals) / len(vals) if vals else math.nan
        out.append(row)
    out.sort(key=lambda r: (r["params"], -r["return"] if math.isfinite(r["return"]) else 0.0, r["trader"]))
    return out
