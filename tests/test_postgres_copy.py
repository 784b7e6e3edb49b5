"""Moving a run's ledger from SQLite to PostgreSQL and back (`ledger/copy.py`): every branch reads the
same on the copy, and the round trip gives back the same rows, keys included."""
from __future__ import annotations

import random
import sqlite3
import tempfile
import uuid
from pathlib import Path

import pytest
import test_ledger_versioning as versioning
from ledger_backends import Backend

from ledger.copy import copy_ledger, ledger_tables
from ledger.dialect import dialect_of
from ledger.pg_connection import connect
from ledger.store import Ledger


def _script(seed: int, cycles: int) -> list[list[tuple]]:
    rng = random.Random(seed)
    acts = [("reserve", "a", "buy", "AAA", 5, 110), ("reserve", "b", "sell", "AAA", 5, 90), ("match", 0, 1, 3, 4),
            ("free", "c", "a", "BBB", 95, 2), ("deposit", "b", 40), ("release", 1, None), ("open", 1)]
    return [[rng.choice(acts) for _ in range(rng.randint(1, 5))] for _ in range(cycles)]


def _all_rows(conn) -> dict[str, list[tuple]]:
    out = {}
    for t in ledger_tables():
        if not dialect_of(conn).has_table(conn, t):
            out[t] = []  # never created on this side (the books' tables come with the first keyframe)
            continue
        n = len(conn.execute(f"SELECT * FROM {t} LIMIT 0").description)
        out[t] = conn.execute(f"SELECT * FROM {t} ORDER BY {', '.join(map(str, range(1, n + 1)))}").fetchall()
    return out


def test_sqlite_to_postgresql_and_back(pg_url):
    src_path = Path(tempfile.mkdtemp()) / "src.db"
    led = versioning.new_ledger(Backend("sqlite"), str(src_path))
    script = _script(4, 12)
    for c, acts in enumerate(script, 1):
        versioning.run_cycle(led, c, acts)
    main = led.ref
    led.fork(6, name="what-if")
    for c, acts in enumerate(_script(9, 4), 7):
        versioning.run_cycle(led, c, acts, tag="x")
    led.use(main.run_id, main.branch_id)
    led.truncate_after(10)
    views = {}
    for b in led.list_branches():
        led.use(main.run_id, b.branch_id)
        views[b.branch_id] = versioning.observe(led)
    led.use(main.run_id, main.branch_id)
    led.close()

    pg = f"{pg_url}&schema=copy_{uuid.uuid4().hex[:6]}"
    src = sqlite3.connect(src_path)
    dst = connect(pg, pooled=False)
    counts = copy_ledger(src, dst)
    assert counts["fills"] > 0 and counts["branches"] == 2
    copied = Ledger.open(pg)
    assert copied.ref == main  # the active branch travels with meta
    for b, seen in views.items():
        copied.use(main.run_id, b)
        assert versioning.observe(copied) == seen
    copied.use(main.run_id, main.branch_id)
    with pytest.raises(ValueError, match="already holds runs"):
        copy_ledger(src, dst)
    dst.close()

    back_path = Path(tempfile.mkdtemp()) / "back.db"
    back = sqlite3.connect(back_path, isolation_level=None)
    copy_ledger(connect(pg, pooled=False), back)
    assert _all_rows(back) == _all_rows(src)
    # all three go on as the original would: one more cycle on each writes the same rows
    again = Ledger.open(back_path)
    original = Ledger.open(src_path)
    for led_ in (again, original, copied):
        versioning.run_cycle(led_, 11, script[0])
    assert versioning.own_rows(again) == versioning.own_rows(original) == versioning.own_rows(copied)
    for x in (again, original, copied):
        x.close()
    src.close()
    back.close()
