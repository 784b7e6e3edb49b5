"""`trading-floor stress`: every library scenario over several seeds, per theory, against the calm market.

For each (scenario, seed) the floor runs `cycles` cycles on a throw-away database, once with the scenario
and once without it (the calm baseline: the same seed, so the same market until the first event). The
event window starts at the scenario's first timed event (cycle 1 when it has only conditional ones) and
runs to the last cycle. Per theory (summed over its traders; drawdown averaged over them) it measures, in
the window:
- PnL: the change of the account value (cash plus holdings at the marks), in cents;
- drawdown: the largest fall of the account value from its running peak, in percent of that peak;
- liquidity provided and taken: shares the theory's traders traded as the resting (maker) side and as
  the incoming (aggressor) side of a trade, from the exchange's own trade events.
The stress table shows each scenario's means over the seeds next to the calm baseline's.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from market.events import TradeExecuted
from market.orders import Side
from market.scenarios import Scenario


@dataclass
class TheoryStats:
    pnl: float = 0.0  # cents
    drawdown_pct: float = 0.0
    provided: float = 0.0  # shares
    taken: float = 0.0
    traders: int = 0


@dataclass
class StressRow:
    scenario: str
    theory: str
    stressed: TheoryStats
    calm: TheoryStats


@dataclass
class _Run:
    stats: dict[str, TheoryStats] = field(default_factory=dict)


def event_window_start(scenario: Scenario | None) -> int:
    timed = [e.at for e in (scenario.events if scenario else ()) if e.at is not None and e.when is None]
    return min(timed) if timed else 1


def _drawdown_pct(values: list[int]) -> float:
    peak, worst = None, 0.0
    for v in values:
        peak = v if peak is None or v > peak else peak
        if peak > 0:
            worst = max(worst, (peak - v) / peak * 100.0)
    return worst


def run_once(config, scenario: Scenario | None, seed: int, cycles: int, window_start: int) -> dict[str, TheoryStats]:
    """One run on a temporary database: per-theory stats of the event window."""
    from floor.session import FloorSession

    theory_of = {t.name: t.theory for t in config.traders}
    provided = dict.fromkeys(theory_of, 0)
    taken = dict.fromkeys(theory_of, 0)
    with tempfile.TemporaryDirectory(prefix="tf-stress-") as tmp:
        session = FloorSession(Path(tmp) / "stress.db", config)
        try:
            session.floor.scenario = scenario
            session.start(seed=seed)
            for _ in session.iter_cycles(cycles):
                work = session.floor.work
                if work is None or work.cycle < window_start:
                    continue
                for t in work.trades():
                    if type(t) is not TradeExecuted:
                        continue
                    maker, taker = (t.seller, t.buyer) if t.aggressor is Side.BUY else (t.buyer, t.seller)
                    if maker in provided:
                        provided[maker] += t.qty
                    if taker in taken:
                        taken[taker] += t.qty
            ledger = session.floor.ledger
            out: dict[str, TheoryStats] = {}
            for name, theory in theory_of.items():
                history = [v for c, v in ledger.value_history(name) if c >= window_start - 1]
                s = out.setdefault(theory, TheoryStats())
                if history:
                    s.pnl += history[-1] - history[0]
                    s.drawdown_pct += _drawdown_pct(history)
                s.provided += provided[name]
                s.taken += taken[name]
                s.traders += 1
            for s in out.values():
                s.drawdown_pct /= max(s.traders, 1)
            return out
        finally:
            session.close()


def _mean(runs: list[dict[str, TheoryStats]]) -> dict[str, TheoryStats]:
    out: dict[str, TheoryStats] = {}
    for run in runs:
        for theory, s in run.items():
            m = out.setdefault(theory, TheoryStats(traders=s.traders))
            m.pnl += s.pnl / len(runs)
            m.drawdown_pct += s.drawdown_pct / len(runs)
            m.provided += s.provided / len(runs)
            m.taken += s.taken / len(runs)
    return out


def stress(config, scenarios: Iterable[Scenario], seeds: Iterable[int], cycles: int,
           on_run: Callable[[str, int], None] | None = None) -> list[StressRow]:
    """Run each scenario and its calm baseline over `seeds`; one row per (scenario, theory)."""
    seeds = list(seeds)
    rows: list[StressRow] = []
    for scn in scenarios:
        start = event_window_start(scn)
        if start > cycles:
            raise ValueError(f"scenario {scn.name!r} starts at cycle {start}, after the {cycles} cycles to run")
        stressed, calm = [], []
        for seed in seeds:
            stressed.append(run_once(config, scn, seed, cycles, start))
            if on_run:
                on_run(scn.name, seed)
            calm.append(run_once(config, None, seed, cycles, start))
            if on_run:
                on_run("calm", seed)
        s_mean, c_mean = _mean(stressed), _mean(calm)
        rows += [StressRow(scn.name, theory, s_mean[theory], c_mean.get(theory, TheoryStats())) for theory in s_mean]
    return rows
