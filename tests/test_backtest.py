"""Backtest: a price file replayed as the fundamental path, and the floor's theories run on it."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from floor_helpers import fast_config

from analysis.backtest import (
    EXAMPLE_CSV,
    PriceFileError,
    install_path,
    load_closes,
    make_example_csv,
    run_backtest,
    scaled_closes,
)
from floor.session import FloorSession
from market.external_fundamentals import PathFundamentals
from market.instruments import DEFAULT_UNIVERSE


def test_path_fundamentals_end_each_cycle_on_its_close_and_hold_after():
    closes = {"AAPL": [19000, 19500, 18000], "MSFT": [41000, 41000, 42000]}
    f = PathFundamentals(DEFAULT_UNIVERSE, closes, ticks_per_cycle=4)
    assert f.value("AAPL") == pytest.approx(19000) and f.value("NVDA") == pytest.approx(12000)
    for _ in range(4):
        f.step(None)
    assert f.value("AAPL") == pytest.approx(19500)
    f.step(None)  # a quarter of the way, in log space
    assert f.value("AAPL") == pytest.approx(19500 * (18000 / 19500) ** 0.25)
    twin = pickle.loads(pickle.dumps(f))
    for _ in range(10):
        f.step(None)
        twin.step(None)
    assert f.value("AAPL") == pytest.approx(18000) and f.value("MSFT") == pytest.approx(42000)
    assert f.values() == twin.values()
    assert f.value("FLOR") == pytest.approx((18000 + 42000 + 12000 + 18000 + 16500) / 10)
    with pytest.raises(ValueError):
        PathFundamentals(DEFAULT_UNIVERSE, {"FLOR": [1, 2]}, ticks_per_cycle=4)


def test_example_csv_is_generated_deterministically_by_the_project(tmp_path):
    out = make_example_csv(tmp_path / "x.csv")
    assert out.read_bytes() == EXAMPLE_CSV.read_bytes()
    dates, closes = load_closes(EXAMPLE_CSV)
    assert len(dates) == 90 and set(closes) == {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG"}
    scaled = scaled_closes(closes)
    assert scaled["MSFT"][0] == pytest.approx(41000)
    r = np.diff(np.log(closes["AAPL"]))
    assert np.allclose(np.diff(np.log(scaled["AAPL"])), r)  # rescaling keeps returns


def test_bad_price_files_are_refused_with_a_reason(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("date,symbol,close\n2025-01-02,AAPL,1\n")
    with pytest.raises(PriceFileError, match="missing columns"):
        load_closes(p)
    p.write_text("date,symbol,open,high,low,close,volume\n2025-01-02,AAPL,1,1,1,-3,5\n")
    with pytest.raises(PriceFileError, match=":2: close must be positive"):
        load_closes(p)
    p.write_text("date,symbol,open,high,low,close,volume\n2025-01-02,TSLA,1,1,1,3,5\n")
    with pytest.raises(PriceFileError, match="TSLA"):
        scaled_closes(load_closes(p)[1])


def test_backtest_replays_the_path_and_evaluates_every_trader(tmp_path):
    res = run_backtest(EXAMPLE_CSV, tmp_path / "bt.db", config=fast_config(), cycles=25)
    assert res.cycles == 25 and len(res.dates) == 26
    assert {t["account"] for t in res.traders} == {t.name for t in fast_config().traders}
    assert sum(t["fills"] for t in res.traders) > 0
    for sym, bps in res.tracking_bps.items():
        assert bps < 100, sym  # the market trades around the replayed closes
    again = run_backtest(EXAMPLE_CSV, tmp_path / "bt2.db", config=fast_config(), cycles=25)
    assert [(t["account"], t["total_pnl"]) for t in again.traders] == [(t["account"], t["total_pnl"]) for t in res.traders]


def test_replayed_path_survives_in_the_cycle_zero_snapshot(tmp_path):
    session = FloorSession(tmp_path / "f.db", fast_config())
    try:
        session.start(seed=5)
        _, closes = load_closes(EXAMPLE_CSV)
        install_path(session.floor, scaled_closes(closes))
        run_id, branch_id, _ = session.floor.at
        ex = session.floor.exchange_at(run_id, branch_id, 0)
        assert isinstance(ex.background.fundamentals, PathFundamentals)
        session.run(3)
        session.rollback(0)
        session.run(3)
        assert isinstance(session.floor.exchange.background.fundamentals, PathFundamentals)
    finally:
        session.close()


def test_sweep_runs_a_grid_in_processes_and_the_result_does_not_depend_on_workers():
    from analysis.sweep import apply_overrides, parse_grid, run_sweep, summarise

    cfg = fast_config()
    grid = parse_grid(["fee_bps=0,5"])
    assert grid == {"fee_bps": [0, 5]}
    par = run_sweep(cfg, grid, [3], cycles=8, workers=2)
    seq = run_sweep(cfg, grid, [3], cycles=8, workers=1)
    assert [repr(r) for r in par] == [repr(r) for r in seq]
    names = {t.name for t in cfg.traders}
    assert len(par) == 2 * len(names) and {r["params"] for r in par} == {"fee_bps=0", "fee_bps=5"}
    summary = summarise(par)
    assert {(r["params"], r["trader"]) for r in summary} == {(p, n) for p in ("fee_bps=0", "fee_bps=5") for n in names}
    fees = {r["params"]: sum(x["fees"] for x in par if x["params"] == r["params"]) for r in summary}
    assert fees["fee_bps=0"] == 0
    with pytest.raises(ValueError):
        apply_overrides(cfg, {"market.noise.speed": 3})
    with pytest.raises(ValueError):
        parse_grid(["fee_bps"])


def test_backtest_command_prints_the_trader_table(tmp_path):
    import typer
    from typer.testing import CliRunner

    from cli import analysis as cli_analytics

    app = typer.Typer()
    cli_analytics.register(app)
    result = CliRunner().invoke(app, ["backtest", "--prices", str(EXAMPLE_CSV), "--db", str(tmp_path / "b.db"),
                                      "--cycles", "6", "--fast", "--report", str(tmp_path / "r.html")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Backtest on example_ohlcv.csv" in result.output and "trend_following" in result.output
    assert (tmp_path / "r.html").exists()
    bad = CliRunner().invoke(app, ["backtest", "--prices", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2 and "error" in bad.output
