"""The Parquet dataset a sweep streams into: one row per (grid point, seed), one file per row.

A dataset is a directory. Each finished point is written at once as its own file, `point-<key>.parquet`
(written to a temporary name, then renamed: a reader or a crash never sees half a file), so results
survive a Ctrl-C, a killed driver or a lost cluster, and `--resume` skips the points whose file says
`ok`. A failed point is a row too (status "failed" and its error); a resume runs it again and its file
is replaced. `pyarrow.dataset.dataset(DIR)` (or pandas, DuckDB, Spark) reads the directory as one table.

Columns: point (key), params (the grid point's overrides, canonical JSON), label ("fee_bps=5, ..."),
seed, cycles, config (the full effective config, JSON), engine_version (package version and matching
engine of the worker that ran it), status, error, traders (a list of per-trader metric structs),
engine (local or ray), worker (host:pid), seconds (wall time inside the worker). The last three say how
the row was made and are the only ones that may differ between engines for the same grid and seeds.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FLOAT_METRICS = ("return", "sharpe", "sortino", "max_drawdown", "turnover", "hit_rate", "avg_holding_cycles",
                 "shortfall_bps")
INT_METRICS = ("total_pnl", "fills", "fees")  # cents and counts stay integers
TRADER = pa.struct([("trader", pa.string())] + [(k, pa.int64()) for k in INT_METRICS]
                   + [(k, pa.float64()) for k in FLOAT_METRICS])
SCHEMA = pa.schema([
    ("point", pa.string()), ("params", pa.string()), ("label", pa.string()), ("seed", pa.int64()),
    ("cycles", pa.int64()), ("config", pa.string()), ("engine_version", pa.string()), ("status", pa.string()),
    ("error", pa.string()), ("traders", pa.list_(TRADER)),
    ("engine", pa.string()), ("worker", pa.string()), ("seconds", pa.float64()),
])
HOW_MADE = ("engine", "worker", "seconds")


class DatasetMismatch(ValueError):
    """The directory holds another sweep (another base config or cycle count): the message says which."""


def canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def point_key(params: dict[str, Any], seed: int) -> str:
    return hashlib.sha256(f"{canonical(params)}|{seed}".encode()).hexdigest()[:20]


def trader_rows(traders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-trader metrics with the dataset's fields in the dataset's order (what reading it back gives)."""
    return [{f.name: t.get(f.name) for f in TRADER} for t in traders]


def write_row(directory: str | Path, row: dict[str, Any]) -> Path:
    """Write one row as its own Parquet file, atomically (temporary file, then rename)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"point-{row['point']}.parquet"
    tmp = out / f".point-{row['point']}.{os.getpid()}.tmp"
    pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)
    os.replace(tmp, final)
    return final


def read_rows(directory: str | Path) -> list[dict[str, Any]]:
    """Every row of the dataset (files in name order; an empty or missing directory gives [])."""
    d = Path(directory)
    files = sorted(d.glob("point-*.parquet")) if d.is_dir() else []
    if not files:
        return []
    return pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files]).to_pylist()


def check_same_sweep(rows: list[dict[str, Any]], base_config_hash: str, cycles: int, directory) -> None:
    """Refuse to mix sweeps in one dataset: every row must have the same cycles and base config."""
    for r in rows:
        if r["cycles"] != cycles:
            raise DatasetMismatch(f"{directory} holds a sweep of {r['cycles']} cycles, not {cycles}: "
                                  "choose another --out, or the same --cycles")
        if base_hash_of(r) != base_config_hash:
            raise DatasetMismatch(f"{directory} holds a sweep of another base config: choose another --out, "
                                  "or the same --config/--fast")


def base_hash_of(row: dict[str, Any]) -> str:
    """Hash of the row's effective config without its grid point's own keys (the sweep's base config)."""
    return base_hash(row["config"], json.loads(row["params"]))


def base_hash(config_json: str, grid_keys) -> str:
    """Hash of a config JSON with the grid's keys removed."""
    config = json.loads(config_json)
    for dotted in grid_keys:
        node = config
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return hashlib.sha256(canonical(config).encode()).hexdigest()
