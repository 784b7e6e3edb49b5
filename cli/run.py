"""Scripted cycle runs: `trading-floor run | rollback | fork | pause | status | history | reset`.

Every command works on one SQLite file (`--db`, default runs/floor.db; or a `postgresql://` URL, also from
TRADING_FLOOR_DB) that holds the ledger, the books' snapshots and LangGraph's checkpoints. `run` continues the current thread when there is one.

One process at a time advances a run (floor/ownership/lease.py): a second `run` is refused with the
holder's name (exit code 3), or queues behind it with `--wait`. `rollback`, `fork`, `pause` and `reset`
while another process runs are delivered to it and applied at its next cycle boundary; the command
prints what the owner answered. `status`, `history` and `export` only read (they work on a read-only
file) and see whole cycles.

Start-up: the module imports only what declaring the commands needs (typer, the option types); the floor,
the ledger, Rich and (for `run`) LangGraph are imported inside the commands that use them, so `--help`,
`status` and `history` start fast (bench/bench_startup.py).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cli.errors import EXIT_BUSY, SEED_MAX, config_sentence, fail, one_line
from floor.database import DEFAULT_DB

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from floor.config import FloorConfig
    from floor.ownership.lease import Lease, LeaseHeld
    from floor.run_reader import RunReader
    from floor.session import FloorSession

# ledger/fillkeys.py MAX_CYCLE, the last cycle a run can reach, written out so that declaring `--cycles`
# and `--until` does not import the ledger (tests/test_startup_imports.py checks that the two agree)
MAX_CYCLE = (1 << 24) - 1

def db_target(value: str | Path) -> Path | str:
    """`--db`: a SQLite path (a Path, as always), or a PostgreSQL URL kept as text (a Path would fold its `//`)."""
    text = str(value)
    return text if text.startswith(("postgresql://", "postgres://")) else Path(text)


def db_exists(db: Path | str) -> bool:
    """A SQLite file is there; on PostgreSQL, the URL's database (and `?schema=`) holds a ledger. A server
    that cannot be reached raises StorageUnavailable, which the command reports in one line."""
    if not (isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))):
        return Path(db).exists()
    from ledger.dialect import postgres
    from ledger.pg_connection import connect

    conn = connect(db, create_schema=False)  # a missing schema holds no run (and is not created)
    try:
        return postgres().has_table(conn, "runs")
    finally:
        conn.close()


DbOpt = Annotated[Path, typer.Option("--db", parser=db_target, envvar="TRADING_FLOOR_DB",
                                     help="SQLite file, or postgresql://user@host/dbname URL, holding ledger, books "
                                          "and checkpoints.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Floor YAML (default: the packaged floor.yaml).")]
ThreadOpt = Annotated[str | None, typer.Option("--thread", help="Work on this thread (see `trading-floor threads`) "
                                               "instead of the current one, for this command only.")]


def _fail(console: Console, message: str) -> NoReturn:
    """One line on stderr, `error: ...`, exit code 2 (cli/errors.py)."""
    fail(message)


def _busy(console: Console, exc: LeaseHeld) -> NoReturn:
    typer.echo(f"busy: {one_line(str(exc))}", err=True)
    raise typer.Exit(EXIT_BUSY)


def _requested_config(console: Console, config: Path | None, llm: bool | None) -> FloorConfig:
    from floor.config import DEFAULT_CONFIG_PATH, load_config

    try:
        cfg = load_config(config) if config else load_config()
    except Exception as exc:  # noqa: BLE001 - a bad config file is reported, not dumped as a traceback
        _fail(console, f"cannot load config {config or DEFAULT_CONFIG_PATH}: {config_sentence(exc)}")
    return cfg.with_mode("llm" if llm else "rule") if llm is not None else cfg


def _open(console: Console, db: Path, config: Path | None = None, llm: bool | None = None, **kw) -> FloorSession:
    from floor.session import FloorSession, SessionError

    cfg = _requested_config(console, config, llm)
    try:
        return FloorSession(db, cfg, **kw)
    except SessionError as exc:
        _fail(console, str(exc))


def _check_thread(console: Console, db: Path, thread: str | None) -> None:
    """`--thread` names a thread of this database, or the command ends in one line listing its threads."""
    if thread is None:
        return
    from floor.threads import known_thread_ids, unknown_thread_message

    known = known_thread_ids(db)
    if thread not in known:
        _fail(console, unknown_thread_message(db, thread, known))


def _open_run(console: Console, db: Path, *, readonly: bool = False, thread: str | None = None) -> FloorSession:
    """A session on the database's current run (or on `thread`), or a clear error when there is none.
    Readers open the file read-only: they never write, never wait for the run's owner, and see whole
    cycles only."""
    if readonly and not db_exists(db):
        _fail(console, f"no database at {db}: start a run with `trading-floor run`")
    _check_thread(console, db, thread)
    session = _open(console, db, readonly=readonly, thread_id=thread)
    if session.thread is None:
        session.close()
        _fail(console, f"no run in {db}: start one with `trading-floor run`")
    return session


def _open_reader(console: Console, db: Path, thread: str | None = None) -> RunReader:
    """`status` and `history`: the light read-only view of the current run (or `thread`; floor/run_reader.py),
    or a clear error when there is none."""
    if not db_exists(db):
        _fail(console, f"no database at {db}: start a run with `trading-floor run`")
    _check_thread(console, db, thread)
    from floor.run_reader import RunReader

    try:
        reader = RunReader(db, thread_id=thread)
    except LookupError as exc:
        _fail(console, str(exc))
    if reader.thread is None:
        reader.close()
        _fail(console, f"no run in {db}: start one with `trading-floor run`")
    return reader


def config_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dumps."""
    out = []
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out


def thread_config_with_env(session: FloorSession) -> FloorConfig:
    """The current thread's config with today's FLOOR_* environment applied on top."""
    from floor.config import FloorConfig

    return FloorConfig(**session.thread.config)


def _llm_status(console: Console, conn, branch_id: int, cycle: int) -> None:
    """`status`: per trader, decisions by the model, fallbacks by reason, answers, tokens and cost."""
    from rich.table import Table

    from ledger import llm_spend
    from traders.llm.tally import per_trader_rows

    rows = per_trader_rows(llm_spend.per_trader(conn, branch_id, upto=cycle))
    if not rows:
        return
    table = Table(title="LLM decisions")
    for col, justify in (("trader", "left"), ("by the model", "right"), ("fell back", "left"),
                         ("answers", "right"), ("tokens", "right"), ("cost", "right")):
        table.add_column(col, justify=justify)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def leaderboard_table(rows: list[dict], title: str = "Leaderboard") -> Table:
    from rich.table import Table

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
        cycles: Annotated[int | None, typer.Option("--cycles", min=1, max=MAX_CYCLE,
                                                   help="Cycles to run, more each time (default 200).")] = None,
        until: Annotated[int | None, typer.Option("--until", min=0, max=MAX_CYCLE,
                                                  help="Run up to this cycle: re-running the same command "
                                                       "after a crash ends at the same cycle.")] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0, max=SEED_MAX, help="Master seed of a new run.")] = None,
        db: DbOpt = DEFAULT_DB,
        config: ConfigOpt = None,
        llm: Annotated[bool | None, typer.Option("--llm/--no-llm", help="Switch every trader to LLM or rule mode.")] = None,
        new: Annotated[bool, typer.Option("--new", help="Start a new run even if one exists.")] = False,
        wait: Annotated[bool, typer.Option("--wait", help="If another process is running this database, "
                                           "wait for it to finish instead of giving up.")] = False,
        thread: ThreadOpt = None,
        strict_llm: Annotated[bool, typer.Option("--strict-llm", help="Stop before cycle 1 when an LLM trader's "
                                                 "endpoint has no API key or does not answer (default: report "
                                                 "it, and those traders fall back to their rules, marked).")]
        = False,
        scenario: ScenarioOpt = None,
    ) -> None:
        """Run N trading cycles with a progress bar and a live leaderboard; continue the current run if any."""
        from rich.console import Console

        from floor.ownership.lease import LeaseHeld

        console = Console()
        if cycles is not None and until is not None:
            _fail(console, "give either --cycles N (N more cycles) or --until CYCLE, not both")
        if thread is not None and new:
            _fail(console, "--thread continues an existing thread; --new starts a new run: give one of them")
        _check_thread(console, db, thread)
        session = _open(console, db, config, llm, thread_id=thread)
        try:
            session.own(wait=float("inf") if wait else 0.0,
                        on_wait=lambda h: console.print(f"waiting: pid {h.pid} (`{h.command}`) is running {db}"),
                        prepare=False)  # the cycle graph is compiled when a cycle runs: never for `--until` reached
        except LeaseHeld as exc:
            session.close()
            _busy(console, exc)
        if scenario is not None:
            _use_scenario(session, scenario, new)
        try:
            _run(console, session, cycles, until, seed, new, config, llm, strict_llm=strict_llm)
        finally:
            session.close()

    @app.command()
    def rollback(
        to_cycle: Annotated[int, typer.Option("--to-cycle", min=0, help="Cycle to return to.")],
        db: DbOpt = DEFAULT_DB,
        timeout: TimeoutOpt = 60.0,
    ) -> None:
        """Roll the current thread back to the end of cycle K; the discarded future is kept as a branch."""
        from rich.console import Console

        console = Console()
        session = _open_run(console, db)
        args = {"to_cycle": to_cycle, "thread_id": session.thread.thread_id}
        out = _control(console, session, "rollback", args, timeout, lambda: session.rollback(to_cycle))
        console.print(f"rolled back to cycle {out['cycle']}; continuing on branch {out['branch_id']} "
                      f"(branch {out['kept_branch']} keeps the discarded future)")

    @app.command()
    def fork(
        at_cycle: Annotated[int, typer.Option("--at-cycle", min=0, help="Cycle to fork at.")],
        db: DbOpt = DEFAULT_DB,
        config: ConfigOpt = None,
        label: Annotated[str | None, typer.Option("--label")] = None,
        timeout: TimeoutOpt = 60.0,
        scenario: ScenarioOpt = None,
    ) -> None:
        """A what-if branch continuing from cycle K on a new thread, with the run's config, FLOOR_*
        overrides on top, or another --config file."""
        from rich.console import Console

        from floor.config import load_config

        console = Console()
        session = _open_run(console, db)
        try:
            new_cfg = load_config(config) if config else thread_config_with_env(session)
        except Exception as exc:  # noqa: BLE001
            session.close()
            _fail(console, f"cannot load config {config or 'from FLOOR_* variables'}: {config_sentence(exc)}")
        changed = config_differences(session.thread.config, new_cfg.model_dump(mode="json"))
        cfg_arg = new_cfg.model_dump(mode="json") if changed else None
        args = {"at_cycle": at_cycle, "config": cfg_arg, "label": label, "thread_id": session.thread.thread_id}
        parent = session.thread.thread_id
        if scenario is not None:  # applied here, by this process: the run must be idle
            out = _fork_with_scenario(console, session, scenario, at_cycle, new_cfg if changed else None, label)
        else:
            out = _control(console, session, "fork", args, timeout,
                           lambda: {"thread_id": session.fork(at_cycle, new_cfg if changed else None,
                                                              label=label).thread_id})
        what = f" with {', '.join(changed)} changed" if changed else ""
        console.print(f"forked at cycle {at_cycle}{what}: thread [bold]{out['thread_id']}[/] is now current "
                      f"(thread {parent} untouched)")

    @app.command()
    def pause(db: DbOpt = DEFAULT_DB, timeout: TimeoutOpt = 60.0) -> None:
        """Ask the process running this database to stop at its next cycle boundary."""
        from rich.console import Console

        from floor.ownership.commands import ControlRefused, own_or_deliver
        from floor.ownership.lease import Lease

        console = Console()
        if not db_exists(db):
            _fail(console, f"no database at {db}")
        try:
            out = own_or_deliver(str(db), "pause", {}, timeout=timeout)
        except ControlRefused as exc:
            _fail(console, str(exc))
        if isinstance(out, Lease):
            out.release()
            console.print(f"nothing to pause: no process is running {db}")
            return
        console.print(f"paused: the run stopped after cycle {out['cycle']} (thread {out['thread_id']})")

    @app.command()
    def status(db: DbOpt = DEFAULT_DB, thread: ThreadOpt = None) -> None:
        """Where the current run (or --thread) stands: thread, branch, cycle, threads, leaderboard."""
        from rich.console import Console
        from rich.table import Table

        from floor.ownership.lease import live_holder

        console = Console()
        session = _open_reader(console, db, thread)
        try:
            st = session.state()
            console.print(f"thread [bold]{session.thread.thread_id}[/], run {st['run_id']}, "
                          f"branch {st['branch_id']}, cycle {st['cycle']}")
            holder = live_holder(session.ledger.conn)
            console.print(f"running: {holder.describe()}" if holder else "idle: no process is running it")
            threads = Table(title="Threads")
            for col in ("thread", "run", "forked from", "at cycle", "label"):
                threads.add_column(col)
            for t in session.threads.all():
                threads.add_row(t.thread_id, str(t.run_id), t.parent_thread or "", str(t.forked_at or ""),
                                t.label or "")
            console.print(threads)
            console.print(leaderboard_table(session.leaderboard()))
            _llm_status(console, session.ledger.conn, st["branch_id"], st["cycle"])
        finally:
            session.close()

    @app.command()
    def history(db: DbOpt = DEFAULT_DB, limit: Annotated[int, typer.Option("--limit")] = 20,
                thread: ThreadOpt = None) -> None:
        """The current thread's (or --thread's) completed cycles, newest first, with their checkpoint ids."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        session = _open_reader(console, db, thread)
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
        timeout: TimeoutOpt = 60.0,
    ) -> None:
        """Delete the run database (ledger, books, checkpoints) to start afresh; a process running it is
        asked to stop first."""
        from rich.console import Console

        from floor import database as run_database

        console = Console()
        if not isinstance(db, Path):  # PostgreSQL: the run's schemas, with the same confirmation and hand-over
            _reset_pg(console, db, yes, timeout)
            return
        files = []
        for base in (Path(db), Path(db).with_suffix(".llm-cache.db"), run_database.legacy_checkpoint_path(str(db))):
            files += [Path(str(base) + suffix) for suffix in ("", "-wal", "-shm")]
        present = [f for f in files if f.exists()]
        if not present:
            console.print(f"nothing to reset at {db}")
            return
        if not yes and not typer.confirm(f"delete {', '.join(map(str, present))}?"):
            raise typer.Exit(1)
        lease = _reset_hand_over(console, db, str(db), timeout) if Path(db).exists() else None
        for f in present:
            f.unlink(missing_ok=True)
        if lease is not None:
            lease.release()  # its row went with the file
        console.print(f"reset: removed {len(present)} file(s)")


def _reset_hand_over(console: Console, db, shown: str, timeout: float):
    """Before `reset` deletes a run: the run's lease, taken at once, or handed over by the process running
    it once it stops at its cycle boundary (the caller then releases it); a refusal ends the command."""
    from floor.ownership.commands import ControlRefused, own_or_deliver
    from floor.ownership.lease import Lease

    try:
        lease = own_or_deliver(str(db), "reset", {}, timeout=timeout)
        if not isinstance(lease, Lease):
            console.print(f"the process running {shown} stopped at cycle {lease['cycle']}")
            lease = _wait_for_lease(console, db, timeout)
    except ControlRefused as exc:
        _fail(console, str(exc))
    return lease


def _reset_pg(console: Console, db: str, yes: bool, timeout: float) -> None:
    """`reset` of a `postgresql://...?schema=name` run database: drop its schemas (floor/database.py)."""
    from floor import database as run_database
    from ledger.pg_connection import redact

    try:
        present = run_database.pg_run_schemas(db)
    except run_database.RunDatabaseError as exc:
        _fail(console, str(exc))
    if not present:
        console.print(f"nothing to reset at {redact(db)}")
        return
    if not yes and not typer.confirm(f"drop schemas {', '.join(present)} (CASCADE) of {redact(db)}?"):
        raise typer.Exit(1)
    lease = _reset_hand_over(console, db, redact(db), timeout) if db_exists(db) else None
    try:
        run_database.drop_pg_run(db, present)
    finally:
        if lease is not None:
            lease.release()  # its row went with the schema; closing its session frees the advisory lock
    console.print(f"reset: dropped {len(present)} schema(s)")


ScenarioOpt = Annotated[str | None, typer.Option(
    "--scenario", help="A scenario file (YAML) or a library scenario's name (crash, drought, halt-component, "
                       "rumour): news, shocks, halts and endowments on a timeline; see docs/scenarios.md.")]


def _use_scenario(session: FloorSession, scenario: str, new: bool) -> None:
    """`run --scenario`: the scenario of the new run this command starts (stored in its books)."""
    from floor.scenario_file import ScenarioError, load_scenario

    if session.thread is not None and not new:
        session.close()
        fail("--scenario applies to a new run (add --new), or to a what-if line: `trading-floor fork --scenario`")
    try:
        session.floor.scenario = load_scenario(scenario)
    except ScenarioError as exc:
        session.close()
        fail(str(exc))


def _fork_with_scenario(console: Console, session: FloorSession, scenario: str, at_cycle: int,
                        config: FloorConfig | None, label: str | None) -> dict:
    """`fork --scenario`: fork here (not delivered to another process) with the scenario in the new line's books."""
    from floor.ownership.lease import LeaseHeld
    from floor.scenario_file import ScenarioError, load_scenario
    from floor.session import SessionError

    try:
        session.floor.scenario = load_scenario(scenario)
        return {"thread_id": session.fork(at_cycle, config, label=label).thread_id}
    except ScenarioError as exc:
        fail(str(exc))
    except ValueError as exc:  # the scenario against the run: a cycle in the past, an unknown symbol
        fail(f"{scenario}: {exc}")
    except LeaseHeld as exc:
        fail(f"fork --scenario needs the database to itself (pause the run first): {one_line(str(exc))}")
    except SessionError as exc:
        fail(str(exc))
    finally:
        session.close()


TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.0,
                                           help="Seconds to wait for the process running the database.")]


def _wait_for_lease(console: Console, db: Path, timeout: float) -> Lease:
    from floor.ownership.lease import LeaseHeld, acquire_lease

    try:
        return acquire_lease(str(db), wait=timeout)
    except LeaseHeld as exc:
        _busy(console, exc)


def _control(console: Console, session: FloorSession, kind: str, args: dict, timeout: float, direct) -> dict:
    """Do a control command ourselves when nobody else runs the database, else deliver it to the owner
    and print its answer; either way, one line on failure."""
    from floor.ownership.commands import ControlRefused, own_or_deliver
    from floor.ownership.lease import Lease
    from floor.session import SessionError

    try:
        session.graph  # noqa: B018 - compiled before own_or_deliver may take the lease (held to work, not to import)
        try:
            out = own_or_deliver(session.db_path, kind, args, timeout=timeout,
                                 on_deliver=lambda h: console.print(f"delivering the {kind} to {h.describe()}: "
                                                                    "it applies it at its next cycle boundary"))
        except ControlRefused as exc:
            _fail(console, str(exc))
        if isinstance(out, Lease):
            session.own(lease=out)
            try:
                return direct()
            except SessionError as exc:
                _fail(console, str(exc))
        return out
    finally:
        session.close()


def _run(console: Console, session: FloorSession, cycles: int | None, until: int | None, seed: int | None,
         new: bool, config: Path | None, llm: bool | None, *, strict_llm: bool = False) -> None:
    if session.thread is None or new:
        session.start(seed=seed)
        console.print(f"new run on thread [bold]{session.thread.thread_id}[/] (seed {session.floor.config.seed})")
    else:
        if seed is not None:
            _fail(console, "--seed applies to a new run; this database already has one (add --new, or use "
                           "another --db)")
        _refuse_config_change(console, session, config, llm)
    at = session.state().get("cycle", 0)
    if until is None and at + (cycles or 200) > MAX_CYCLE:
        _fail(console, f"the run is at cycle {at}: {cycles or 200} more would pass the ledger's last cycle, "
                       f"{MAX_CYCLE:,}")
    total = (cycles or 200) if until is None else max(until - at, 0)
    if until is not None and at >= until:
        console.print(f"already at cycle {at} (≥ --until {until}): nothing to run")
        return
    tally = _llm_preflight(console, session, strict_llm)  # None without LLM traders
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    start = time.perf_counter()
    totals = {"trades": 0, "floor_trades": 0, "orders": 0, "rejections": 0}
    progress = Progress(TextColumn("[bold]cycles"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[info]}"), console=console, transient=False)
    task = progress.add_task("run", total=total, info="")
    last_board, done = 0.0, 0
    with Live(progress, console=console, refresh_per_second=8) as live:
        for report in session.iter_cycles(None if until is not None else total, until=until):
            if report.interrupted:
                live.stop()
                console.print(f"cycle {report.cycle} waits for approval of {len(report.interrupted.get('orders', []))} "
                              "orders: answer it from the chat UI")
                break
            done += 1
            for k in totals:
                totals[k] += report.summary.get(k, 0)
            info = f"cycle {report.cycle} · trades {totals['trades']:,}"
            if tally is not None:
                info += " · " + _llm_cycle(session, report.cycle, tally).progress()
            progress.update(task, completed=done if until is None else report.cycle - at, info=info)
            if time.perf_counter() - last_board > 1.0:
                last_board = time.perf_counter()
                live.update(_live(progress, session))
        live.update(_live(progress, session))
    elapsed = time.perf_counter() - start
    console.line()
    if session.stopped_by is not None:
        console.print(f"{_STOPPED[session.stopped_by['kind']]} after {done} of {total} cycles, asked by "
                      f"`{session.stopped_by['by']}`")
    console.print(f"ran to cycle {session.state()['cycle']} in {elapsed:.1f}s: {totals['trades']:,} trades "
                  f"({totals['floor_trades']:,} with floor traders), {totals['orders']:,} floor orders, "
                  f"{totals['rejections']:,} rejected")
    if tally is not None:
        console.print(tally.summary(), markup=False)


def _llm_preflight(console: Console, session: FloorSession, strict: bool):
    """Before cycle 1: report LLM traders whose endpoint has no key or does not answer, naming both; stop
    under --strict-llm. Returns the run's LLM tally (traders/llm/tally.py), or None without LLM traders."""
    if not session.floor.config.has_llm_traders:
        return None
    from traders.llm.preflight import check_endpoints
    from traders.llm.tally import LLMTally

    problems = check_endpoints(session.floor.config)
    for p in problems:
        console.print(f"LLM endpoint problem: {p.sentence()}", markup=False)
    if problems and strict:
        _fail(console, f"--strict-llm: {len(problems)} LLM endpoint(s) cannot be used ({problems[0].sentence()}); "
                       "no cycle was run")
    if problems:
        from traders.llm.breaker import breaker_of
        from traders.llm.preflight import open_circuits

        open_circuits(breaker_of(session.floor), problems, session.state().get("cycle", 0))
        console.print("those traders decide by their rules until it is fixed; each decision is marked fallback "
                      "(see `trading-floor status`)", markup=False)
    return LLMTally()


def _llm_cycle(session: FloorSession, cycle: int, tally):
    """Add one settled cycle's LLM rows (ledger/llm_spend.py) to `tally`."""
    from ledger import llm_spend

    at = session.floor.at
    branch = at[1] if at is not None else session.floor.ledger.branch_id
    return tally.add(llm_spend.cycle_rows(session.floor.ledger.conn, branch, cycle))


_STOPPED = {"pause": "paused", "reset": "stopped for a reset"}


def _refuse_config_change(console: Console, session: FloorSession, config: Path | None, llm: bool | None) -> None:
    """A run keeps the config it started with: a different --config, --llm or FLOOR_* setting is refused
    (never silently ignored), with the way to try it: a fork."""
    requested = _requested_config(console, config, llm) if config else thread_config_with_env(session)
    if llm is not None and not config:
        requested = requested.with_mode("llm" if llm else "rule")
    changed = config_differences(session.thread.config, requested.model_dump(mode="json"))
    if not changed:
        return
    where = " and ".join(w for w, on in (("--config", config), ("--llm/--no-llm", llm is not None)) if on) \
        or "the FLOOR_* environment"
    at = session.state().get("cycle", 0)
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    _fail(console, f"{where} would change this run's config ({shown}); a run keeps the config it started "
                   f"with. Try it on a what-if line: `trading-floor fork --at-cycle {at}"
                   f"{' --config ' + str(config) if config else ''}`, or start afresh with --new")


def _live(progress: Progress, session: FloorSession):
    from rich.console import Group

    return Group(progress, leaderboard_table(session.leaderboard()[:6], title="Live leaderboard"))
