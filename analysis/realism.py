"""The realism check: run N seeds of the background market alone and test the stylized facts.

Each seed runs `market.exchange.Exchange` with `market.background.BackgroundMarket` for M cycles; a
`MarketRecorder` samples every symbol's mid every `interval` ticks (and depth, volume, trade signs).
Mid-price log returns of every (seed, symbol) series are pooled series by series (see
stylized_facts.py) and compared with Cont (2001). Seeds run in parallel processes (2 workers by
default: CI machines have 2 cores) or, with engine="ray", as one Ray task each; each returns plain numpy
arrays, and the analysis takes them in seed order.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import stylized_facts as sf
from analysis.market_metrics import MarketRecorder
from market.background import BackgroundConfig, BackgroundMarket
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE


def run_seed(seed: int, cycles: int, interval: int = 5, config: BackgroundConfig | None = None,
             depth_levels: int = 10) -> dict[str, dict[str, np.ndarray]]:
    """One background-only run; plain arrays per symbol (see MarketRecorder.arrays)."""
    cfg = config or BackgroundConfig()
    bg = BackgroundMarket(cfg, seed=seed)
    ex = Exchange(DEFAULT_UNIVERSE, background=bg, tape_size=100, id_memory_cycles=1, bar_history=16)
    rec = MarketRecorder(ex, interval=interval, depth_levels=depth_levels, fair=bg.fair_values)
    for _ in range(cycles):
        rec.run_cycle(cfg.ticks_per_cycle)
    return rec.arrays()


def _run_seed_job(args) -> tuple[int, dict]:
    seed, cycles, interval, cfg_json = args
    cfg = BackgroundConfig.model_validate_json(cfg_json) if cfg_json else None
    return seed, run_seed(seed, cycles, interval, cfg)


@dataclass
class RealismResult:
    runs: int
    cycles: int
    interval: int
    returns: list[np.ndarray]  # one mid log-return series per (seed, symbol)
    depth_profile: np.ndarray  # mean normalised depth per level from the best
    facts: list[sf.Fact]
    kurtosis: dict[int, float]
    abs_acf: np.ndarray
    ret_acf: np.ndarray
    ret_band: np.ndarray  # 95 % band of ret_acf allowing for clustering and co-moving symbols, per lag
    volume_z: np.ndarray
    absret_z: np.ndarray
    control: sf.Fact | None = None  # the same autocorrelation test on the fundamental (a martingale)
    plots: list[Path] = field(default_factory=list)

    def table(self) -> list[dict]:
        return [f.as_dict() for f in self.facts]

    @property
    def passed(self) -> int:
        return sum(f.passed for f in self.facts)


def analyse(per_seed: list[dict], runs: int, cycles: int, interval: int) -> RealismResult:
    returns, profiles, vz, rz, fair_returns = [], [], [], [], []
    mid_groups, fair_groups = [], []  # per seed: its symbols' returns sampled at the same times (nan: missing)
    for data in per_seed:
        mids = _aligned_returns([arr["mids"] for arr in data.values()])
        fairs = _aligned_returns([arr.get("fairs", ()) for arr in data.values()])
        mid_groups.append(mids)
        fair_groups.append(fairs)
        returns += _usable_series(mids)
        fair_returns += _usable_series(fairs)
        for arr in data.values():
            d = arr["depth"]
            if d.sum() > 0:
                profiles.append(d / d.sum())
            vol = arr["volume"]
            ar = np.abs(np.diff(np.log(arr["cycle_mid"]), prepend=np.nan))
            ok = np.isfinite(ar)
            if ok.sum() > 3 and vol[ok].std() > 0 and ar[ok].std() > 0:
                vz.append((vol[ok] - vol[ok].mean()) / vol[ok].std())
                rz.append((ar[ok] - ar[ok].mean()) / ar[ok].std())
    profile = np.mean(profiles, axis=0) if profiles else np.zeros(0)
    volume_z = np.concatenate(vz) if vz else np.zeros(0)
    absret_z = np.concatenate(rz) if rz else np.zeros(0)
    facts = sf.return_facts(returns, groups=mid_groups) + [sf.fact_depth_hump(profile), sf.fact_volume_volatility(volume_z, absret_z)]
    abs_acf, _ = sf.autocorrelation([np.abs(r - r.mean()) for r in returns], 20)
    ret_acf, _ = sf.autocorrelation(returns, 20)
    ret_band = sf.dependent_acf_bands(mid_groups, 20)
    control = sf.fact_no_autocorrelation(fair_returns, groups=fair_groups) if fair_returns else None
    return RealismResult(runs, cycles, interval, returns, profile, facts, sf.kurtosis_by_horizon(returns),
                         abs_acf, ret_acf, ret_band, volume_z, absret_z, control)


def _usable_series(block: np.ndarray) -> list[np.ndarray]:
    """Each row's returns without the missing ones (a one-sided book), if there are enough to pool."""
    rows = (row[np.isfinite(row)] for row in block)
    return [r for r in rows if r.size > 10 and r.std() > 0]


def _aligned_returns(levels: list) -> np.ndarray:
    """Log returns of series sampled at the same times, as rows of one array (nan where a level is missing)."""
    rows = [np.diff(np.log(np.asarray(v, dtype=float))) for v in levels if len(v) > 1]
    if not rows:
        return np.zeros((0, 0))
    t = min(len(r) for r in rows)
    return np.stack([r[:t] for r in rows])


def _seed_task(cfg_json: str | None, job: tuple[int, int, int]) -> dict:
    seed, cycles, interval = job
    return _run_seed_job((seed, cycles, interval, cfg_json))[1]


def run_realism(runs: int = 4, cycles: int = 300, *, interval: int = 5, config: BackgroundConfig | None = None,
                workers: int = 2, first_seed: int = 1, on_done: Callable[[int], None] | None = None,
                engine: str = "local", address: str | None = None, retries: int = 2) -> RealismResult:
    """Seeds first_seed .. first_seed+runs-1 on `engine` (local processes or one Ray task per seed, see
    analysis/sweep_engines.py); a seed that still fails after its retries stops the check (RuntimeError:
    the facts need every series)."""
    from analysis.sweep_engines import run_per_seed

    cfg_json = config.model_dump_json() if config is not None else None
    jobs = [(first_seed + k, cycles, interval) for k in range(runs)]
    # seed order: the result does not depend on timing or engine
    per_seed = run_per_seed(_seed_task, cfg_json, jobs, what="seeds", on_done=on_done, retries=retries,
                            engine=engine, workers=workers, address=address)
    return analyse(per_seed, runs, cycles, interval)


def write_plots(result: RealismResult, out_dir: str | Path) -> list[Path]:
    """PNG plots with matplotlib (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(fig, name):
        p = out / name
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        paths.append(p)

    z = sf.pooled_standardised(result.returns)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(z, bins=120, density=True, alpha=0.7, label="pooled mid returns (z)")
    grid = np.linspace(-6, 6, 400)
    ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), "k--", label="N(0,1)")
    ax.set_yscale("log")
    ax.set_xlim(-8, 8)
    ax.set_ylim(1e-5, 1)
    ax.legend()
    ax.set_title("Return distribution")
    save(fig, "returns_hist.png")

    n = sum(len(r) for r in result.returns)
    band = 1.96 / np.sqrt(max(n, 1))
    lags = np.arange(1, len(result.ret_acf) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(lags - 0.2, result.ret_acf, width=0.4, label="acf r")
    ax.bar(lags + 0.2, result.abs_acf, width=0.4, label="acf |r|")
    ax.axhline(band, color="k", ls="--", lw=0.8, label="i.i.d. band 1.96/sqrt(N)")
    ax.axhline(-band, color="k", ls="--", lw=0.8)
    if len(result.ret_band) == len(lags):
        ax.step(lags, result.ret_band, where="mid", color="r", ls=":", lw=1, label="band for pooled, co-moving series")
        ax.step(lags, -result.ret_band, where="mid", color="r", ls=":", lw=1)
    ax.legend()
    ax.set_xlabel("lag (sampling intervals)")
    ax.set_title("Autocorrelations")
    save(fig, "autocorrelation.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted(result.kurtosis)
    ax.plot(ks, [result.kurtosis[k] for k in ks], "o-")
    ax.set_xscale("log")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("aggregation horizon (sampling intervals)")
    ax.set_ylabel("excess kurtosis")
    ax.set_title("Aggregational Gaussianity")
    save(fig, "kurtosis_horizon.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(np.arange(1, len(result.depth_profile) + 1), result.depth_profile)
    ax.set_xlabel("level from the best")
    ax.set_ylabel("share of displayed depth")
    ax.set_title("Average depth profile")
    save(fig, "depth_profile.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(result.volume_z, result.absret_z, s=3, alpha=0.3)
    ax.set_xlabel("cycle volume (z)")
    ax.set_ylabel("|cycle return| (z)")
    ax.set_title("Volume and volatility")
    save(fig, "volume_volatility.png")
    result.plots = paths
    return paths
