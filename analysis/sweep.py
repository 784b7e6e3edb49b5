"""`trading-floor sweep`: run a grid of configs and seeds in parallel processes and tabulate trader metrics.

A grid is a dict of dotted config keys to value lists (e.g. {"market.noise.count": [300, 1000],
"fee_bps": [0, 5]}); every combination runs with every seed. Each point is a fresh run in its own SQLite
file in a temporary directory, inside a worker process (`concurrent.futures.ProcessPoolExecutor`, 2
workers by default for 2-core CI machines): runs share nothing, so the results do not depend on the
number of workers or on timing, and the rows come back in grid order.

`--engine ray` runs each point as a Ray task instead (analysis/sweep_engines.py: retries, Ctrl-C), and
`--out DIR` streams every finished point into a Parquet dataset that `--resume` continues
(analysis/sweep_dataset.py); `sweep-report` summarises such a dataset (analysis/sweep_report.py).
"""
from __future__ import annotations

import itertools
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
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


def engine_version() -> str:
    """This package's version and the matching engine in use (see market/book_engine.py)."""
    from importlib.metadata import PackageNotFoundError, version

    from market.book_engine import ENGINE

    try:
        pkg = version("trading-floor")
    except PackageNotFoundError:
        pkg = "unknown"
    return f"trading-floor {pkg}, book {ENGINE}"


def run_point(config_json: str, job: tuple) -> dict:
    """One point of the grid: a fresh floor, `cycles` cycles, metrics per trader.

    job = (overrides, seed, cycles, keep_db): the run database is `keep_db` when the user keeps them
    (replaced if an earlier attempt left one), else a temporary file removed afterwards."""
    overrides, seed, cycles, keep_db = job
    from analysis.trader_metrics import all_trader_metrics
    from floor.config import FloorConfig
    from floor.session import FloorSession

    cfg = apply_overrides(FloorConfig.model_validate_json(config_json), overrides)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(keep_db) if keep_db else Path(tmp) / "sweep.db"
        if keep_db:
            db.parent.mkdir(parents=True, exist_ok=True)
            for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                stale.unlink(missing_ok=True)
        session = FloorSession(db, cfg)
        try:
            session.start(seed=seed, name=f"sweep {label_of(overrides)} seed {seed}")
            session.run(cycles)
            rows = all_trader_metrics(session.floor.ledger, [i.symbol for i in session.floor.instruments])
        finally:
            session.close()
    traders = [{"trader": r["account"], **{k: r[k] for k in METRIC_KEYS}} for r in rows]
    return {"traders": traders, "engine_version": engine_version()}


def label_of(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "base"


class DatasetExists(ValueError):
    """--out names a dataset that already holds points, and --resume was not given."""


@dataclass
class SweepOutcome:
    records: list[dict]  # one dataset row per (point, seed) in grid order, resumed ones included
    skipped: int = 0  # points found done in the dataset and not run again

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "ok"]

    @property
    def rows(self) -> list[dict]:
        """Flat rows (params, seed, trader, metrics...) of the points that finished, for summarise()."""
        return flat_rows(self.records)


def flat_rows(records: list[dict]) -> list[dict]:
    return [{"params": r["label"], "seed": r["seed"], "trader": t["trader"], **{k: t[k] for k in METRIC_KEYS}}
            for r in records if r["status"] == "ok" for t in r["traders"]]


def sweep(config, grid: dict[str, list[Any]], seeds: list[int], cycles: int, *, engine: str = "local",
          workers: int = 2, address: str | None = None, retries: int = 2, out: str | Path | None = None,
          resume: bool = False, keep_dbs: str | Path | None = None,
          on_plan: Callable[[int, int], None] | None = None,
          on_result: Callable[[dict], None] | None = None, task: Callable = run_point) -> SweepOutcome:
    """Run every (grid point, seed) on `engine` (see sweep_engines.py); stream each finished one into the
    Parquet dataset `out` (see sweep_dataset.py). on_plan(to_run, skipped) is called before the first run,
    on_result(row) as each point finishes or finally fails."""
    from analysis import sweep_dataset as ds
    from analysis.sweep_engines import run_tasks

    seeds = list(dict.fromkeys(seeds))  # a seed given twice is one point, not two writers of one file
    cfg_json = config.model_dump_json()
    all_points = points(grid, seeds)
    configs = {}
    for combo, _ in points(grid, seeds[:1]):  # refuse a bad key or value before starting anything
        configs[ds.canonical(combo)] = apply_overrides(config, combo).model_dump_json()
    done: dict[str, dict] = {}
    if out is not None:
        existing = ds.read_rows(out)
        if existing and not resume:
            raise DatasetExists(f"{out} already holds {len(existing)} points: --resume skips them and runs the "
                                "rest, or choose another --out")
        ds.check_same_sweep(existing, ds.base_hash(cfg_json, grid), cycles, out)
        done = {r["point"]: r for r in existing if r["status"] == "ok"}
    keys = [ds.point_key(combo, seed) for combo, seed in all_points]
    todo = [k for k, key in enumerate(keys) if key not in done]
    if on_plan:
        on_plan(len(todo), len(all_points) - len(todo))
    jobs = [(combo, seed, cycles, str(Path(keep_dbs) / f"point-{keys[k]}.db") if keep_dbs else None)
            for k, (combo, seed) in ((k, all_points[k]) for k in todo)]
    records: dict[str, dict] = dict(done)

    def record(outcome) -> None:
        combo, seed = all_points[todo[outcome.index]]
        value = outcome.value or {}
        row = {"point": keys[todo[outcome.index]], "params": ds.canonical(combo), "label": label_of(combo),
               "seed": seed, "cycles": cycles, "config": configs[ds.canonical(combo)],
               "engine_version": value.get("engine_version", ""), "status": "ok" if outcome.ok else "failed",
               "error": outcome.error, "traders": ds.trader_rows(value.get("traders", [])), "engine": engine,
               "worker": outcome.worker, "seconds": outcome.seconds}
        if out is not None:
            ds.write_row(out, row)
        records[row["point"]] = row
        if on_result:
            on_result(row)

    run_tasks(task, cfg_json, jobs, engine=engine, workers=workers, retries=retries, address=address,
              on_result=record)
    return SweepOutcome([records[key] for key in keys], skipped=len(all_points) - len(todo))


def run_sweep(config, grid: dict[str, list[Any]], seeds: list[int], cycles: int, *, workers: int = 2,
              on_done: Callable[[int], None] | None = None, **options) -> list[dict]:
    """Flat rows of every point, in grid order (see sweep() for the options); a failed point raises."""
    count = iter(range(10**12))
    outcome = sweep(config, grid, seeds, cycles, workers=workers,
                    on_result=(lambda _row: on_done(next(count))) if on_done else None, **options)
    if outcome.failed:
        first = outcome.failed[0]
        raise RuntimeError(f"{len(outcome.failed)} points failed; first: {first['label']} seed {first['seed']}: "
                           f"{first['error']}")
    return outcome.rows


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
