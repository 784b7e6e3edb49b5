"""`trading-floor sweep-report`: confidence intervals, ranks and Kendall's W, checked against hand-worked
numbers and properties; then the command on a real sweep dataset, as HTML and as PNG."""
from __future__ import annotations

import math

import pytest
from cli_processes import tf
from floor_helpers import write_config
from hypothesis import given
from hypothesis import strategies as st

from analysis.sweep_report import kendall_w, mean_ci, ranks, summarise_dataset


def test_mean_ci_is_the_t_interval():
    m, lo, hi, n = mean_ci([1.0, 2.0, 3.0, None, math.nan])
    assert (m, n) == (2.0, 3)
    assert hi - m == pytest.approx(4.303 * 1.0 / math.sqrt(3))  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(mean_ci([5.0])[1]) and mean_ci([])[3] == 0


def test_ranks_put_the_best_first_share_ties_and_put_missing_last():
    assert ranks({"a": 0.1, "b": 0.3, "c": 0.3, "d": None}) == {"b": 1.5, "c": 1.5, "a": 3.0, "d": 4.0}
    assert ranks({"a": 0.1, "b": 0.3}, higher_is_better=False) == {"a": 1.0, "b": 2.0}


def test_kendall_w_is_one_for_identical_rankings_and_zero_for_opposite_pairs():
    same = [{"a": 1.0, "b": 2.0, "c": 3.0}] * 4
    assert kendall_w(same) == pytest.approx(1.0)
    assert kendall_w([{"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 1.0}]) == pytest.approx(0.0)


@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4), min_size=1, max_size=12))
def test_ranks_sum_like_a_permutation_and_w_stays_in_the_unit_interval(runs):
    names = ["a", "b", "c", "d"]
    rows = [ranks(dict(zip(names, values, strict=True))) for values in runs]
    for r in rows:
        assert sum(r.values()) == pytest.approx(10.0) and min(r.values()) >= 1 and max(r.values()) <= 4
    w = kendall_w(rows)
    assert -1e-9 <= w <= 1 + 1e-9


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    cfg = write_config(root / "fast.yaml")
    out = root / "dataset"
    proc = tf("sweep", "--config", str(cfg), "--seeds", "1,2,3", "--set", "fee_bps=0,25", "--cycles", "6",
              "--workers", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stdout
    return out


def test_the_summary_of_a_real_sweep(dataset):
    from analysis.sweep_dataset import read_rows

    rows = read_rows(dataset)
    s = summarise_dataset(rows, "return")
    assert s.runs == 6 and s.params == {"fee_bps": [0, 25]}
    cells = {(r["value"], r["trader"]): r for r in s.by_param["fee_bps"]}
    traders = {t["trader"] for t in rows[0]["traders"]}
    assert {t for _, t in cells} == traders and all(c["n"] == 3 for c in cells.values())
    # the mean at fee_bps=0 is the mean of that trader's three seeds, straight from the rows
    some = sorted(traders)[0]
    by_hand = [t["return"] for r in rows if '"fee_bps":0' in r["params"] for t in r["traders"] if t["trader"] == some]
    assert cells[(0, some)]["mean"] == pytest.approx(sum(by_hand) / 3)
    assert cells[(0, some)]["low"] <= cells[(0, some)]["mean"] <= cells[(0, some)]["high"]
    assert len(s.rank_table) == len(traders) and 0 <= s.kendall_w <= 1
    assert sum(r["first_share"] for r in s.rank_table) >= 1.0  # every run has a first (ties share it)
    with pytest.raises(ValueError, match="unknown metric"):
        summarise_dataset(rows, "alpha")


def test_sweep_report_writes_html_and_png(dataset, tmp_path):
    html = tf("sweep-report", str(dataset), "--out", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stdout
    assert "Kendall's W" in html.stdout and "report written to" in html.stdout
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "return by fee_bps" in page and "momentum" in page and "95 % CI" in page and "plotly" in page.lower()
    png = tf("sweep-report", str(dataset), "--out", str(tmp_path / "r.png"), "--metric", "sharpe")
    assert png.returncode == 0, png.stdout
    data = (tmp_path / "r.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    empty = tf("sweep-report", str(tmp_path / "nothing"))
    assert empty.returncode == 2 and "no sweep rows" in empty.stdout
    bad = tf("sweep-report", str(dataset), "--out", str(tmp_path / "r.pdf"))
    assert bad.returncode == 2 and ".html or .png" in bad.stdout
