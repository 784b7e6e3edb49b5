"""`trading-floor replay FILE`: push a JSONL order-flow file through a fresh exchange.

Events go to stdout as JSONL (`event_to_dict`, every event by default, only trades with `--events trades`),
a final book summary and event counts to stderr. The format is documented in docs/replay-format.md; the
logic lives in `market/replay.py`. The input is read as bytes a chunk at a time (`replay_chunks`: orjson,
with the stdlib parser for any line it could read differently), so a line that is not UTF-8, too long, or
holds a number too long to parse is rejected with its line number like any other bad line, the replay goes
on, and memory stays flat however long the stream. Output is written a chunk of events at a time.

Only typer, pathlib and typing are imported at module level: every command module is imported when the
command line starts, so the market and orjson are imported inside the command.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EVENT_CHOICES = ("all", "trades")


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        file: Annotated[Path, typer.Argument(help="JSONL order-flow file, one command per line ('-' for stdin).")],
        strict: Annotated[bool, typer.Option("--strict", help="Reject symbols outside the default universe "
                                             "instead of listing them on the fly (tick 1, lot 1).")] = False,
        levels: Annotated[int, typer.Option("--levels", help="Depth levels shown in the final summary.")] = 5,
        events: Annotated[str, typer.Option(
            "--events", metavar="all|trades",
            help="Which events go to stdout: 'all' (the default: acceptances, rejections with their line "
                 "numbers, trades, cancels, expiries, ...) or 'trades' (trade_executed only). The counts of "
                 "every kind go to stderr either way.")] = "all",
    ) -> None:
        """Replay an order-flow file: events as JSONL on stdout (all, or --events trades), a book summary
        on stderr."""
        import sys
        from collections import Counter

        from cli.errors import fail

        if events not in EVENT_CHOICES:
            raise typer.BadParameter(f"{events!r} is not one of {', '.join(EVENT_CHOICES)}",
                                     param_hint="'--events'")
        from market.events import EVENT_KINDS
        from market.exchange import Exchange
        from market.replay import book_summary, encode_events, replay_chunks

        stdin = str(file) == "-"
        if stdin:
            handle = sys.stdin.buffer
        else:
            try:
                handle = file.open("rb")
            except OSError as exc:
                fail(f"cannot read {file}: {exc.strerror}")
        exchange = Exchange()
        counts: Counter = Counter()  # event type -> how many
        trades_only = events == "trades"
        sys.stdout.flush()
        write = sys.stdout.buffer.write
        try:
            for batch in replay_chunks(handle, exchange, strict=strict):
                counts.update(map(type, batch))
                write(encode_events(batch, trades_only=trades_only))
        finally:
            if not stdin:
                handle.close()
        sys.stdout.flush()
        typer.echo(book_summary(exchange, levels), err=True)
        seen = sorted((EVENT_KINDS[k], n) for k, n in counts.items())
        typer.echo("events: " + (", ".join(f"{k} {v}" for k, v in seen) or "none"), err=True)
