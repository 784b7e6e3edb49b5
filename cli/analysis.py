"""Analytics commands: `trading-floor realism | report | backtest | sweep` (issue 8).

realism   N seeds of the background market alone; stylized facts PASS/FAIL table and PNG plots.
          (realism, backtest --seeds and sweep take --engine local|ray: processes here, or Ray tasks.)
report    a self-contained HTML report (Plotly) of the current run in a floor database.
backtest  replay an OHLCV CSV as the fundamental path and evaluate every trader on it.
sweep     a grid of config values and seeds, streamed into a Parquet dataset (--out, --resume).
sweep-report  HTML or PNG summary of a sweep dataset.
"""
from __future__ import annotations

import csv
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import SEED_MAX
from cli.run import db_exists, db_target
from floor.database import DEFAULT_DB

if TYPE_CHECKING:  # Rich and the analytics are imported by the commands that use them (start-up time)
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

DbOpt = Annotated[Path, typer.Option("--db", parser=db_target, envvar="TRADING_FLOOR_DB",
                                     help="SQLite file, or postgresql://user@host/dbname URL, holding ledger, books "
                                          "and checkpoints.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged floor.yaml).")]


class Engine(StrEnum):
    local = "local"
    ray = "ray"


EngineOpt = Annotated[Engine, typer.Option("--engine", help="local: processes on this machine; ray: one Ray task "
                                                           "per run (pip install -e '.\\[ray]').")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="Ray cluster to join: host:port, or auto "
                                                                  "(RAY_ADDRESS, else the cluster `ray start` "
                                                                  "runs here). Default: a new local Ray.")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, max=100, help="Retries of a failed or killed run "
                                                                           "before it is recorded as failed.")]


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


def _backtest_one(console: Console, prices: Path, db: Path, seed, cfg, cycles, total) -> Path:
    from analysis.backtest import PriceFileError, run_backtest

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
    return db


def _backtest_seeds(console: Console, prices: Path, db: Path, seeds: list[int], cfg, cycles, engine, address,
                    retries: int, workers: int) -> Path:
    """One backtest per seed, each a task on the engine; the table averages the metrics over the seeds."""
    from rich.markup import escape

    from analysis.backtest import PriceFileError, run_backtests, seed_db_path
    from analysis.sweep import summarise

    with _progress(console, f"seeds ({engine.value})") as progress:
        task = progress.add_task("seeds", total=len(seeds))
        try:
            results = run_backtests(prices, db, seeds, config=cfg, cycles=cycles, engine=engine.value,
                                    workers=workers, address=address, retries=retries,
                                    on_done=lambda _s: progress.advance(task))
        except (PriceFileError, RuntimeError) as exc:
            progress.stop()
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
    rows = [{"params": "backtest", "seed": s, "trader": t["account"], **t} for s, r in zip(seeds, results, strict=True)
            for t in r.traders]
    table = [{k: v for k, v in r.items() if k != "params"} for r in summarise(rows)]
    res = results[0]
    console.print(trader_table(table, f"Backtest on {prices.name}: {res.dates[0]} .. {res.dates[-1]} ({res.cycles} "
                                      f"cycles), mean over seeds {', '.join(map(str, seeds))}"))
    for s, r in zip(seeds, results, strict=True):
        console.print(f"seed {s}: {seed_db_path(db, s)}; mean |mark / replayed close - 1|: "
                      + ", ".join(f"{sym} {v:.1f} bp" for sym, v in r.tracking_bps.items()))
    return seed_db_path(db, seeds[0])


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
        engine: EngineOpt = Engine.local,
        address: AddressOpt = None,
        retries: RetriesOpt = 2,
    ) -> None:
        """Run N seeds of the background market and check the stylized facts of its returns."""
        from analysis.realism import run_realism, write_plots

        if first_seed + runs - 1 > SEED_MAX:
            raise typer.BadParameter(f"the last seed, {first_seed} + {runs} - 1, would pass {SEED_MAX}",
                                     param_hint="'--first-seed'")
        console = _console()
        cfg = _load(console, config).market
        with _progress(console, f"seeds ({engine.value})") as progress:
            task = progress.add_task("seeds", total=runs)
            try:
                result = run_realism(runs, cycles, interval=interval, config=cfg, workers=workers,
                                     first_seed=first_seed, on_done=lambda _seed: progress.advance(task),
                                     engine=engine.value, address=address, retries=retries)
            except RuntimeError as exc:
                from rich.markup import escape

                progress.stop()
                console.print(f"[bold red]error:[/] {escape(str(exc))}")
                raise typer.Exit(2) from None
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
        thread: Annotated[str | None, typer.Option("--thread", help="Report this thread's line (see "
                                                   "`trading-floor threads`) instead of the current one.")] = None,
    ) -> None:
        """Write a self-contained HTML report (Plotly) of a run: `report [RUN]`, or of one thread: `--thread`."""
        from analysis.report import write_report
        from floor.session import FloorSession

        console = _console()
        if run_arg is not None and run_opt is not None and run_arg != run_opt:
            console.print(f"[bold red]error:[/] run given twice: {run_arg} and --run {run_opt}")
            raise typer.Exit(2)
        run = run_arg if run_arg is not None else run_opt
        if not db_exists(db):
            console.print(f"[bold red]error:[/] no database at {db}: run `trading-floor run` first")
            raise typer.Exit(2)
        if thread is not None and run is not None:
            console.print("[bold red]error:[/] give a run or --thread, not both (a thread names its run)")
            raise typer.Exit(2)
        from floor.session import SessionError
        from floor.threads import known_thread_ids, unknown_thread_message

        if thread is not None and thread not in (known := known_thread_ids(db)):
            console.print(f"[bold red]error:[/] {unknown_thread_message(db, thread, known)}")
            raise typer.Exit(2)
        try:  # a reader: never waits for, nor writes under, the run's owner
            session = FloorSession(db, readonly=True, thread_id=thread)
        except SessionError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
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
        seeds: Annotated[str | None, typer.Option("--seeds", callback=lambda v: v and _seed_list(v),
                                                  help="Comma-separated seeds: one backtest per seed, each in "
                                                       "DB-seedN.db, metrics averaged.")] = None,
        engine: EngineOpt = Engine.local,
        address: AddressOpt = None,
        retries: RetriesOpt = 2,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes for --seeds (ray: "
                                                                      "CPUs of a local Ray).")] = 2,
    ) -> None:
        """Replay a price history as the fundamental path and evaluate every trader on it."""
        from analysis.backtest import PriceFileError, load_closes

        console = _console()
        cfg = _load(console, config, fast)
        try:
            dates, _ = load_closes(prices)
        except (OSError, PriceFileError) as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        total = len(dates) - 1 if cycles is None else min(cycles, len(dates) - 1)
        if seeds is not None or engine is not Engine.local:  # one task per seed (local processes or Ray)
            seed_list = [int(x) for x in seeds.split(",") if x.strip()] if seeds else [cfg.seed if seed is None else seed]
            db = _backtest_seeds(console, prices, db, seed_list, cfg, cycles, engine, address, retries, workers)
        else:
            db = _backtest_one(console, prices, db, seed, cfg, cycles, total)
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
        workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes (ray: CPUs of a "
                                                                      "local Ray instance).")] = 2,
        config: ConfigOpt = None,
        fast: Annotated[bool, typer.Option("--fast", help="A lighter background market (quicker).")] = False,
        csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every row (each seed) to this CSV.")] = None,
        engine: EngineOpt = Engine.local,
        address: AddressOpt = None,
        retries: RetriesOpt = 2,
        out: Annotated[Path | None, typer.Option("--out", help="Parquet dataset directory: each point is "
                                                               "written as it finishes.")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Skip the points already done in --out.")] = False,
        keep_dbs: Annotated[Path | None, typer.Option("--keep-dbs", help="Keep each point's run database in "
                                                                         "this directory (on a cluster: a "
                                                                         "shared path).")] = None,
    ) -> None:
        """Run a grid of configs x seeds (local processes or Ray tasks) and tabulate trader metrics."""
        from rich.markup import escape

        from analysis.sweep import DatasetExists, parse_grid, points, summarise
        from analysis.sweep import sweep as run
        from analysis.sweep_dataset import DatasetMismatch

        console = _console()
        if resume and out is None:
            raise typer.BadParameter("--resume needs --out DATASET", param_hint="'--resume'")
        cfg = _load(console, config, fast)
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
            g = parse_grid(grid or [])
        except ValueError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        n = len(points(g, seed_list))
        failed = []
        with _progress(console, f"runs ({engine.value})") as progress:
            task = progress.add_task("runs", total=n)

            def planned(to_run: int, skipped: int) -> None:
                progress.update(task, total=to_run)
                if skipped:
                    console.print(f"resuming {out}: {skipped} of {n} points already done, {to_run} to run")

            def finished(row: dict) -> None:
                if row["status"] != "ok":
                    failed.append(row)
                    progress.update(task, description=f"runs, {len(failed)} failed")
                progress.advance(task)

            try:
                outcome = run(cfg, g, seed_list, cycles, engine=engine.value, workers=workers, address=address,
                              retries=retries, out=out, resume=resume, keep_dbs=keep_dbs, on_plan=planned,
                              on_result=finished)
            except (ValueError, DatasetExists, DatasetMismatch, RuntimeError) as exc:
                progress.stop()
                console.print(f"[bold red]error:[/] {escape(str(exc))}")
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                progress.stop()
                saved = f"; the finished points are in {out}: run again with --resume to finish" if out else ""
                console.print(f"[bold yellow]cancelled[/]: {int(progress.tasks[0].completed)} points had finished"
                              f"{saved}")
                raise typer.Exit(130) from None
        rows = outcome.rows
        if rows:
            console.print(trader_table(summarise(rows), f"Sweep: {n} runs x {cycles} cycles (mean over seeds "
                                                        f"{seeds})"))
        if out is not None:
            console.print(f"{len(outcome.records)} points in the dataset {out}")
        if csv_out and rows:
            csv_out.parent.mkdir(parents=True, exist_ok=True)
            with open(csv_out, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            console.print(f"{len(rows)} rows written to {csv_out}")
        if outcome.failed:
            for r in outcome.failed:
                console.print(f"[red]failed[/] {escape(r['label'])} seed {r['seed']}: {escape(r['error'] or '')}")
            console.print(f"[bold red]{len(outcome.failed)} of {n} points failed[/] after {retries} retries"
                          + (f" (recorded in {out}; --resume runs them again)" if out else ""))
            raise typer.Exit(1)

    @app.command("sweep-report")
    def sweep_report(
        dataset: Annotated[Path, typer.Argument(help="A sweep's Parquet dataset directory (sweep --out).")],
        out: Annotated[Path | None, typer.Option("--out", help="Report file: .html (Plotly) or .png "
                                                               "(default: DATASET-report.html beside it).")] = None,
        metric: Annotated[str, typer.Option("--metric", help="Metric to compare and rank by.")] = "return",
    ) -> None:
        """Summarise a sweep: a metric by parameter with confidence intervals over seeds, and rank stability."""
        from rich.markup import escape

        from analysis.sweep_dataset import read_rows
        from analysis.sweep_report import summarise_dataset, write_report

        console = _console()
        rows = read_rows(dataset)
        if not rows:
            console.print(f"[bold red]error:[/] no sweep rows in {escape(str(dataset))} (make one with "
                          "`trading-floor sweep --out DIR`)")
            raise typer.Exit(2)
        target = out or dataset.with_name(f"{dataset.name}-report.html")
        try:
            summary = summarise_dataset(rows, metric)
            path = write_report(summary, target, title=f"Sweep {dataset.name}")
        except ValueError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        from rich.table import Table

        table = Table(title=f"Rank by {metric} over {summary.runs} runs (Kendall's W {_num(summary.kendall_w, '{:.3f}')})")
        for col in ("trader", "mean rank", "sd", "ranked first"):
            table.add_column(col, justify="left" if col == "trader" else "right")
        for r in summary.rank_table:
            table.add_row(r["trader"], _num(r["mean_rank"], "{:.2f}"), _num(r["sd_rank"], "{:.2f}"),
                          f"{100 * r['first_share']:.0f}%")
        console.print(table)
        if summary.failed:
            console.print(f"{summary.failed} failed points are not counted")
        console.print(f"report written to {path}")
