"""`trading-floor replay FILE`: push a JSONL order-flow file through a fresh exchange.

Events go to stdout as JSONL (`event_to_dict`), a final book summary and event counts to stderr.
The format is documented in docs/replay-format.md; the logic lives in `market/replay.py`. The input is
read as bytes and decoded line by line, so a line that is not UTF-8, too long, or holds a number too long
to parse is rejected with its line number like any other bad line, and the replay goes on.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from market.events import EVENT_KINDS, event_to_dict
from market.exchange import Exchange
from market.replay import book_summary, read_lines, run_stream


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        file: Annotated[Path, typer.Argument(help="JSONL order-flow file, one command per line ('-' for stdin).")],
        strict: Annotated[bool, typer.Option("--strict", help="Reject symbols outside the default universe "
                                             "instead of listing them on the fly (tick 1, lot 1).")] = False,
        levels: Annotated[int, typer.Option("--levels", help="Depth levels shown in the final summary.")] = 5,
    ) -> None:
        """Replay an order-flow file: events as JSONL on stdout, a book summary on stderr."""
        stdin = str(file) == "-"
        if stdin:
            handle = sys.stdin.buffer
        else:
            try:
                handle = file.open("rb")
            except OSError as exc:
                fail(f"cannot read {file}: {exc.strerror}")
        exchange = Exchange()
        counts: Counter = Counter()
        write = sys.stdout.write
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        try:
            for event in run_stream(read_lines(handle), exchange, strict=strict):
                counts[EVENT_KINDS[type(event)]] += 1
                write(dumps(event_to_dict(event)))
                write("\n")
        finally:
            if not stdin:
                handle.close()
        sys.stdout.flush()
        typer.echo(book_summary(exchange, levels), err=True)
        typer.echo("events: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"), err=True)
