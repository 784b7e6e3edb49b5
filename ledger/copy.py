"""Copy a whole ledger between stores: a SQLite file to PostgreSQL and back (the core of `trading-floor copy`).

Every ledger table (runs, branches, history and state rows, the books' keyframes and journals, meta) is
read in key order from the source and written to an empty destination with the same keys, so run, branch
and row ids, and therefore the branch lineage and the `fills.seq` keys, are the same on both sides.
The destination's generated keys are then set to follow the copied rows (`rewind_ids`). One transaction
on the destination: a failed copy leaves it empty.

Not copied here: the floor's own tables beside the ledger (threads, lease, commands) and LangGraph's
checkpoints, whose layouts differ between SqliteSaver and PostgresSaver.
"""
from __future__ import annotations

from ledger.dialect import dialect_of
from ledger.market_history import TABLES as MARKET_TABLES
from ledger.market_history import MarketSnapshots
from ledger.schema import TABLES, create_schema

BATCH = 5_000


def ledger_tables() -> list[str]:
    """Every table of the ledger, parents before children (runs, branches, then the rest)."""
    names = ["meta"] + [name for name, spec, _, _ in TABLES if not (isinstance(spec, str) and name.startswith("idx_"))]
    return names + list(MARKET_TABLES)


def copy_ledger(src, dst) -> dict[str, int]:
    """Copy every ledger row from connection `src` to connection `dst` (either backend); returns the number
    of rows per table (for "fills": of fills, packed ones included). `dst` must hold no runs yet. Raises
    ValueError otherwise (nothing written)."""
    create_schema(dst)
    MarketSnapshots(dst)
    if dst.execute("SELECT count(*) FROM runs").fetchone()[0]:
        raise ValueError("the destination already holds runs: copy into an empty database (or schema)")
    d = dialect_of(dst)
    counts: dict[str, int] = {}
    dst.execute(d.begin_write)
    try:
        for table in ledger_tables():
            if not dialect_of(src).has_table(src, table):  # a file made before the table existed
                counts[table] = 0
                continue
            cols = [c[0] for c in src.execute(f"SELECT * FROM {table} LIMIT 0").description]
            cur = src.execute(f"SELECT * FROM {table} ORDER BY {', '.join(map(str, range(1, len(cols) + 1)))}")
            if table == "meta":
                dst.execute("DELETE FROM meta")
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})"
            fix = _run_id_as_int if table in MARKET_TABLES else None
            n = 0
            while True:
                rows = cur.fetchmany(BATCH)
                if not rows:
                    break
                dst.executemany(sql, [fix(cols, r) for r in rows] if fix else [tuple(r) for r in rows])
                n += len(rows)
            counts[table] = n
        d.rewind_ids(dst, ledger_tables())
        # "fills" counts fills: the packed bg-vs-bg ones too (background_fills.py), as before packing
        (packed,) = dst.execute("SELECT coalesce(sum(n), 0) FROM bg_fills").fetchone()
        counts["fills"] = counts.get("fills", 0) + int(packed)
    except BaseException:
        dst.execute("ROLLBACK")
        raise
    dst.execute("COMMIT")
    return counts


def _run_id_as_int(cols: list[str], row) -> tuple:
    """`market_*.run_id` is TEXT on SQLite and BIGINT on PostgreSQL: carried as the integer it is."""
    i = cols.index("run_id")
    return tuple(int(v) if k == i else (bytes(v) if isinstance(v, memoryview) else v) for k, v in enumerate(row))
