"""`trading-floor export`: the current line of a run as CSV or Parquet files, one per table.

What is exported is what the current thread's branch (or `--thread`'s) sees (its own rows plus its ancestors' rows up to
each fork), so a fork exports its whole history: fills, floor orders, traces, chat messages, portfolio
values per cycle, and marks.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from cli.run import DbOpt, ThreadOpt, _fail, _open_run
from floor.database import DEFAULT_DB


def export_tables(session, out_dir: Path, fmt: str) -> dict[str, int]:
    """Every table is read inside one read transaction: whole cycles only, all of the same last settled
    cycle, however far the run's owner gets meanwhile."""
    ledger = session.floor.ledger
    st = session.state()
    with ledger.read_snapshot():
        ledger.use(st["run_id"], st["branch_id"], remember=False)
        tables = _tables(session, ledger)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, rows in tables.items():
        counts[name] = len(rows)
        _write(out_dir / f"{name}.{fmt}", rows, fmt)
    return counts


def _tables(session, ledger) -> dict[str, list[dict]]:
    return {
        "fills": ledger.fills(limit=None),
        "orders": ledger.orders(limit=None),
        "traces": ledger.traces(limit=None),
        "messages": ledger.messages(limit=None),
        "portfolio_values": [{"account": a.name, "cycle": c, "value": v}
                             for a in ledger.accounts() for c, v in ledger.value_history(a.name)],
        "marks": [{"symbol": s, "cycle": c, "price": p}
                  for s in session.floor.by_symbol for c, p in ledger.marks_history(s)],
    }


def _write(path: Path, rows: list[dict], fmt: str) -> None:
    rows = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v) for k, v in r.items()}
            for r in rows]
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            if rows:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
        out: Annotated[Path, typer.Option("--out", help="Folder to write the tables into.")] = Path("runs/export"),
        db: DbOpt = DEFAULT_DB,
        thread: ThreadOpt = None,
    ) -> None:
        """Export the current run line, or --thread's, (fills, orders, traces, messages, values, marks) as CSV
        or Parquet."""
        from rich.console import Console

        console = Console()
        if fmt not in ("csv", "parquet"):
            _fail(console, f"unknown format {fmt!r}: use csv or parquet")
        session = _open_run(console, db, readonly=True, thread=thread)
        try:
            counts = export_tables(session, out, fmt)
        finally:
            session.close()
        for name, n in counts.items():
            console.print(f"{out / (name + '.' + fmt)}: {n:,} rows")
