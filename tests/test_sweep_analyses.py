"""realism and backtest on the Ray engine (a real local Ray, tests/sweep_ray.py) give what the local engine
gives for the same seeds."""
from __future__ import annotations

import numpy as np
import pytest
import typer
from floor_helpers import fast_config
from sweep_ray import local_ray  # noqa: F401 - the fixture
from typer.testing import CliRunner

from analysis.backtest import EXAMPLE_CSV, run_backtests, seed_db_path
from analysis.realism import run_realism
from cli import analysis as cli_analytics

pytestmark = pytest.mark.usefixtures("local_ray")


def test_realism_on_ray_equals_realism_on_local_processes():
    cfg = fast_config().market
    done = []
    on_ray = run_realism(3, 30, interval=5, config=cfg, engine="ray", on_done=done.append)
    local = run_realism(3, 30, interval=5, config=cfg, engine="local", workers=2)
    assert sorted(done) == [1, 2, 3]
    assert on_ray.table() == local.table()
    assert len(on_ray.returns) == len(local.returns) > 0
    assert all(np.array_equal(a, b) for a, b in zip(on_ray.returns, local.returns, strict=True))
    assert np.array_equal(on_ray.depth_profile, local.depth_profile)


def test_backtests_per_seed_on_ray_equal_the_local_ones(tmp_path):
    cfg = fast_config()
    on_ray = run_backtests(EXAMPLE_CSV, tmp_path / "ray" / "bt.db", [4, 5], config=cfg, cycles=5, engine="ray")
    local = run_backtests(EXAMPLE_CSV, tmp_path / "local" / "bt.db", [4, 5], config=cfg, cycles=5, workers=2)
    assert repr([r.traders for r in on_ray]) == repr([r.traders for r in local])
    assert repr([r.tracking_bps for r in on_ray]) == repr([r.tracking_bps for r in local])
    assert repr(on_ray[0].traders) != repr(on_ray[1].traders)  # two seeds, two different runs
    assert seed_db_path(tmp_path / "ray" / "bt.db", 5).exists() and on_ray[1].db_path.endswith("bt-seed5.db")


def test_backtest_and_realism_commands_take_the_ray_engine(tmp_path):
    app = typer.Typer()
    cli_analytics.register(app)
    cfg = tmp_path / "fast.yaml"
    from floor_helpers import write_config

    write_config(cfg)
    bt = CliRunner().invoke(app, ["backtest", "--prices", str(EXAMPLE_CSV), "--db", str(tmp_path / "b.db"),
                                  "--cycles", "4", "--config", str(cfg), "--seeds", "1,2", "--engine", "ray",
                                  "--report", str(tmp_path / "r.html")], env={"COLUMNS": "200"})
    assert bt.exit_code == 0, bt.output
    assert "mean over seeds 1, 2" in bt.output and "trend_following" in bt.output
    assert (tmp_path / "b-seed1.db").exists() and (tmp_path / "b-seed2.db").exists() and (tmp_path / "r.html").exists()
    rl = CliRunner().invoke(app, ["realism", "--runs", "2", "--cycles", "20", "--engine", "ray", "--config", str(cfg),
                                  "--out", str(tmp_path / "realism")], env={"COLUMNS": "200"})
    assert rl.exit_code == 0, rl.output
    assert "seeds (ray)" in rl.output and (tmp_path / "realism" / "facts.json").exists()
