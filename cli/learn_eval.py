"""`trading-floor learn-eval --seeds 8 --cycles 1000`: learning traders against fixed ones on held-out
seeds, with the PnL and Sharpe differences and their 95% confidence intervals (analysis/learn_eval.py).

Each seed runs the floor twice in a temporary folder; a rich progress bar counts the runs. The heavy
imports (the floor, LangGraph) happen inside the command, so other commands start light.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _fmt(x: float, digits: int) -> str:
    return "n/a" if x != x else f"{x:+,.{digits}f}"


def render_table(report):
    """A rich Table of the report: one row per metric (fixed mean, learning mean, difference and its CI)."""
    from rich.table import Table

    n = len({r.seed for r in report.runs})
    table = Table(title=f"learning vs fixed: {n} held-out seeds x {report.cycles} cycles, "
                        f"{len(report.traders)} traders together")
    for col in ("metric", "fixed (mean)", "learning (mean)", "difference (mean)", "95% CI (t)", "seeds better"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for metric, label, digits in (("pnl", "PnL ($)", 2), ("sharpe", "Sharpe (per cycle)", 4)):
        pairs = report.paired(metric)
        ci = report.difference(metric)
        fixed = sum(f for _, f, _ in pairs) / len(pairs) if pairs else float("nan")
        learn = sum(v for _, _, v in pairs) / len(pairs) if pairs else float("nan")
        better = sum(v > f for _, f, v in pairs)
        table.add_row(label, _fmt(fixed, digits), _fmt(learn, digits), _fmt(ci.mean, digits),
                      f"[{_fmt(ci.low, digits)}, {_fmt(ci.high, digits)}]", f"{better}/{len(pairs)}")
    return table


def register(app: typer.Typer) -> None:
    @app.command("learn-eval")
    def learn_eval(
        seeds: Annotated[int, typer.Option("--seeds", min=2, help="How many held-out seeds (at least 2).")] = 8,
        cycles: Annotated[int, typer.Option("--cycles", min=2, help="Cycles per run.")] = 1000,
        first_seed: Annotated[int, typer.Option("--first-seed", help="The first held-out seed.")] = 1000,
        config: Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged one).")]
        = None,
    ) -> None:
        """Learning traders vs the same traders with fixed parameters: PnL and Sharpe differences with CIs."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from analysis.learn_eval import evaluate
        from floor.config import load_config

        cfg = load_config(config) if config else load_config()
        wanted = list(range(first_seed, first_seed + seeds))
        console = Console()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task("runs", total=2 * len(wanted))

            def done(r) -> None:
                bar.update(task, advance=1, description=f"seed {r.seed} {'learning' if r.learning else 'fixed'}")

            report = evaluate(cfg, wanted, cycles, progress=done)
        console.print(render_table(report))
        console.print("Differences are learning - fixed per seed; the CI is a two-sided 95% Student-t interval "
                      "over the seeds.")
