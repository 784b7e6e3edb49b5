"""`trading-floor explain CYCLE TRADER`: how one trader decided in one cycle, from the run's traces.

Shows the decision (mode, and the reason of a fallback), and for an LLM trader every model turn: the
prompt messages it added (each text once), the answer, each tool call with its result and whether it
succeeded, what happened to the orders and messages it staged, then the risk check and the fills. The
rendering is `traders/llm/trace_text.py` (pure; the chat UI can use it too). Read-only: it opens the
database like `status` does, and never waits for or disturbs the process running it.

Only typer and the option types are imported at module level (every command module is imported when the
command line starts).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floor.database import DEFAULT_DB


def register(app: typer.Typer) -> None:
    @app.command("explain")
    def explain(
        cycle: Annotated[int, typer.Argument(min=1, help="The cycle.")],
        trader: Annotated[str, typer.Argument(help="The trader's name.")],
        db: Annotated[Path, typer.Option("--db", help="SQLite file holding ledger, books and checkpoints.")]
        = DEFAULT_DB,
        thread: Annotated[str | None, typer.Option("--thread", help="Read this thread instead of the current one.")]
        = None,
        markdown: Annotated[bool, typer.Option("--markdown", help="Markdown instead of plain text.")] = False,
    ) -> None:
        """How TRADER decided in CYCLE: decision, prompts, model answers, tool calls and results, risk, fills."""
        from rich.console import Console

        from cli.errors import fail
        from cli.run import _open_reader
        from traders.llm.trace_text import render_decision

        reader = _open_reader(Console(stderr=True), db, thread)  # the checks status and history make
        try:
            st = reader.state()
            if cycle > st.get("cycle", 0):
                fail(f"cycle {cycle} has not happened on thread {reader.thread.thread_id}: it is at cycle "
                     f"{st.get('cycle', 0)}")
            names = [t.get("name") for t in reader.thread.config.get("traders", [])]
            if trader not in names:
                fail(f"no trader named {trader!r} in this run; its traders are: {', '.join(names)}")
            ledger = reader.ledger
            with ledger.read_snapshot():
                ledger.use(st["run_id"], st["branch_id"], remember=False)
                rows = ledger.traces(cycle=cycle, agent=trader, limit=None)
            typer.echo(render_decision(cycle, trader, rows, markdown=markdown), nl=False)
        finally:
            reader.close()
