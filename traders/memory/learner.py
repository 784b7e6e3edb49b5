"""Rule-mode learning: Thompson sampling over a small grid of a theory's parameter values ("arms").

The learner keeps no state of its own: its choice at a cycle is a function of the outcomes visible on the
branch's line (the memories' markouts, by arm), the run's seed, the trader and the cycle. So a rollback
and re-run, which sees the same memories, makes the same choice bit for bit, and a fork learns from its
own line only. Each arm's mean markout gets a Gaussian posterior (prior mean 0, one pseudo-observation of
`prior_sd`); the arm with the largest draw is chosen, from a generator seeded by (seed, trader, cycle).
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Choice:
    arm: str
    index: int
    stats: dict[str, tuple[int, float]]  # arm -> (outcomes seen, mean markout in bp)
    reason: str


def _rng(seed: int, trader: str, cycle: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(cycle), zlib.crc32(trader.encode())])


def arm_stats(arms: Sequence[str], outcomes: Iterable[tuple[str, float]]) -> dict[str, tuple[int, float]]:
    sums = {a: [0, 0.0] for a in arms}
    for arm, markout in outcomes:
        if arm in sums:
            sums[arm][0] += 1
            sums[arm][1] += float(markout)
    return {a: (n, s / n if n else 0.0) for a, (n, s) in sums.items()}


def choose(arms: Sequence[str], outcomes: Iterable[tuple[str, float]], *, seed: int, trader: str, cycle: int,
           prior_sd: float = 10.0, noise_sd: float = 10.0, label: str = "") -> Choice:
    """Pick an arm from past (arm, markout_bp) outcomes; `label` names the parameter in the reason."""
    if not arms:
        raise ValueError("a learner needs at least one arm")
    stats = arm_stats(arms, outcomes)
    rng = _rng(seed, trader, cycle)
    draws = []
    for a in arms:
        n, mean = stats[a]
        precision = 1.0 / prior_sd ** 2 + n / noise_sd ** 2
        post_mean = (n * mean / noise_sd ** 2) / precision
        draws.append(rng.normal(post_mean, (1.0 / precision) ** 0.5))
    i = max(range(len(draws)), key=draws.__getitem__)  # the first largest, as np.argmax
    arm = arms[i]
    n, mean = stats[arm]
    others = [(stats[a][1], a) for a in arms if a != arm and stats[a][0] > 0]
    name = f"{label} {arm}" if label else arm
    total = sum(s[0] for s in stats.values())
    if n == 0:
        reason = f"{name}: exploring, no outcome of it yet ({total} outcomes of other values)"
    elif not others:
        reason = f"{name}: {mean:+.1f} bp mean markout over {n} outcomes, no other value tried yet"
    else:
        best_other, other = max(others)
        reason = (f"{name}: {mean - best_other:+.1f} bp markout vs {other} "
                  f"({mean:+.1f} bp over {n}, {best_other:+.1f} bp over {stats[other][0]}; {total} outcomes)")
    return Choice(arm, i, stats, reason)
