"""Does learning help? `trading-floor learn-eval`: learning traders against the same traders with fixed
parameters, on held-out seeds (issue 19).

For each seed the same floor runs twice, once as configured (fixed parameters) and once with `learning:`
on for every trader whose theory has a default grid (traders/memory/grids.py). Per run, over those
traders together: the PnL (their summed portfolio value at the end minus at the start, in dollars) and
the per-cycle Sharpe ratio of that summed value path (not annualised; analysis/metrics.py). The paired
difference learning - fixed per seed gives the mean difference and a two-sided 95% Student-t confidence
interval over the seeds (df = seeds - 1). Whatever the numbers are, they are reported as they come out.

Held-out seeds: 1000 + k by default, never used while the learner was built (tests use 5, benches 7).
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.metrics import returns_from_values, sharpe

FIRST_HELD_OUT_SEED = 1000

# two-sided 95% Student-t critical values t(0.975, df), df = 1..30 (standard table values)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_critical_975(df: int) -> float:
    """t(0.975, df): the table up to df 30, beyond it the normal quantile with its first correction."""
    if df < 1:
        raise ValueError("a t interval needs at least two observations")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df)


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int


def mean_ci(diffs: Sequence[float]) -> Interval:
    """Mean of paired differences with its two-sided 95% t interval (nan bounds for one value; non-finite
    values are left out)."""
    x = np.asarray([d for d in diffs if math.isfinite(d)], dtype=float)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if x.size < 2:
        return Interval(m, math.nan, math.nan, 1)
    half = t_critical_975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return Interval(m, m - half, m + half, int(x.size))


@dataclass(frozen=True)
class RunResult:
    seed: int
    learning: bool
    pnl: float     # dollars, the learning traders together
    sharpe: float  # per cycle, of their summed value path


@dataclass(frozen=True)
class EvalReport:
    cycles: int
    traders: tuple[str, ...]
    runs: tuple[RunResult, ...]

    def paired(self, metric: str) -> list[tuple[int, float, float]]:
        """(seed, fixed, learning) of `metric` ("pnl" or "sharpe"), seeds in order."""
        by = {(r.seed, r.learning): getattr(r, metric) for r in self.runs}
        seeds = sorted({r.seed for r in self.runs})
        return [(s, by[(s, False)], by[(s, True)]) for s in seeds if (s, False) in by and (s, True) in by]

    def difference(self, metric: str) -> Interval:
        return mean_ci([lrn - fix for _, fix, lrn in self.paired(metric)])


def run_metrics(values_by_trader: dict[str, list[tuple[int, int]]]) -> tuple[float, float]:
    """(PnL in dollars, per-cycle Sharpe) of the traders' summed value path (cents per cycle)."""
    total: dict[int, int] = {}
    for rows in values_by_trader.values():
        for cycle, value in rows:
            total[cycle] = total.get(cycle, 0) + value
    path = [total[c] for c in sorted(total)]
    if len(path) < 2:
        return 0.0, math.nan
    return (path[-1] - path[0]) / 100.0, sharpe(returns_from_values(path))


def run_once(cfg, seed: int, cycles: int, traders: Sequence[str], workdir: Path) -> tuple[float, float]:
    from floor.session import FloorSession

    session = FloorSession(workdir / f"seed{seed}-{id(cfg)}.db", cfg)
    try:
        session.start(seed=seed)
        session.run(cycles)
        led = session.floor.ledger
        return run_metrics({t: led.value_history(t) for t in traders})
    finally:
        session.close()


def evaluate(cfg, seeds: Sequence[int], cycles: int,
             progress: Callable[[RunResult], None] | None = None) -> EvalReport:
    """Run `cfg` fixed and with learning on each seed (see the module docstring)."""
    from traders.memory.grids import with_learning

    learning = with_learning(cfg)
    traders = tuple(t.name for t in learning.traders if t.learning is not None)
    if not traders:
        raise ValueError("no trader of this config has a learning grid: nothing to compare")
    runs = []
    with tempfile.TemporaryDirectory(prefix="learn-eval-") as tmp:
        for seed in seeds:
            for on, c in ((False, cfg), (True, learning)):
                if not on:  # "fixed": the config's own learners too run without learning
                    c = type(c).model_validate(c.model_dump() | {"traders": [
                        t.model_dump(exclude={"learning"}) for t in c.traders]})
                pnl, sh = run_once(c, seed, cycles, traders, Path(tmp))
                result = RunResult(seed, on, pnl, sh)
                runs.append(result)
                if progress is not None:
                    progress(result)
    return EvalReport(cycles, traders, tuple(runs))
