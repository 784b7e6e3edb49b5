"""`trading-floor learn-eval`: learning vs fixed traders on held-out seeds, differences with t intervals."""
from __future__ import annotations

import math
import re

import pytest
from floor_helpers import fast_config
from typer.testing import CliRunner

from analysis.learn_eval import evaluate, mean_ci, t_critical_975


def test_t_interval_of_paired_differences():
    ci = mean_ci([1.0, 2.0, 3.0])  # mean 2, sample sd 1, t(0.975, 2)
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.high - ci.mean == pytest.approx(t_critical_975(2) / math.sqrt(3))
    assert ci.mean - ci.low == pytest.approx(ci.high - ci.mean)
    assert t_critical_975(200) == pytest.approx(1.972, abs=2e-3)  # beyond the table: close to the t value
    one = mean_ci([5.0])
    assert one.mean == 5.0 and math.isnan(one.low)
    with pytest.raises(ValueError):
        t_critical_975(0)


def test_evaluate_two_seeds_pairs_runs_and_brackets_the_mean():
    seen = []
    report = evaluate(fast_config(), [1000, 1001], 20, progress=seen.append)
    assert [(r.seed, r.learning) for r in seen] == [(1000, False), (1000, True), (1001, False), (1001, True)]
    assert report.traders and report.cycles == 20
    for metric in ("pnl", "sharpe"):
        pairs = report.paired(metric)
        assert [s for s, _, _ in pairs] == [1000, 1001]
        ci = report.difference(metric)
        diffs = [lrn - fix for _, fix, lrn in pairs]
        assert ci.mean == pytest.approx(sum(diffs) / 2)
        if ci.n == 2:
            assert ci.low <= ci.mean <= ci.high
    # learning changed something on the floor: the learning runs are not the fixed runs
    assert any(f != lrn for _, f, lrn in report.paired("pnl")) or any(
        f != lrn for _, f, lrn in report.paired("sharpe"))


def test_learn_eval_command_prints_the_table(tmp_path):
    from floor_helpers import write_config

    from cli.app import app

    cfg = write_config(tmp_path / "fast.yaml")
    out = CliRunner().invoke(app, ["learn-eval", "--seeds", "2", "--cycles", "20", "--config", str(cfg)],
                             env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "learning vs fixed: 2 held-out seeds x 20 cycles" in out.output
    rows = [line for line in out.output.splitlines() if re.search(r"PnL \(\$\)|Sharpe \(per cycle\)", line)]
    assert len(rows) == 2
    for line in rows:
        cells = [c.strip() for c in line.strip("│┃| ").split("│")]
        assert len(cells) == 6 and re.fullmatch(r"\d/2", cells[5])
        mean = float(cells[3].replace(",", ""))
        low, high = (float(x.replace(",", "")) for x in cells[4].strip("[]").split(", "))
        assert low <= mean <= high
