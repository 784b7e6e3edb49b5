"""`trading-floor doctor [--db PATH] [--repair]`: check a run database, and repair what can be rebuilt.

One line per check (OK, NOTE or ERROR, see floor/doctor.py for the list), then a verdict line:
`healthy: 17 checks passed (1 note)` or `2 problems: ...`. Exit code 0 when healthy (notes allowed), 1
when problems remain, 2 when the file is missing or cannot be read as a run database, 3 when `--repair`
is refused because another live process owns the run (the line names it). Without `--repair` the file is
only read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import EXIT_BUSY, EXIT_FAILURE, EXIT_REFUSED, fail
from cli.run import DbOpt
from floor.database import DEFAULT_DB

if TYPE_CHECKING:
    from floor import doctor


def print_diagnosis(result: doctor.Diagnosis) -> None:
    from floor import doctor

    labels = {doctor.OK: ("OK", "green"), doctor.NOTE: ("NOTE", "yellow"), doctor.ERROR: ("ERROR", "red")}
    for action in result.repaired:
        typer.echo(f"repaired: {action}")
    typer.echo(f"doctor: {result.db_path}")
    for f in result.findings:
        label, colour = labels[f.level]
        typer.echo(typer.style(f"  {label:<5}", fg=colour, bold=f.level == doctor.ERROR) + f"  {f.check}: {f.message}")
        shown = f.details[:doctor.SHOWN_PER_CHECK - 1]
        for line in shown:
            typer.echo(f"{'':9}{line}")
        if len(f.details) > len(shown):
            typer.echo(f"{'':9}... and {len(f.details) - len(shown)} more")
    typer.echo(result.verdict())


def register(app: typer.Typer) -> None:
    @app.command(name="doctor")
    def doctor_command(
        db: DbOpt = DEFAULT_DB,
        repair: Annotated[bool, typer.Option("--repair", help="Own the run and fix what can be rebuilt from the "
                                             "ledger: missing checkpoints, a dead lease, stuck commands, an "
                                             "unmerged checkpoint file.")] = False,
    ) -> None:
        """Check a run database: ledger invariants, checkpoints against the ledger, lease, commands."""
        from floor import doctor
        from floor.ownership.lease import LeaseHeld

        try:
            result = doctor.repair(db) if repair else doctor.diagnose(db)
        except doctor.DoctorError as exc:
            fail(str(exc), EXIT_REFUSED)
        except LeaseHeld as exc:
            fail(f"not repaired: {exc.holder.describe()} owns {db} and is running it; stop it (or let it "
                 "finish), then run `trading-floor doctor --repair` again", EXIT_BUSY)
        print_diagnosis(result)
        if not result.healthy:
            raise typer.Exit(EXIT_FAILURE)
