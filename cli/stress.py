"""`trading-floor stress`: the scenario library over several seeds, per theory, against the calm market.

Each run uses a throw-away database (floor/scenario_stress.py says what is measured). Imports of the
floor happen inside the command, so `--help` stays light.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def stress(
        scenario: Annotated[list[str] | None, typer.Option("--scenario", help="A scenario file or library name; "
                                                           "repeat for several (default: the whole library).")] = None,
        seeds: Annotated[int, typer.Option("--seeds", min=1, max=100, help="Seeds per scenario (1..N).")] = 3,
        cycles: Annotated[int, typer.Option("--cycles", min=1, max=10_000, help="Cycles per run.")] = 12,
        config: Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged one).")] = None,
    ) -> None:
        """Run each library scenario over several seeds and tabulate, per theory, drawdown, PnL and the
        liquidity provided and taken during the event, against the calm baseline (same seeds)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from cli.errors import config_sentence
        from floor.config import load_config
        from floor.scenario_file import ScenarioError, library, load_scenario
        from floor.scenario_stress import stress as run_stress

        console = Console()
        try:
            cfg = load_config(config) if config else load_config()
        except Exception as exc:  # noqa: BLE001 - a bad config is one line
            fail(f"cannot load config {config}: {config_sentence(exc)}")
        try:
            scenarios = [load_scenario(s) for s in (scenario or [p for p in library()])]
        except ScenarioError as exc:
            fail(str(exc))
        total = len(scenarios) * seeds * 2
        progress = Progress(TextColumn("[bold]stress"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[info]}"), console=console)
        with progress:
            task = progress.add_task("stress", total=total, info="")
            try:
                rows = run_stress(cfg, scenarios, range(1, seeds + 1), cycles,
                                  on_run=lambda name, seed: progress.update(task, advance=1, info=f"{name} seed {seed}"))
            except ValueError as exc:
                fail(str(exc))
        table = Table(title=f"Stress: {seeds} seed(s) x {cycles} cycles; event window from the first event; "
                            "scenario (calm baseline)")
        for col in ("scenario", "theory", "PnL $", "drawdown %", "provided", "taken"):
            table.add_column(col, justify="left" if col in ("scenario", "theory") else "right")
        for r in rows:
            s, c = r.stressed, r.calm
            table.add_row(r.scenario, r.theory, f"{s.pnl / 100:+,.2f} ({c.pnl / 100:+,.2f})",
                          f"{s.drawdown_pct:.2f} ({c.drawdown_pct:.2f})", f"{s.provided:,.0f} ({c.provided:,.0f})",
                          f"{s.taken:,.0f} ({c.taken:,.0f})")
        console.print(table)
