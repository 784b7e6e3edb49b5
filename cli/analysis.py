"""Analytics commands: `trading-floor realism | report | backtest | sweep` (issue 8).

realism   N seeds of the background market alone; stylized facts PASS/FAIL table and PNG plots.
report    a self-contained HTML report (Plotly) of the current run in a floor database.
backtest  replay an OHLCV CSV as the fundamental path and evaluate every trader on it.
sweep     a grid of config values and seeds in parallel processes; trader metrics tabulated.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import SEED_MAX
from floor.database import DEFAULT_DB

if TYPE_CHECKING:  # Rich and the analytics are imported by the commands that use them (start-up time)
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

DbOpt = Annotated[Path, typer.Option("--db", help="SQLite file holding ledger, books and checkpoints.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged floor.yaml).")]


def _console() -> Console:
    from rich.console import Console

    return Console()


def _progress(console: Console, label: str) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _num(v, fmt: str = "{:+.4f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return fmt.format(v)


def _seed_list(value: str) -> str:
    """--seeds: comma-separated integers, each a valid seed (0 .. SEED_MAX)."""
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            seed = int(part) if len(part) <= 25 else None
        except ValueError:
            seed = None
        if seed is None:
            raise typer.BadParameter(f"{part[:30]!r} is not an integer seed")
        if not 0 <= seed <= SEED_MAX:
            raise typer.BadParameter(f"seed {seed} is not in the range 0<=x<={SEED_MAX}")
    return value


def _load(console: Console, config: Path | None, fast: bool = False):
    from floor.config import load_config

    try:
        cfg = load_config(config) if config else load_config()
    except Exception as exc:  # noqa: BLE001 - a bad config file is reported, not dumped as a traceback
        console.print(f"[bold red]error:[/] cannot load config {config}: {exc}")
        raise typer.Exit(2) from None
    if fast:  # the light background of the test suite: quicker, fewer background orders
        from analysis.sweep import apply_overrides

        cfg = apply_overrides(cfg, {"market.ticks_per_cycle": 10, "market.noise.count": 300, "market.value.count": 30})
    return cfg


def trader_table(rows: list[dict], title: str) -> Table:
    from rich.table import Table

    t = Table(title=title)
    cols = [("trader", "left"), ("return", "right"), ("PnL $", "right"), ("Sharpe", "right"), ("Sortino", "right"),
            ("max DD", "right"), ("turnover", "right"), ("hit", "right"), ("hold", "right"), ("fills", "right"),
            ("shortfall bp", "right")]
    if rows and "params" in rows[0]:
        cols.insert(0, ("params", "left"))
    for c, j in cols:
        t.add_column(c, justify=j)
    for r in rows:
        cells = [r.get("trader", r.get("account", "")), _num(100 * r["return"], "{:+.2f}%"),
                 _num(r["total_pnl"] / 100, "{:+,.2f}"), _num(r["sharpe"]), _num(r["sortino"]),
                 _num(100 * r["max_drawdown"], "{:.2f}%"), _num(r["turnover"], "{:.2f}"), _num(r["hit_rate"], "{:.2f}"),
                 _num(r["avg_holding_cycles"], "{:.1f}"), _num(r["fills"], "{:.0f}"), _num(r["shortfall_bps"], "{:+.1f}")]
        if "params" in r:
            cells.insert(0, r["params"])
        t.add_row(*cells)
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def realism(
        runs: Annotated[int, typer.Option("--runs", min=1, help="Seeds to run.")] = 8,
        cycles: Annotated[int, typer.Option("--cycles", min=10, help="Cycles per seed.")] = 1000,
        interval: Annotated[int, typer.Option("--interval", min=1, help="Ticks between mid samples.")] = 20,
        out: Annotated[Path, typer.Option("--out", help="Directory for the PNG plots and facts.json.")] = Path("runs/realism"),
        workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes.")] = 2,
        first_seed: Annotated[int, typer.Option("--first-seed", min=0, max=SEED_MAX,
                                                help="Seeds are first-seed .. first-seed+runs-1.")] = 1,
        config: ConfigOpt = None,
    ) -> None:
        """Run N seeds of the background market and check the stylized facts of its returns."""
        from analysis.realism import run_realism, write_plots

        if first_seed + runs - 1 > SEED_MAX:
            raise typer.BadParameter(f"the last seed, {first_seed} + {runs} - 1, would pass {SEED_MAX}",
                                     param_hint="'--first-seed'")
        console = _console()
        cfg = _load(console, config).market
        with _progress(console, "seeds") as progress:
            task = progress.add_task("seeds", total=runs)
            result = run_realism(runs, cycles, interval=interval, config=cfg, workers=workers, first_seed=first_seed,
                                 on_done=lambda _seed: progress.advance(task))
        from rich.table import Table

        table = Table(title=f"Stylized facts: {runs} seeds x {cycles} cycles, mid sampled every {interval} ticks")
        for col in ("fact", "value", "target", "verdict"):
            table.add_column(col)
        for f in result.facts:
            table.add_row(f.name, str(f.value), f.target, "[green]PASS[/]" if f.passed else "[red]FAIL[/]")
        console.print(table)
        control = result.control
        if control is not None:  # the same test on the fundamental itself: what the seeds alone give
            console.print(f"control, the fundamental itself (a martingale by construction), same test: {control.value} "
                          f"-> {control.verdict}")
        paths = write_plots(result, out)
        (out / "facts.json").write_text(json.dumps(
            {"runs": runs, "cycles": cycles, "interval": interval, "first_seed": first_seed,
             "facts": result.table(), "control_fundamental": control.as_dict() if control else None},
            indent=2, default=str), encoding="utf-8")
        console.print(f"{result.passed}/{len(result.facts)} facts pass; plots and facts.json in {out}: "
                      + ", ".join(p.name for p in paths))

    @app.command()
    def report(
        run_arg: Annotated[int | None, typer.Argument(metavar="[RUN]", show_default=False,
                                                      help="Run id (default: the current thread's run).")] = None,
        db: DbOpt = DEFAULT_DB,
        out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("runs/report.html"),
        run_opt: Annotated[int | None, typer.Option("--run", help="Same as RUN (kept for older scripts).")] = None,
        facts: Annotated[Path | None, typer.Option("--facts", help="facts.json from `realism` to embed.")] = None,
    ) -> None:
        """Write a self-contained HTML report (Plotly) of a run: `report [RUN]`."""
        from analysis.report import write_report
        from floor.session import FloorSession

        console = _console()
        if run_arg is not None and run_opt is not None and run_arg != run_opt:
            console.print(f"[bold red]error:[/] run given twice: {run_arg} and --run {run_opt}")
            raise typer.Exit(2)
        run = run_arg if run_arg is not None else run_opt
        if not db.exists():
            console.print(f"[bold red]error:[/] no database at {db}: run `trading-floor run` first")
            raise typer.Exit(2)
        session = FloorSession(db, readonly=True)  # a reader: never waits for, nor writes under, the run's owner
        try:
            ledger = session.floor.ledger
            st = session.state()
            if run is None and not st:
                console.print(f"[bold red]error:[/] no run in {db}")
                raise typer.Exit(2)
            if run is None or run == st.get("run_id"):
                run_id, branch_id = st["run_id"], st["branch_id"]
            else:
                branches = [b for b in ledger.list_branches(run) if b.run_id == run]
                if not branches:
                    console.print(f"[bold red]error:[/] no run {run} in {db}")
                    raise typer.Exit(2)
                run_id, branch_id = run, max(b.branch_id for b in branches)
            table = json.loads(facts.read_text(encoding="utf-8"))["facts"] if facts else None
            with ledger.read_snapshot():  # whole cycles of one moment, however far the owner gets meanwhile
                ledger.use(run_id, branch_id, remember=False)
                path = write_report(ledger, out, instruments=session.floor.instruments,
                                    title=f"Trading Floor: run {run_id}, branch {branch_id}", facts=table)
        finally:
            session.close()
        console.print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")

    @app.command()
    def backtest(
        prices: Annotated[Path, typer.Option("--prices", help="OHLCV CSV: date,symbol,open,high,low,close,volume.")],
        db: Annotated[Path, typer.Option("--db", help="New SQLite file for the backtest run.")] = Path("runs/backtest.db"),
        cycles: Annotated[int | None, typer.Option("--cycles", min=1, help="At most this many dates.")] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0, max=SEED_MAX, help="Master seed.")] = None,
        config: ConfigOpt = None,
        fast: Annotated[bool, typer.Option("--fast", help="A lighter background market (quicker).")] = False,
        report_out: Annotated[Path | None, typer.Option("--report", help="Also write an HTML report here.")] = None,
    ) -> None:
        """Replay a price history as the fundamental path and evaluate every trader on it."""
        from analysis.backtest import PriceFileError, load_closes, run_backtest

        console = _console()
        cfg = _load(console, config, fast)
        try:
            dates, _ = load_closes(prices)
        except (OSError, PriceFileError) as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        total = len(dates) - 1 if cycles is None else min(cycles, len(dates) - 1)
        with _progress(console, "cycles") as progress:
            task = progress.add_task("cycles", total=total)
            try:
                res = run_backtest(prices, db, config=cfg, seed=seed, cycles=cycles,
                                   on_cycle=lambda _c: progress.advance(task))
            except PriceFileError as exc:
                console.print(f"[bold red]error:[/] {exc}")
                raise typer.Exit(2) from None
        console.print(trader_table(res.traders, f"Backtest on {prices.name}: {res.dates[0]} .. {res.dates[-1]} "
                                                f"({res.cycles} cycles)"))
        console.print("mean |mark / replayed close - 1|: "
                      + ", ".join(f"{s} {v:.1f} bp" for s, v in res.tracking_bps.items()))
        if report_out:
            from analysis.report import write_report
            from ledger.store import Ledger

            ledger = Ledger.open(db)
            try:
                runs = ledger.list_runs()
                ledger.use(runs[-1].run_id, max(b.branch_id for b in ledger.list_branches(runs[-1].run_id)))
                write_report(ledger, report_out, title=f"Backtest on {prices.name}")
            finally:
                ledger.close()
            console.print(f"report written to {report_out}")

    @app.command()
    def sweep(
        seeds: Annotated[str, typer.Option("--seeds", callback=_seed_list, help="Comma-separated seeds.")] = "1,2",
        grid: Annotated[list[str] | None, typer.Option("--set", help="key=v1,v2 (repeatable), dotted config keys.")] = None,
        cycles: Annotated[int, typer.Option("--cycles", min=1, help="Cycles per run.")] = 50,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes.")] = 2,
        config: ConfigOpt = None,
        fast: Annotated[bool, typer.Option("--fast", help="A lighter background market (quicker).")] = False,
        csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every row (each seed) to this CSV.")] = None,
    ) -> None:
        """Run a grid of configs x seeds in parallel processes and tabulate trader metrics."""
        from analysis.sweep import parse_grid, points, run_sweep, summarise

        console = _console()
        cfg = _load(console, config, fast)
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
            g = parse_grid(grid or [])
        except ValueError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        n = len(points(g, seed_list))
        with _progress(console, "runs") as progress:
            task = progress.add_task("runs", total=n)
            try:
                rows = run_sweep(cfg, g, seed_list, cycles, workers=workers, on_done=lambda _k: progress.advance(task))
            except ValueError as exc:
                console.print(f"[bold red]error:[/] {exc}")
                raise typer.Exit(2) from None
        console.print(trader_table(summarise(rows), f"Sweep: {n} runs x {cycles} cycles (mean over seeds {seeds})"))
        if csv_out:
            csv_out.parent.mkdir(parents=True, exist_ok=True)
            with open(csv_out, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            console.print(f"{len(rows)} rows written to {csv_out}")
