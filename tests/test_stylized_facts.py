"""Stylized-facts statistics on synthetic series whose properties are known by construction."""
from __future__ import annotations

import math

import numpy as np

from analysis import stylized_facts as sf


def garch(n: int, rng, omega=0.05, alpha=0.1, beta=0.85) -> np.ndarray:
    out = np.empty(n)
    var = omega / (1 - alpha - beta)
    for t in range(n):
        out[t] = math.sqrt(var) * rng.standard_normal()
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def test_gaussian_fails_heavy_tails_and_shows_no_clustering():
    x = np.random.default_rng(1).standard_normal(20_000)
    assert not sf.fact_heavy_tails(x).passed
    assert abs(sf.excess_kurtosis(x)) < 0.15
    assert sf.fact_no_autocorrelation(x).passed
    assert not sf.fact_volatility_clustering(x).passed


def test_garch_passes_volatility_clustering_and_heavy_tails():
    x = garch(20_000, np.random.default_rng(2))
    f = sf.fact_volatility_clustering(x, lags=10)
    assert f.passed, f
    assert sf.fact_heavy_tails(x).passed
    # (the i.i.d. band 1.96/sqrt(N) is too narrow for a heteroskedastic series, so no ACF assertion here)
    assert sf.fact_aggregational_gaussianity(x).passed  # kurtosis dies out under aggregation


def test_student_t_hill_index_in_range_and_near_its_degrees_of_freedom():
    x = np.random.default_rng(3).standard_t(3, 50_000)
    a = sf.hill_estimator(x, 0.02)
    assert 2.0 <= a <= 4.5
    assert sf.fact_hill_tail(x).passed
    assert sf.fact_heavy_tails(x).passed


def test_ar1_series_fails_no_autocorrelation():
    rng = np.random.default_rng(4)
    e = rng.standard_normal(5000)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, len(e)):
        x[t] = 0.3 * x[t - 1] + e[t]
    acf, n = sf.autocorrelation(x, 3)
    assert abs(acf[0] - 0.3) < 0.05 and n == 5000
    assert not sf.fact_no_autocorrelation(x).passed


def test_pooling_does_not_cross_series_or_mix_scales():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(10_000)
    b = 50 * rng.standard_normal(10_000)  # a much more volatile symbol
    # concatenated raw, the scale mix looks fat-tailed; pooled per series, it is Gaussian
    assert sf.excess_kurtosis(np.concatenate([a, b])) > 1.0
    assert abs(sf.excess_kurtosis([a, b])) < 0.15


def test_power_law_exponent_recovers_beta():
    k = np.arange(1, 21)
    assert abs(sf.power_law_exponent(0.3 * k**-0.35) - 0.35) < 1e-9


def test_depth_hump_and_volume_volatility():
    assert sf.fact_depth_hump([10, 30, 25, 12]).passed
    assert not sf.fact_depth_hump([30, 20, 10, 5]).passed
    assert not sf.fact_depth_hump([5, 10, 20, 30]).passed
    rng = np.random.default_rng(6)
    vol = rng.exponential(1.0, 500)
    assert sf.fact_volume_volatility(100 * vol + rng.normal(0, 5, 500), vol).passed
    assert not sf.fact_volume_volatility(rng.normal(100, 5, 500), vol).passed


def test_aggregation_sums_blocks():
    assert sf.aggregate(np.arange(10.0), 3).tolist() == [3.0, 12.0, 21.0]


def test_robust_bands_are_wider_under_volatility_clustering_and_match_iid_for_gaussian():
    n = 20_000
    g = np.random.default_rng(7).standard_normal(n)
    iid = 1.96 / math.sqrt(n)
    assert np.allclose(sf.robust_acf_bands(g, 5), iid, rtol=0.1)
    x = garch(n, np.random.default_rng(8), alpha=0.15, beta=0.8)
    assert (sf.robust_acf_bands(x, 5) > 1.2 * iid).all()


def _market_like_seed(rng, t: int, phi: float, k: int = 5, rho: float = 0.5) -> np.ndarray:
    """One seed's returns shaped like the realism check's: k stocks with GARCH volatility whose shocks are
    correlated rho, plus their basket (an ETF), sampled at the same times; AR(1) with coefficient phi."""
    a, b = 0.05, 0.93
    h, prev, out = np.ones(k), np.zeros(k), np.zeros((k, t))
    for i in range(t):
        z = math.sqrt(rho) * rng.standard_normal() + math.sqrt(1 - rho) * rng.standard_normal(k)
        e = np.sqrt(h) * z
        out[:, i] = prev = phi * prev + e
        h = (1 - a - b) + a * e * e + b * h
    return np.vstack([out, out.mean(axis=0)])


def test_the_autocorrelation_verdict_holds_its_level_on_pooled_dependent_series_and_still_catches_ar1():
    """Pooled series that move together, with volatility clustering: a martingale must pass about as often
    as the rule promises (about 91 %: at most 1 of 10 lags outside 95 % bands), and it does with the
    dependence-robust bands; the i.i.d. band 1.96/sqrt(N) fails such a martingale most of the time. An
    AR(1) of 0.15 fails."""
    rng = np.random.default_rng(5)

    def verdicts(phi: float) -> tuple[float, float]:
        ours = iid = 0
        for _ in range(20):
            blocks = [_market_like_seed(rng, 1200, phi) for _ in range(8)]
            series = [row for block in blocks for row in block]
            ours += sf.fact_no_autocorrelation(series, 10, groups=blocks).passed
            acf, n = sf.autocorrelation(series, 10)
            iid += int(np.sum(np.abs(acf) > 1.96 / math.sqrt(n))) <= 1
        return ours / 20, iid / 20

    martingale, martingale_iid = verdicts(0.0)
    assert martingale >= 0.8, martingale
    assert martingale_iid <= 0.5, martingale_iid  # why the i.i.d. band is not the verdict
    ar1, _ = verdicts(0.15)
    assert ar1 <= 0.3, ar1


def test_dependent_bands_reduce_to_the_iid_band_for_independent_gaussian_series():
    rng = np.random.default_rng(11)
    blocks = [rng.standard_normal((6, 4000)) for _ in range(4)]
    n = sum(b.size for b in blocks)
    assert np.allclose(sf.dependent_acf_bands(blocks, 5), 1.96 / math.sqrt(n), rtol=0.1)
    # the same data, declared as independent series, gives the same band
    assert np.allclose(sf.dependent_acf_bands([r[None, :] for b in blocks for r in b], 5),
                       sf.dependent_acf_bands(blocks, 5), rtol=0.1)


def test_realism_command_prints_a_pass_fail_table_and_writes_plots(tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from cli import analysis as cli_analytics

    app = typer.Typer()
    cli_analytics.register(app)
    out = tmp_path / "realism"
    result = CliRunner().invoke(app, ["realism", "--runs", "2", "--cycles", "40", "--interval", "5",
                                      "--workers", "1", "--out", str(out)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Stylized facts" in result.output and ("PASS" in result.output or "FAIL" in result.output)
    facts = json.loads((out / "facts.json").read_text())["facts"]
    assert len(facts) == 7 and {f["verdict"] for f in facts} <= {"PASS", "FAIL"}
    control = json.loads((out / "facts.json").read_text())["control_fundamental"]  # same test, on the fundamental
    assert control["name"] == "no linear autocorrelation" and control["verdict"] in {"PASS", "FAIL"}
    assert "control, the fundamental itself" in result.output
    for name in ("returns_hist", "autocorrelation", "kurtosis_horizon", "depth_profile", "volume_volatility"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_kurtosis_by_horizon_is_unbiased_for_many_short_gaussian_series():
    rng = np.random.default_rng(9)
    series = [rng.standard_normal(1000) for _ in range(40)]
    k = sf.kurtosis_by_horizon(series)
    assert all(abs(v) < 0.3 for v in k.values()), k  # no spurious fall from re-standardising short blocks
    assert not sf.fact_aggregational_gaussianity(series).passed  # no fat tails to lose


def test_realism_result_does_not_depend_on_the_number_of_workers():
    from analysis.realism import run_realism
    from market.background import BackgroundConfig

    cfg = BackgroundConfig.model_validate({"ticks_per_cycle": 10, "noise": {"count": 300}, "value": {"count": 30}})
    one = run_realism(2, 30, interval=5, config=cfg, workers=1)
    two = run_realism(2, 30, interval=5, config=cfg, workers=2)
    assert one.table() == two.table()
    assert one.control.as_dict() == two.control.as_dict()
    assert sum(len(r) for r in one.returns) == 2 * 6 * 59
