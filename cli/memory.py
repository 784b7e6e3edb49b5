"""`trading-floor memory TRADER`: a learning trader's memories and what it has learned (issue 19).

Read-only, like `explain`: the memories visible on the current thread's branch, with their outcomes, each
tuned value's mean markout, and the learner's last choices with their reasons (traders/memory/).
`--lessons` lists an LLM trader's lessons (labelled with their embedder, `lexical` or the endpoint's model);
`--why` and `--ask QUESTION` answer from the memory (traders/memory/answers.py), as the UI does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floor.database import DEFAULT_DB


def register(app: typer.Typer) -> None:
    @app.command("memory")
    def memory(
        trader: Annotated[str, typer.Argument(help="The trader's name.")],
        db: Annotated[Path, typer.Option("--db", help="SQLite file holding ledger, books and checkpoints.")]
        = DEFAULT_DB,
        thread: Annotated[str | None, typer.Option("--thread", help="Read this thread instead of the current one.")]
        = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many memories to list (newest).")] = 20,
        lessons: Annotated[bool, typer.Option("--lessons", help="List the trader's lessons (LLM mode reflections) "
                                                               "with the embedder of each.")] = False,
        why: Annotated[bool, typer.Option("--why", help="Why did the learner last change its value?")] = False,
        ask: Annotated[str | None, typer.Option("--ask", help="A question about what it learned, e.g. "
                                                              "'what have you learned?'.")] = None,
    ) -> None:
        """TRADER's memories (situation, decision, outcome) and what it has learned from them."""
        from rich.console import Console

        from cli.errors import fail
        from cli.run import _open_reader
        from ledger.memory_store import MemoryFormatError, load_lessons, load_memories
        from traders.memory.memory_text import render_memory

        reader = _open_reader(Console(stderr=True), db, thread)  # the checks status and history make
        try:
            st = reader.state()
            names = [t.get("name") for t in reader.thread.config.get("traders", [])]
            if trader not in names:
                fail(f"no trader named {trader!r} in this run; its traders are: {', '.join(names)}")
            ledger = reader.ledger
            with ledger.read_snapshot():
                ledger.use(st["run_id"], st["branch_id"], remember=False)
                if lessons or why or ask:
                    typer.echo(_answer(ledger, trader, lessons, why, ask))
                    return
                try:
                    mems = load_memories(ledger.conn, ledger.branch_id, trader)
                    lessons = load_lessons(ledger.conn, ledger.branch_id, trader)
                except MemoryFormatError as exc:
                    fail(f"cannot read {trader}'s memory: {exc}")
                rows = ledger.traces(agent=trader, kind="learning", limit=None)
            if not mems and not rows:
                typer.echo(f"{trader} has no memory: learning is off for it (add `learning:` to its config)")
                return
            typer.echo(render_memory(trader, mems, [(r["cycle"], r["payload"]) for r in rows], limit=limit,
                                     lessons=lessons), nl=False)
        finally:
            reader.close()


def _answer(ledger, trader: str, lessons: bool, why: bool, ask: str | None) -> str:
    from cli.errors import fail
    from ledger.memory_store import MemoryFormatError, load_lessons
    from traders.memory.answers import memory_answer

    if lessons:
        try:
            rows = load_lessons(ledger.conn, ledger.branch_id, trader)
        except MemoryFormatError as exc:
            fail(f"cannot read {trader}'s lessons: {exc}")
        labels = ", ".join(sorted({les.embedder for les in rows})) or "none"
        out = [f"{trader}: lessons ({len(rows)}, {labels} vectors)"]
        out += [f"  cycle {les.cycle} [{les.embedder}]: {les.text}" for les in rows]
        if not rows:
            out.append("  none yet: an LLM trader writes one every `learning.reflect_every` cycles")
        return "\n".join(out)
    question = ask if ask is not None else "why did you change your value?"
    said = memory_answer(ledger, trader, question)
    if said is None:
        fail("that is not a question about what the trader learned; try 'what have you learned?' or "
             "'why did you change your threshold?'")
    return said
