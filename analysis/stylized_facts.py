"""Stylized facts of asset returns (Cont 2001, "Empirical properties of asset returns"): pure statistics.

Every function takes one return series or a list of series (one per seed and symbol) and pools them
without mixing their levels: each series is demeaned (and, for moments, standardised) on its own before
pooling, so two symbols with different volatility do not manufacture fat tails by being mixed, and an
autocorrelation never runs across the boundary of two series.

Each fact returns a `Fact(name, value, target, passed, detail)`. Pass rules, chosen and written down here:
- heavy tails: excess kurtosis of 1-period returns above its 95 % sampling bound for a Gaussian,
  1.96 * sqrt(24 / N);
- aggregational Gaussianity: the excess kurtosis is positive at horizon 1 and lower at the coarsest
  horizon (non-overlapping sums of 1, 4, 16, 64 sampling intervals);
- no linear autocorrelation: at lags 1..L, at most one lag (the 5 % false-positive rate gives 0.5
  expected over 10 lags) outside the 95 % band of the pooled autocorrelation that allows for volatility
  clustering and for series that move together (`dependent_acf_bands`); the i.i.d. band 1.96 / sqrt(N)
  is printed beside it;
- volatility clustering: the autocorrelation of |r| is above +1.96 / sqrt(N) at every lag 1..L (L >= 10)
  and a power law acf(k) ~ A k^-beta fitted on those lags decays slowly: 0 < beta < 1 (Cont reports
  0.2-0.4);
- Hill tail index of |r| (upper 5 % tail of the standardised pooled returns) between 2 and 5;
- depth profile: the average book depth by level from the best (1..L) is hump-shaped, i.e. its maximum is
  at an inner level (neither the best nor the last);
- volume/volatility: the Pearson correlation of per-period volume and |return| above 1.96 / sqrt(N).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fact:
    name: str
    value: float | str
    target: str
    passed: bool
    detail: str = ""

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "target": self.target, "verdict": self.verdict,
                "detail": self.detail}


Series = Sequence[float] | np.ndarray


def _as_list(series: Series | Sequence[Series]) -> list[np.ndarray]:
    if isinstance(series, np.ndarray) and series.ndim == 1:
        return [series.astype(float)]
    items = list(series)
    if items and np.ndim(items[0]) == 0:
        return [np.asarray(items, dtype=float)]
    return [np.asarray(s, dtype=float) for s in items if len(s) > 1]


def pooled_standardised(series: Series | Sequence[Series]) -> np.ndarray:
    out = []
    for s in _as_list(series):
        sd = s.std()
        if sd > 0:
            out.append((s - s.mean()) / sd)
    return np.concatenate(out) if out else np.zeros(0)


def excess_kurtosis(series: Series | Sequence[Series]) -> float:
    z = pooled_standardised(series)
    return float(np.mean(z**4) - 3.0) if z.size > 3 else math.nan


def aggregate(series: np.ndarray, horizon: int) -> np.ndarray:
    """Sums of non-overlapping blocks of `horizon` returns (log returns add up)."""
    n = len(series) // horizon
    return series[: n * horizon].reshape(n, horizon).sum(axis=1) if n else np.zeros(0)


def kurtosis_by_horizon(series: Series | Sequence[Series], horizons: Sequence[int] = (1, 4, 16, 64)) -> dict[int, float]:
    """Pooled excess kurtosis of h-period returns, for each horizon h.

    Each series is standardised once, with its 1-period mean and deviation (estimated on all its
    points), then aggregated; the aggregates are pooled and their kurtosis taken with the pooled second
    moment. Standardising each short aggregated series again would bias the kurtosis down (a block
    series of 15 points has a kurtosis far below 3 whatever its distribution).
    """
    items = [(s - s.mean()) / s.std() for s in _as_list(series) if s.std() > 0]
    out = {}
    for h in horizons:
        agg = [aggregate(s, h) for s in items]
        pooled = np.concatenate(agg) if agg else np.zeros(0)
        if pooled.size >= 20:
            m2 = float(np.mean(pooled**2))
            out[h] = float(np.mean(pooled**4) / (m2 * m2) - 3.0) if m2 > 0 else math.nan
    return out


def autocorrelation(series: Series | Sequence[Series], lags: int) -> tuple[np.ndarray, int]:
    """Pooled autocorrelation at lags 1..lags, and the number of observations N."""
    num = np.zeros(lags)
    den = 0.0
    n = 0
    for s in _as_list(series):
        x = s - s.mean()
        den += float(x @ x)
        n += len(x)
        for k in range(1, lags + 1):
            if len(x) > k:
                num[k - 1] += float(x[:-k] @ x[k:])
    return (num / den if den else np.full(lags, np.nan)), n


def power_law_exponent(acf: np.ndarray) -> float:
    """beta of acf(k) ~ A k^-beta, least squares on log-log over the positive lags (nan if < 3)."""
    k = np.arange(1, len(acf) + 1, dtype=float)
    ok = acf > 0
    if ok.sum() < 3:
        return math.nan
    slope, _ = np.polyfit(np.log(k[ok]), np.log(acf[ok]), 1)
    return float(-slope)


def hill_estimator(series: Series | Sequence[Series], tail_fraction: float = 0.05) -> float:
    z = np.abs(pooled_standardised(series))
    z = np.sort(z[z > 0])[::-1]
    k = int(len(z) * tail_fraction)
    if k < 5:
        return math.nan
    logs = np.log(z[:k]) - math.log(z[k])
    m = float(logs.mean())
    return 1.0 / m if m > 0 else math.nan


# ----- facts ---------------------------------------------------------------------------------------
def fact_heavy_tails(series) -> Fact:
    z = pooled_standardised(series)
    k = excess_kurtosis(series)
    bound = 1.96 * math.sqrt(24.0 / max(z.size, 1))
    return Fact("heavy tails (excess kurtosis)", round(k, 3), f"> {bound:.3f} (Gaussian 95% bound)",
                bool(k > bound), f"N={z.size}")


def fact_aggregational_gaussianity(series, horizons: Sequence[int] = (1, 4, 16, 64)) -> Fact:
    kh = kurtosis_by_horizon(series, horizons)
    text = ", ".join(f"h{h}: {v:.2f}" for h, v in kh.items())
    hs = sorted(kh)
    passed = len(hs) >= 2 and kh[hs[0]] > 0 and kh[hs[-1]] < kh[hs[0]]
    return Fact("kurtosis falls with horizon", text, "horizon 1 > 0, coarsest < horizon 1", bool(passed))


def fact_no_autocorrelation(series, lags: int = 10, groups: Sequence[np.ndarray] | None = None) -> Fact:
    """At most one lag of 1..lags outside the 95 % band of the pooled autocorrelation.

    The band is the one that holds for pooled market returns (`dependent_acf_bands`): returns with
    volatility clustering, and several series (the symbols of one seed, `groups`) that move together.
    The i.i.d. band 1.96/sqrt(N) assumes neither; it is too narrow for such data (a martingale fails it
    more often than not: see docs/realism.md), and is reported beside the verdict, not used for it.
    """
    items = _as_list(series)
    acf, n = autocorrelation(items, lags)
    iid = 1.96 / math.sqrt(max(n, 1))
    iid_out = int(np.sum(np.abs(acf) > iid))
    band = dependent_acf_bands([x[None, :] for x in items] if groups is None else groups, lags)
    outside = int(np.sum(np.abs(acf) > band))
    return Fact("no linear autocorrelation",
                f"lag1 {acf[0]:+.3f}, {outside}/{lags} lags outside (i.i.d. band +-{iid:.3f}: {iid_out}/{lags})",
                f"|acf| < {band.min():.3f}..{band.max():.3f} (<= 1 lag out)", outside <= 1,
                "acf: " + " ".join(f"{a:+.3f}" for a in acf)
                + f"; i.i.d. band +-{iid:.3f} (N={n}): {iid_out}/{lags} lags outside")


def robust_acf_bands(series, lags: int) -> np.ndarray:
    """95 % bands of the sample autocorrelation that allow for volatility clustering, series independent.

    Under i.i.d. returns the band is 1.96/sqrt(N); with conditional heteroskedasticity the variance of
    the lag-k autocorrelation is sum(x_t^2 x_{t-k}^2) / (sum x_t^2)^2 (Taylor 1984; Lo and MacKinlay
    1989), which is wider. This is `dependent_acf_bands` with each series a group of its own.
    """
    return dependent_acf_bands([x[None, :] for x in _as_list(series)], lags)


def dependent_acf_bands(groups: Sequence[np.ndarray], lags: int) -> np.ndarray:
    """95 % bands of the pooled autocorrelation for heteroskedastic series that may move together.

    `groups` holds one 2-D array (series x time) per group of series sampled at the same times (the
    symbols of one seed); nan marks a missing return. The pooled lag-k autocorrelation is
    sum_t sum_i x_it x_i,t-k / sum x^2, each series demeaned. With no autocorrelation (martingale
    differences) the terms of different times t are uncorrelated, but those of one time are not when the
    series move together (correlated fundamentals, an ETF that is their basket). So the products are
    summed across a group's series first, then squared: Var = sum_t (sum_i x_it x_i,t-k)^2, the
    heteroskedasticity- and cross-section-robust variance (clustered by time). With one series per group
    it is the heteroskedasticity-robust band; with i.i.d. independent series both are 1.96/sqrt(N).
    """
    num = np.zeros(lags)
    den = 0.0
    for block in groups:
        x = np.atleast_2d(np.asarray(block, dtype=float))
        if x.size == 0:
            continue
        x = np.nan_to_num(x - np.nanmean(x, axis=1, keepdims=True))  # missing returns contribute nothing
        den += float((x * x).sum())
        for k in range(1, lags + 1):
            if x.shape[1] > k:
                per_time = (x[:, :-k] * x[:, k:]).sum(axis=0)
                num[k - 1] += float(per_time @ per_time)
    return 1.96 * np.sqrt(num) / den if den else np.full(lags, np.nan)


def fact_volatility_clustering(series, lags: int = 20) -> Fact:
    lags = max(lags, 10)
    items = [np.abs(s - s.mean()) for s in _as_list(series)]
    acf, n = autocorrelation(items, lags)
    band = 1.96 / math.sqrt(max(n, 1))
    beta = power_law_exponent(acf)
    above = int(np.sum(acf > band))
    passed = above == lags and math.isfinite(beta) and 0.0 < beta < 1.0
    return Fact("volatility clustering (acf |r|)", f"acf1 {acf[0]:.3f}, {above}/{lags} lags > band, beta {beta:.2f}",
                f"all lags > {band:.3f}, 0 < beta < 1", bool(passed),
                "acf|r|: " + " ".join(f"{a:.3f}" for a in acf))


def fact_hill_tail(series, tail_fraction: float = 0.05) -> Fact:
    a = hill_estimator(series, tail_fraction)
    return Fact("Hill tail index", round(a, 2) if math.isfinite(a) else a, "2 <= alpha <= 5",
                bool(math.isfinite(a) and 2.0 <= a <= 5.0), f"upper {tail_fraction:.0%} of |z|")


def fact_depth_hump(profile: Sequence[float]) -> Fact:
    p = np.asarray(profile, dtype=float)
    if p.size < 3:
        return Fact("depth profile hump", "n/a", "max at an inner level", False, "fewer than 3 levels")
    top = int(np.argmax(p))
    return Fact("depth profile hump", f"max at level {top + 1} of {p.size}", "max at an inner level",
                0 < top < p.size - 1, "depth: " + " ".join(f"{v:.3g}" for v in p))


def fact_volume_volatility(volumes: Sequence[float], abs_returns: Sequence[float]) -> Fact:
    v = np.asarray(volumes, dtype=float)
    r = np.asarray(abs_returns, dtype=float)
    if v.size < 3 or v.std() == 0 or r.std() == 0:
        return Fact("volume/volatility correlation", math.nan, "> 0 (significant)", False, "too few periods")
    c = float(np.corrcoef(v, r)[0, 1])
    band = 1.96 / math.sqrt(v.size)
    return Fact("volume/volatility correlation", round(c, 3), f"> {band:.3f}", c > band, f"N={v.size}")


def return_facts(series, *, lags: int = 10, abs_lags: int = 20,
                 groups: Sequence[np.ndarray] | None = None) -> list[Fact]:
    """The facts that need only returns, in the report's order (`groups`: see `dependent_acf_bands`)."""
    return [fact_heavy_tails(series), fact_aggregational_gaussianity(series),
            fact_no_autocorrelation(series, lags, groups), fact_volatility_clustering(series, abs_lags),
            fact_hill_tail(series)]
