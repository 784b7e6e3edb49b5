"""Scripted cycle runs: `trading-floor run | rollback | fork | status | history | reset`.

Every command works on one SQLite file (`--db`, default runs/floor.db) that holds the ledger, the books'
snapshots and LangGraph's checkpoints. `run` continues the current thread when there is one.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graphs.session import DEFAULT_DB, FloorSession, SessionError, checkpoint_path_for
from graphs.traders.config import load_config

DbOpt = Annotated[Path, typer.Option("--db", help="SQLite file holding ledger, books and checkpoints.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged floor.yaml).")]


def _fail(console: Console, message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _open(console: Console, db: Path, config: Path | None = None, llm: bool | None = None, **kw) -> FloorSession:
    try:
        cfg = load_config(config) if config else load_config()
    except Exception as exc:  # noqa: BLE001 - a bad config file is reported, not dumped as a traceback
        _fail(console, f"cannot load config {config}: {exc}")
    if llm is not None:
        cfg = cfg.with_mode("llm" if llm else "rule")
    try:
        return FloorSession(db, cfg, **kw)
    except SessionError as exc:
        _fail(console, str(exc))


def _open_run(console: Console, db: Path) -> FloorSession:
    """A session on the database's current run, or a clear error when there is none."""
    session = _open(console, db)
    if session.thread is None:
        _fail(console, f"no run in {db}: start one with `trading-floor run`")
    return session


def leaderboard_table(rows: list[dict], title: str = "Leaderboard") -> Table:
    table = Table(title=title)
    for col, justify in (("#", "right"), ("trader", "left"), ("theory", "left"), ("value", "right"),
                         ("PnL", "right"), ("return", "right"), ("realized", "right")):
        table.add_column(col, justify=justify)
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), r["account"], r.get("theory", ""), f"${r['value'] / 100:,.2f}",
                      f"{r['change'] / 100:+,.2f}", f"{r['return_pct']:+.2f}%", f"{r['realized_pnl'] / 100:+,.2f}")
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        cycles: Annotated[int, typer.Option("--cycles", min=1, help="Cycles to run (again to continue).")] = 200,
        seed: Annotated[int | None, typer.Option("--seed", help="Master seed of a new run.")] = None,
        db: DbOpt = DEFAULT_DB,
        config: ConfigOpt = None,
        llm: Annotated[bool | None, typer.Option("--llm/--no-llm", help="Switch every trader to LLM or rule mode.")] = None,
        new: Annotated[bool, typer.Option("--new", help="Start a new run even if one exists.")] = False,
    ) -> None:
        """Run N trading cycles with a progress bar and a live leaderboard; continue the current run if any."""
        console = Console()
        session = _open(console, db, config, llm)
        if session.thread is None or new:
            session.start(seed=seed)
            console.print(f"new run on thread [bold]{session.thread.thread_id}[/] (seed {session.floor.config.seed})")
        elif seed is not None:
            console.print("[yellow]--seed applies to a new run; continuing the current one (use --new)[/]")
        start = time.perf_counter()
        totals = {"trades": 0, "floor_trades": 0, "orders": 0, "rejections": 0}
        progress = Progress(TextColumn("[bold]cycles"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[info]}"), console=console, transient=False)
        task = progress.add_task("run", total=cycles, info="")
        last_board = 0.0
        with Live(progress, console=console, refresh_per_second=8) as live:
            for report in session.iter_cycles(cycles):
                if report.interrupted:
                    live.stop()
                    console.print(f"cycle {report.cycle} waits for approval of {len(report.interrupted.get('orders', []))} "
                                  "orders: answer it from the chat UI")
                    break
                for k in totals:
                    totals[k] += report.summary.get(k, 0)
                progress.update(task, advance=1, info=f"cycle {report.cycle} · trades {totals['trades']:,}")
                if time.perf_counter() - last_board > 1.0:
                    last_board = time.perf_counter()
                    live.update(_live(progress, session))
            live.update(_live(progress, session))
        elapsed = time.perf_counter() - start
        console.line()
        console.print(f"ran to cycle {session.state()['cycle']} in {elapsed:.1f}s: {totals['trades']:,} trades "
                      f"({totals['floor_trades']:,} with floor traders), {totals['orders']:,} floor orders, "
                      f"{totals['rejections']:,} rejected")
        session.close()

    @app.command()
    def rollback(
        to_cycle: Annotated[int, typer.Option("--to-cycle", min=0, help="Cycle to return to.")],
        db: DbOpt = DEFAULT_DB,
    ) -> None:
        """Roll the current thread back to the end of cycle K; the discarded future is kept as a branch."""
        console = Console()
        session = _open_run(console, db)
        try:
            out = session.rollback(to_cycle)
        except SessionError as exc:
            _fail(console, str(exc))
        console.print(f"rolled back to cycle {out['cycle']}; continuing on branch {out['branch_id']} "
                      f"(branch {out['kept_branch']} keeps the discarded future)")
        session.close()

    @app.command()
    def fork(
        at_cycle: Annotated[int, typer.Option("--at-cycle", min=0, help="Cycle to fork at.")],
        db: DbOpt = DEFAULT_DB,
        config: ConfigOpt = None,
        label: Annotated[str | None, typer.Option("--label")] = None,
    ) -> None:
        """A what-if branch continuing from cycle K (optionally with another config) on a new thread."""
        console = Console()
        session = _open_run(console, db)
        new_cfg = None
        if config:
            try:
                new_cfg = load_config(config)
            except Exception as exc:  # noqa: BLE001
                _fail(console, f"cannot load config {config}: {exc}")
        try:
            thread = session.fork(at_cycle, new_cfg, label=label)
        except SessionError as exc:
            _fail(console, str(exc))
        console.print(f"forked at cycle {at_cycle}: thread [bold]{thread.thread_id}[/] is now current "
                      f"(thread {thread.parent_thread} untouched)")
        session.close()

    @app.command()
    def status(db: DbOpt = DEFAULT_DB) -> None:
        """Where the current run stands: thread, branch, cycle, threads, leaderboard."""
        console = Console()
        if not Path(db).exists():
            _fail(console, f"no database at {db}: start a run with `trading-floor run`")
        session = _open_run(console, db)
        st = session.state()
        console.print(f"thread [bold]{session.thread.thread_id}[/], run {st['run_id']}, branch {st['branch_id']}, "
                      f"cycle {st['cycle']}")
        threads = Table(title="Threads")
        for col in ("thread", "run", "forked from", "at cycle", "label"):
            threads.add_column(col)
        for t in session.threads.all():
            threads.add_row(t.thread_id, str(t.run_id), t.parent_thread or "", str(t.forked_at or ""), t.label or "")
        console.print(threads)
        console.print(leaderboard_table(session.leaderboard()))
        session.close()

    @app.command()
    def history(db: DbOpt = DEFAULT_DB, limit: Annotated[int, typer.Option("--limit")] = 20) -> None:
        """The current thread's completed cycles, newest first, with their checkpoint ids."""
        console = Console()
        session = _open_run(console, db)
        table = Table(title=f"History of {session.thread.thread_id}")
        for col in ("cycle", "branch", "trades", "floor trades", "checkpoint"):
            table.add_column(col)
        for h in session.history()[:limit]:
            s = h["summary"]
            table.add_row(str(h["cycle"]), str(h["branch_id"]), str(s.get("trades", "")),
                          str(s.get("floor_trades", "")), h["checkpoint_id"])
        console.print(table)
        session.close()

    @app.command()
    def reset(
        db: DbOpt = DEFAULT_DB,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    ) -> None:
        """Delete the run database (ledger, books, checkpoints) to start afresh."""
        console = Console()
        files = [Path(str(db) + suffix) for suffix in ("", "-wal", "-shm")]
        for extra in (Path(db).with_suffix(".llm-cache.db"), Path(checkpoint_path_for(str(db)))):
            files += [Path(str(extra) + suffix) for suffix in ("", "-wal", "-shm")]
        present = [f for f in files if f.exists()]
        if not present:
            console.print(f"nothing to reset at {db}")
            return
        if not yes and not typer.confirm(f"delete {', '.join(map(str, present))}?"):
            raise typer.Exit(1)
        for f in present:
            f.unlink()
        console.print(f"reset: removed {len(present)} file(s)")


def _live(progress: Progress, session: FloorSession):
    from rich.console import Group

    return Group(progress, leaderboard_table(session.leaderboard()[:6], title="Live leaderboard"))
