"""Sweeps on a real local Ray (tests/sweep_ray.py) against the local engine: the same rows for the same grid
and seeds; the Parquet dataset they stream into; resume; failed points; kept run databases."""
from __future__ import annotations

import sqlite3

import pytest
import sweep_tasks
from floor_helpers import fast_config
from sweep_ray import local_ray  # noqa: F401 - the fixture

from analysis import sweep_dataset as ds
from analysis.sweep import DatasetExists, sweep

pytestmark = pytest.mark.usefixtures("local_ray")
GRID = {"fee_bps": [0, 5]}
SEEDS = [1, 2]
CYCLES = 6


def comparable(records: list[dict]) -> list[str]:
    """Each row without how it was made (engine, worker, seconds); repr keeps NaN comparable."""
    return [repr({k: v for k, v in r.items() if k not in ds.HOW_MADE}) for r in records]


@pytest.fixture(scope="module")
def ray_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "dataset"
    streamed = []
    outcome = sweep(fast_config(), GRID, SEEDS, CYCLES, engine="ray", out=out, on_result=streamed.append)
    return out, outcome, streamed


def test_ray_and_local_give_identical_rows_for_the_same_grid_and_seeds(ray_sweep, tmp_path):
    out, ray_outcome, streamed = ray_sweep
    local = sweep(fast_config(), GRID, SEEDS, CYCLES, engine="local", workers=2, out=tmp_path / "local")
    assert len(ray_outcome.records) == 4 and not ray_outcome.failed
    assert comparable(ray_outcome.records) == comparable(local.records)
    assert {r["engine"] for r in ray_outcome.records} == {"ray"} and {r["engine"] for r in local.records} == {"local"}
    assert repr(ray_outcome.rows) == repr(local.rows)
    # the fee changes the outcome, and the rows carry real runs: fills happened, fees only with a fee
    fees = {r["label"]: sum(t["fees"] for t in r["traders"]) for r in ray_outcome.records}
    assert fees["fee_bps=0"] == 0 and fees["fee_bps=5"] > 0
    assert sum(t["fills"] for r in ray_outcome.records for t in r["traders"]) > 0
    # each point was streamed as it finished, and the dataset on disk holds the same rows
    assert sorted(r["point"] for r in streamed) == sorted(r["point"] for r in ray_outcome.records)
    on_disk = sorted(ds.read_rows(out), key=lambda r: [x["point"] for x in ray_outcome.records].index(r["point"]))
    assert comparable(on_disk) == comparable(ray_outcome.records)
    assert comparable(ds.read_rows(tmp_path / "local")) == comparable(ds.read_rows(out))  # both in file-name order


def test_the_dataset_is_one_parquet_table_with_config_seed_and_engine_version(ray_sweep):
    import pyarrow.dataset as pads

    out, outcome, _ = ray_sweep
    table = pads.dataset(out, format="parquet").to_table()
    assert table.num_rows == 4 and set(ds.SCHEMA.names) <= set(table.column_names)
    row = table.to_pylist()[0]
    assert row["engine_version"].startswith("trading-floor ") and ", book " in row["engine_version"]
    assert row["cycles"] == CYCLES and row["seed"] in SEEDS and row["status"] == "ok" and row["error"] is None
    import json

    cfg = json.loads(row["config"])
    assert cfg["fee_bps"] == json.loads(row["params"])["fee_bps"] and cfg["market"]["ticks_per_cycle"] == 10


def test_resume_runs_only_the_missing_and_failed_points(ray_sweep, tmp_path):
    import shutil

    src, outcome, _ = ray_sweep
    out = tmp_path / "resume"
    shutil.copytree(src, out)
    first, second = outcome.records[0], outcome.records[1]
    (out / f"point-{first['point']}.parquet").unlink()  # never finished
    ds.write_row(out, second | {"status": "failed", "error": "RuntimeError: boom", "traders": []})
    with pytest.raises(DatasetExists, match="--resume"):
        sweep(fast_config(), GRID, SEEDS, CYCLES, engine="ray", out=out)
    with pytest.raises(ds.DatasetMismatch, match="cycles"):
        sweep(fast_config(), GRID, SEEDS, CYCLES + 1, engine="ray", out=out, resume=True)
    plans, ran = [], []
    again = sweep(fast_config(), GRID, SEEDS, CYCLES, engine="ray", out=out, resume=True,
                  on_plan=lambda todo, skipped: plans.append((todo, skipped)), on_result=ran.append)
    assert plans == [(2, 2)]
    assert sorted(r["point"] for r in ran) == sorted([first["point"], second["point"]])
    assert comparable(again.records) == comparable(outcome.records) and again.skipped == 2
    assert len(ds.read_rows(out)) == 4 and all(r["status"] == "ok" for r in ds.read_rows(out))


def test_a_point_that_keeps_failing_is_recorded_and_the_sweep_finishes(tmp_path):
    out, dbs = tmp_path / "dataset", tmp_path / "dbs"
    outcome = sweep(fast_config(), {}, [1, 2], 4, engine="ray", retries=1, out=out, keep_dbs=dbs,
                    task=sweep_tasks.point_failing_once_for_seed_2)
    assert [r["status"] for r in outcome.records] == ["ok", "failed"]
    assert outcome.failed[0]["error"] == "RuntimeError: seed 2 is not ready" and outcome.failed[0]["seed"] == 2
    assert {r["status"] for r in ds.read_rows(out)} == {"ok", "failed"}
    dbs.mkdir(exist_ok=True)
    (dbs / "seed-2-may-run").write_text("")
    again = sweep(fast_config(), {}, [1, 2], 4, engine="ray", out=out, resume=True, keep_dbs=dbs,
                  task=sweep_tasks.point_failing_once_for_seed_2)
    assert [r["status"] for r in again.records] == ["ok", "ok"] and again.skipped == 1


def test_kept_run_databases_hold_each_points_run(tmp_path):
    outcome = sweep(fast_config(), {"fee_bps": [0, 5]}, [3], 4, engine="ray", keep_dbs=tmp_path)
    files = sorted(tmp_path.glob("point-*.db"))
    assert [f.name for f in files] == sorted(f"point-{r['point']}.db" for r in outcome.records)
    for f in files:
        conn = sqlite3.connect(f)
        try:
            fee_bps = {row[0] for row in conn.execute("SELECT fee_bps FROM branches")}
        finally:
            conn.close()
        assert len(fee_bps) == 1
    assert {r["label"] for r in outcome.records} == {"fee_bps=0", "fee_bps=5"}
