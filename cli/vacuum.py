"""`trading-floor vacuum`: list a run database's branches, and reclaim the space of the discarded ones a user
chooses to drop. Nothing is dropped unless asked (`--drop BRANCH ...` or `--drop-discarded`), and only after
a confirmation (`--yes` skips it). What can go and what is refused: ledger/vacuum.py; the threads and
checkpoints of dropped lines and the VACUUM itself: floor/vacuum.py. A process running the database is asked
to pause at its next cycle boundary first (the run's command queue, as `reset` does); `trading-floor run`
continues it afterwards.
"""
from __future__ import annotations

from typing import Annotated

import typer

from cli.run import DbOpt, TimeoutOpt, _fail, _wait_for_lease, db_exists
from floor.database import DEFAULT_DB


def _lines(console, db) -> tuple[dict[int, list[str]], str | None, dict[str, str]]:
    """(branch -> threads whose line ends on it, the current thread, thread -> the thread it was forked from)."""
    from cli.run import _open_run
    from cli.threads import thread_rows

    session = _open_run(console, db, readonly=True)
    try:
        rows = thread_rows(session)
    finally:
        session.close()
    continued: dict[int, list[str]] = {}
    for r in rows:
        continued.setdefault(r["branch"], []).append(r["thread"])
    current = next((r["thread"] for r in rows if r["current"]), None)
    return continued, current, {r["thread"]: r["forked_from"] for r in rows if r["forked_from"]}


def _survey(console, db, asked: set[int] | None, discarded_too: bool):
    """Everything vacuum decides on, read afresh: (infos, continued, plan or None, threads to drop)."""
    from ledger import vacuum as lv
    from ledger.store import Ledger

    continued, current, parents = _lines(console, db)
    ledger = Ledger.open(db, readonly=True)
    try:
        infos = lv.branches(ledger.conn)
    finally:
        ledger.close()
    if asked is None and not discarded_too:
        return infos, continued, None, []
    wanted = set(asked or ()) | (lv.discarded(infos, continued) if discarded_too else set())
    refused = {}
    for b in sorted(wanted):
        threads = continued.get(b, [])
        if current in threads:
            refused[b] = (f"branch {b}: thread {current} continues it and is current; "
                          "`trading-floor use` another thread first")
        children = [t for t, p in parents.items() if p in threads and t not in threads]
        if children and b not in refused:
            refused[b] = f"branch {b}: thread {children[0]} was forked from its thread {threads[0]}"
    plan = lv.plan(infos, wanted - refused.keys(), continued)
    plan.refused.update(refused)
    gone = sorted(t for b in plan.drop for t in continued.get(b, []))
    return infos, continued, plan, gone


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB"


def _print_branches(console, db, infos, continued, could: set[int]) -> None:
    from rich.table import Table

    from floor.vacuum import table_bytes
    from ledger import vacuum as lv
    from ledger.store import Ledger

    sizes = table_bytes(str(db))
    ledger = Ledger.open(db, readonly=True)
    try:
        tables = lv.branch_tables(ledger.conn)
        totals = {t: ledger.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        per = {i.branch_id: lv.count_rows(ledger.conn, i.branch_id, tables) for i in infos}
    finally:
        ledger.close()
    table = Table(title=f"Branches of {db}")
    for col in ("thread", "branch", "cycles", "parent", "read by", "rows", "bytes (est.)", "droppable"):
        table.add_column(col)
    for i in infos:
        est = sum(sizes.get(t, 0) * n // totals[t] for t, n in per[i.branch_id].items() if totals[t])
        cycles = "" if i.first_cycle is None else f"{i.first_cycle}..{i.last_cycle}"
        parent = "" if i.parent_id is None else f"{i.parent_id} @ {i.fork_cycle}"
        readers = ", ".join(f"{b} (to {c})" for b, c in i.readers)
        table.add_row(", ".join(continued.get(i.branch_id, [])) or "-", str(i.branch_id), cycles, parent,
                      readers, str(i.rows), _size(est), "yes" if i.branch_id in could else "")
    console.print(table)
    if could:
        console.print(f"discarded (no thread continues them, rows nobody reads): {', '.join(map(str, sorted(could)))}"
                      " - `trading-floor vacuum --drop-discarded` reclaims them")
    else:
        console.print("nothing discarded to reclaim; `--drop BRANCH` drops a line you no longer want")


def _describe(plan, gone: list[str]) -> list[str]:
    out = [f"drop branch {b} (all its rows)" for b in plan.drop]
    out += [f"trim branch {b} to cycle {c} (its rows after cycle {c}: the discarded future)" for b, c in plan.trim.items()]
    if gone:
        out.append(f"forget thread(s) {', '.join(gone)} and their checkpoints")
    return out


def _hand_over(console, db, timeout: float):
    """The run's lease: taken at once, or handed over by the process running the database once it pauses at
    its cycle boundary; a refusal ends the command."""
    from floor.ownership.commands import ControlRefused, own_or_deliver
    from floor.ownership.lease import Lease

    try:
        lease = own_or_deliver(str(db), "pause", {}, timeout=timeout)
        if not isinstance(lease, Lease):
            console.print(f"the process running the database paused after cycle {lease['cycle']} for the vacuum; "
                          "`trading-floor run` continues it")
            lease = _wait_for_lease(console, db, timeout)
    except ControlRefused as exc:
        _fail(console, str(exc))
    return lease


def register(app: typer.Typer) -> None:
    @app.command()
    def vacuum(
        db: DbOpt = DEFAULT_DB,
        drop: Annotated[list[int] | None, typer.Option(
            "--drop", help="A branch to drop (repeat the option for several): all its rows, or, for a line a "
                           "rollback left behind that its continuation still reads, its rows after that point.")] = None,
        drop_discarded: Annotated[bool, typer.Option(
            "--drop-discarded", help="Drop what no thread continues and nobody reads (rollbacks' discarded futures).")]
        = False,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
        timeout: TimeoutOpt = 60.0,
    ) -> None:
        """List the run's branches and what they hold; with --drop/--drop-discarded, delete discarded branches'
        rows (ledger, books, checkpoints) and give the space back. Nothing is dropped unless asked."""
        from rich.console import Console

        from floor import vacuum as fv
        from ledger import vacuum as lv
        from ledger.store import Ledger

        console = Console()
        if not db_exists(db):
            _fail(console, f"no database at {db}: start a run with `trading-floor run`")
        asked = set(drop) if drop else None
        infos, continued, plan, gone = _survey(console, db, asked, drop_discarded)
        if plan is None:
            _print_branches(console, db, infos, continued, lv.discarded(infos, continued))
            return
        for reason in plan.refused.values():
            console.print(f"refused: {reason}")
        if not plan.touched:
            if plan.refused:
                raise typer.Exit(1)
            console.print("nothing to drop")
            return
        actions = _describe(plan, gone)
        if not yes and not typer.confirm("vacuum will " + "; ".join(actions) + ". Go on?"):
            raise typer.Exit(1)
        lease = _hand_over(console, db, timeout)
        try:
            again = _survey(console, db, asked, drop_discarded)
            if (again[2].drop, again[2].trim, again[3]) != (plan.drop, plan.trim, gone):
                _fail(console, "the run moved on while vacuum waited for it: run vacuum again to see what it drops now")
            before = fv.database_bytes(str(db))
            ledger = Ledger.open(db)
            try:
                tables = lv.branch_tables(ledger.conn)
                rows = 0
                with ledger.transaction():
                    for b in plan.drop:
                        rows += lv.drop_branch(ledger.conn, b, tables)
                    for b, c in plan.trim.items():
                        rows += lv.trim_branch(ledger.conn, b, c, tables)
                    checkpoints = fv.drop_threads(ledger.conn, str(db), gone)
            finally:
                ledger.close()
            fv.give_back(str(db), tables, bool(gone))
            after = fv.database_bytes(str(db))
        finally:
            lease.release()
        for line in actions:
            console.print(f"done: {line}")
        console.print(f"deleted {rows} ledger rows and {checkpoints} checkpoint rows; database {_size(before)} -> "
                      f"{_size(after)} ({before - after} bytes reclaimed)")
