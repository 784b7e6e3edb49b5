"""`trading-floor copy SRC DST`: move a run database between SQLite and PostgreSQL (floor/copy_run.py).

SRC and DST are each a SQLite path or a `postgresql://` URL; DST must hold no run yet. The ledger, the
threads and the checkpoints travel together, so `trading-floor run --db DST` continues where SRC stopped.
"""
from __future__ import annotations

from typing import Annotated

import typer

from cli.errors import fail


def register(app: typer.Typer) -> None:
    @app.command()
    def copy(
        src: Annotated[str, typer.Argument(help="The run database to copy: a SQLite file or a postgresql:// URL.")],
        dst: Annotated[str, typer.Argument(help="An empty destination: a new SQLite file or a postgresql:// URL.")],
    ) -> None:
        """Copy a run (ledger, threads, checkpoints) from SRC to the empty DST, between SQLite and PostgreSQL."""
        from pathlib import Path

        from floor.copy_run import copy_run
        from floor.ownership.lease import LeaseHeld, acquire_lease
        from ledger.dialect import is_url
        from ledger.pg_connection import redact

        if not is_url(src) and not Path(src).exists():
            fail(f"no database at {src}")
        try:
            lease = acquire_lease(src)  # nobody advances the run while it is copied
        except LeaseHeld as exc:
            fail(str(exc))
        try:
            counts = copy_run(src, dst)
        except ValueError as exc:
            fail(str(exc))
        finally:
            lease.release()
        name = redact(dst) if is_url(dst) else dst
        typer.echo(f"copied to {name}: {counts.get('runs', 0)} run(s), {counts.get('branches', 0)} branch(es), "
                   f"{counts.get('fills', 0):,} fills, {counts['floor_threads']} thread(s), "
                   f"{counts['checkpoints']:,} checkpoints")
