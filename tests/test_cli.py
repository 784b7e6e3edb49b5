"""The command line end to end: run, continue, status, history, rollback, fork, export, reset."""
from __future__ import annotations

import csv

import pyarrow.parquet as pq
from floor_helpers import fast_config, write_config
from typer.testing import CliRunner

from cli.app import app

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_scripted_session_from_the_command_line(tmp_path):
    db = str(tmp_path / "f.db")
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config())
    out = _ok("run", "--cycles", "12", "--db", db, "--config", str(cfg), "--seed", "3")
    assert "ran to cycle 12" in out and "trades" in out
    assert "ran to cycle 15" in _ok("run", "--cycles", "3", "--db", db)
    status = _ok("status", "--db", db)
    assert "cycle 15" in status and "momentum" in status
    assert "History of run-1" in _ok("history", "--db", db, "--limit", "5")
    assert "rolled back to cycle 10" in _ok("rollback", "--to-cycle", "10", "--db", db)
    assert "cycle 10" in _ok("status", "--db", db)
    assert "forked at cycle 8" in _ok("fork", "--at-cycle", "8", "--db", db, "--label", "what-if")
    assert "ran to cycle 10" in _ok("run", "--cycles", "2", "--db", db)

    out_dir = tmp_path / "export"
    _ok("export", "--format", "csv", "--out", str(out_dir), "--db", db)
    with open(out_dir / "fills.csv") as f:
        fills = list(csv.DictReader(f))
    assert fills and {int(r["cycle"]) for r in fills} == set(range(0, 11))  # cycle 0: the warm-up
    _ok("export", "--format", "parquet", "--out", str(out_dir), "--db", db)
    assert pq.read_table(out_dir / "fills.parquet").num_rows == len(fills)

    assert "removed" in _ok("reset", "--db", db, "--yes")
    assert not (tmp_path / "f.db").exists()


def test_bad_input_gets_a_clear_error_and_no_traceback(tmp_path):
    db = str(tmp_path / "none.db")
    result = runner.invoke(app, ["status", "--db", db])
    assert result.exit_code == 2 and "no database" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("traders: [{name: x, theory: astrology}]\n")
    result = runner.invoke(app, ["run", "--cycles", "1", "--db", db, "--config", str(bad)])
    assert result.exit_code == 2 and "cannot load config" in result.output and "astrology" in result.output
    _ok("run", "--cycles", "2", "--db", db)
    result = runner.invoke(app, ["rollback", "--to-cycle", "9", "--db", db])
    assert result.exit_code == 2 and "cannot roll back to cycle 9" in result.output
