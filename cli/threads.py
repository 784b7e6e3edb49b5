"""`trading-floor threads` and `trading-floor use THREAD`: the lines of a run, and which one to continue.

A run starts on thread `run-<id>`; each fork adds one (`run-<id>-b<branch>`) and makes it current. `use`
switches the current thread back (or to any other), so a fork and its original can both be continued from
the command line: `run`, `status`, `history`, `export` and `report` work on the current thread, or on the
one `--thread` names for that command only. Both commands only read the checkpoints (no langgraph import).
"""
from __future__ import annotations

from typing import Annotated

import typer

from cli.run import DbOpt, _fail, _open_run
from floor.database import DEFAULT_DB


def thread_rows(session) -> list[dict]:
    """Each thread of the run database with where it stands (its last checkpoint), oldest first."""
    from floor.checkpoint_reader import UnsupportedCheckpoint

    current = session.thread.thread_id if session.thread else None
    rows = []
    for t in session.threads.all():
        try:
            st = session.reader.get_state(t.config_dict).values
        except UnsupportedCheckpoint:  # a checkpoint format the light reader does not know: LangGraph reads it
            st = session.graph.get_state(t.config_dict).values
        rows.append({"thread": t.thread_id, "current": t.thread_id == current, "run": t.run_id,
                     "branch": st.get("branch_id"), "cycle": st.get("cycle"), "forked_from": t.parent_thread,
                     "forked_at": t.forked_at, "label": t.label})
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def threads(db: DbOpt = DEFAULT_DB) -> None:
        """The run's threads (the original line and its forks): where each stands, and which is current."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        session = _open_run(console, db, readonly=True)
        try:
            rows = thread_rows(session)
        finally:
            session.close()
        table = Table(title=f"Threads of {db}")
        for col in ("", "thread", "run", "branch", "cycle", "forked from", "at cycle", "label"):
            table.add_column(col)
        for r in rows:
            table.add_row("*" if r["current"] else "", r["thread"], str(r["run"]), _text(r["branch"]),
                          _text(r["cycle"]), r["forked_from"] or "", _text(r["forked_at"]), r["label"] or "")
        console.print(table)
        console.print("* the current thread: `run`, `status`, `history`, `export` and `report` continue it; "
                      "`trading-floor use THREAD` switches, `--thread THREAD` picks one for one command")

    @app.command()
    def use(
        thread: Annotated[str, typer.Argument(help="The thread to continue (see `trading-floor threads`).")],
        db: DbOpt = DEFAULT_DB,
    ) -> None:
        """Make THREAD the current thread: the next `run` continues it (a fork's original, for example)."""
        from rich.console import Console

        from floor.threads import ThreadChoiceError, switch_current

        console = Console()
        try:
            ref = switch_current(db, thread)
        except ThreadChoiceError as exc:
            _fail(console, str(exc))
        session = _open_run(console, db, readonly=True)
        try:
            st = session.state()
        finally:
            session.close()
        console.print(f"thread [bold]{ref.thread_id}[/] is now current: run {st.get('run_id')}, "
                      f"branch {st.get('branch_id')}, cycle {st.get('cycle')}")


def _text(value) -> str:
    return "" if value is None else str(value)
