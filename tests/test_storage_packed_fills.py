"""Background-against-background fills stored packed (ledger/background_fills.py) read exactly as the old
layout's `fills` rows: the blob round-trips any rows, and a seeded floor run, a rollback and re-run, and a fork
give through the merged readers what the same run gives with every fill a `fills` row (the old layout,
TRADING_FLOOR_UNPACKED_FILLS=1), on SQLite and PostgreSQL. A database of the old layout is read and resumed.
Lot chunks write fill-id sources compactly and read both forms.
"""
from __future__ import annotations

import json
import sqlite3
import sys

import pytest
from floor_helpers import fast_config
from hypothesis import given, settings
from hypothesis import strategies as st

from floor.session import FloorSession
from ledger import background_fills, fillkeys
from ledger.invariants import check_ledger
from ledger.lineage import journal_sql, lineage
from ledger.lots import chunk_row, decode_items
from ledger.store import Ledger
from ledger.types import JournalEntry

SEED = 5
UNPACKED = "TRADING_FLOOR_UNPACKED_FILLS"

# ------------------------------------------------------------------------------------------ the blob
ids = st.one_of(st.integers(0, 10**12).map(lambda n: f"T{n}"), st.text(max_size=6),
                st.from_regex(r"[a-z:-]{0,4}0[0-9]{1,3}", fullmatch=True),  # leading zeros stay as written
                st.integers(10**18, 10**22).map(str))  # a tail too long for the number column
names = st.sampled_from(["bg:mm", "bg:noise", "bg:value", "bg:\u00e9\u0000x", ""])
big = st.integers(-(1 << 62), 1 << 62)


@st.composite
def batches(draw):
    positions = sorted(draw(st.sets(st.integers(0, fillkeys.PER_CYCLE - 1), min_size=1, max_size=25)))
    b, c = draw(st.integers(1, 50)), draw(st.integers(0, 5000))
    rows = []
    for i in positions:
        p = draw(st.integers(1, 10**7))
        q = draw(st.integers(1, 10**4))
        cols = [draw(big) for _ in range(8)]
        rows.append((3, b, c, fillkeys.seq_of(b, c, i), draw(st.integers(0, 10**6)), draw(ids),
                     draw(st.sampled_from(["AAPL", "MSFT", "X"])), p, q, draw(names), draw(names), draw(ids),
                     draw(ids), *cols))
    return rows


@settings(max_examples=150, deadline=None)
@given(batches())
def test_a_packed_batch_unpacks_to_exactly_its_rows(rows):
    run_id, b, c = rows[0][:3]
    try:
        blob = background_fills.pack(rows)
    except OverflowError:  # a coded value beyond 64 bits: settlement writes such a batch as rows
        assert any(abs(v) >= 1 << 61 for r in rows for v in r[13:])
        return
    assert background_fills.unpack(run_id, b, c, blob) == rows


def test_amounts_too_large_to_pack_are_left_to_the_rows_table():
    row = (1, 1, 1, fillkeys.seq_of(1, 1, 0), 0, "T1", "X", 1 << 40, 1 << 20, "bg:a", "bg:b", "", "", 0, 0, 0, 0,
           0, 0, 5 - (1 << 63), 0)  # buyer_cost - price x qty is below -2**63
    with pytest.raises(OverflowError):
        background_fills.pack([row])
    led = Ledger.open(":memory:")
    assert background_fills.write(led.conn, 1, 1, 1, [row]) is False  # settlement then inserts the rows
    assert led.conn.execute("SELECT count(*) FROM bg_fills").fetchone() == (0,)


def _realistic(rows):
    return [(*r[:13], *(v >> 24 for v in r[13:])) for r in rows]  # amounts below 2**38 cents


@settings(max_examples=100, deadline=None)
@given(batches().map(_realistic))
def test_realistic_amounts_always_pack(rows):
    run_id, b, c = rows[0][:3]
    assert background_fills.unpack(run_id, b, c, background_fills.pack(rows)) == rows


def _row_wise_pack(rows):
    """The blob as the first version of `background_fills.pack` built it, row by row: the specification the
    column-wise coding must meet byte for byte (files already hold blobs of this coding). Compressed with the
    ledger's codec (market/compression.py: zlib-ng; files written with Python's zlib hold the same coding)."""
    from array import array

    from market.compression import zlib

    strings: dict[str, int] = {}
    idx = strings.setdefault

    def split(ident):
        head = ident.rstrip("0123456789")
        tail = ident[len(head):]
        if not tail or len(tail) > 18 or (tail[0] == "0" and tail != "0"):
            return idx(ident, len(strings)), -1
        return idx(head, len(strings)), int(tail)

    out: list[int] = []
    i0 = tick0 = 0
    last_num: dict[int, int] = {}
    last_price: dict[int, int] = {}
    for (_, _, _, seq, tick, fid, sym, p, q, b, s, bo, so, bf, sf, cov, cl, rb, rs, cb, cs) in rows:
        i = seq & (fillkeys.PER_CYCLE - 1)
        fp, fn = split(fid)
        bp, bn = split(bo)
        sp, sn = split(so)
        k = idx(sym, len(strings))
        d_fn = fn - last_num.get(fp, 0)
        last_num[fp] = fn
        d_bn = bn - last_num.get(bp, 0)
        last_num[bp] = bn
        d_sn = sn - last_num.get(sp, 0)
        last_num[sp] = sn
        n = p * q
        out.extend((i - i0, tick - tick0, fp, d_fn, k, p - last_price.get(k, 0), q, idx(b, len(strings)),
                    idx(s, len(strings)), bp, d_bn, sp, d_sn, bf, sf, cov, q - cl, rb, rs, cb - rb - n, cs - rs + n))
        last_price[k] = p
        i0, tick0 = i, tick
    try:
        arr = array("i", out) if out else array("q")
    except OverflowError:
        arr = array("q", out)
    if sys.byteorder == "big":
        arr.byteswap()
    body, w = arr.tobytes(), arr.itemsize
    planes = b"".join([body[c * w + k::21 * w] for k in range(w) for c in range(21)])
    return zlib.compress(json.dumps([w, *strings], separators=(",", ":")).encode() + b"\0" + planes, 6)


@settings(max_examples=300, deadline=None)
@given(st.one_of(batches(), batches().map(_realistic)))
def test_the_blob_is_byte_for_byte_the_row_wise_coding(rows):
    try:
        want = _row_wise_pack(rows)
    except OverflowError:
        with pytest.raises(OverflowError):
            background_fills.pack(rows)
        return
    assert background_fills.pack(rows) == want


def test_the_blob_of_a_floor_like_batch_and_of_none_is_the_row_wise_coding():
    rows = [(1, 2, 7, fillkeys.seq_of(2, 7, i), i // 3, f"T{5000 + 3 * i}", ("AAPL", "FLOR")[i % 2], 10000 + i, 1 + i,
             ("bg:mm", "bg:noise")[i % 2], ("bg:noise", "bg:value")[i % 2], f"bg-m{90 + i // 2}", f"bg-n{40 + i}",
             0, 0, 0, 1 + i, 0, 0, (10000 + i) * (1 + i), -(10000 + i) * (1 + i)) for i in range(0, 40, 2)]
    rows += [(*rows[0][:3], rows[-1][3] + 1, 30, "T0", "X", 5, 5, "bg:mm", "bg:value", "0", "007", *[0] * 8)]
    assert background_fills.pack(rows) == _row_wise_pack(rows)
    assert background_fills.pack([]) == _row_wise_pack([])


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from(["T", "bg-x", "Tr:"]))
def test_fill_ids_split_once_give_the_same_blob_and_lot_chunks(rows, prefix):
    from ledger.settlement import fill_id_numbers

    rows = [(*r[:5], f"{prefix}{r[3] * 7919 % 10**12}", *r[6:]) for r in rows]  # distinct canonical ids
    ids = fill_id_numbers([r[5] for r in rows])
    assert ids is not None and ids[0] == prefix
    try:
        want = background_fills.pack(rows)
    except OverflowError:
        return
    assert background_fills.pack(rows, ids) == want
    sources = [r[5] for r in rows]
    qtys, prices = [r[8] for r in rows], [r[7] for r in rows]
    assert chunk_row(1, 1, "bg:mm", "X", 1, 0, 3, qtys, prices, sources, ids) == chunk_row(
        1, 1, "bg:mm", "X", 1, 0, 3, qtys, prices, sources)


def test_fill_ids_that_are_not_one_prefix_and_short_numbers_are_not_split_once():
    from ledger.settlement import fill_id_numbers

    assert fill_id_numbers(["T1", "U2"]) is None
    assert fill_id_numbers(["T1", "T01"]) is None
    assert fill_id_numbers(["T" + "9" * 19]) is None
    assert fill_id_numbers(["T" + "9" * 18, "T0"]) == ("T", {"T" + "9" * 18: 10**18 - 1, "T0": 0})


# ------------------------------------------------------------------------------------------ floor runs
@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A function giving a fresh database per name, on the backend."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / f"{name}.db")
    url = request.getfixturevalue("pg_url")
    return lambda name: f"{url}&schema={name}" if "?" in url else f"{url}?schema={name}"


def _session(db: str) -> FloorSession:
    s = FloorSession(db, fast_config())
    s.own()
    return s


def _story(db: str, monkeypatch, *, packed: bool) -> dict:
    """Run 24 cycles, roll back to 16 and re-run 4, then fork at 12 and run 5: what the readers give."""
    if packed:
        monkeypatch.delenv(UNPACKED, raising=False)
    else:
        monkeypatch.setenv(UNPACKED, "1")
    s = _session(db)
    try:
        s.start(seed=SEED)
        s.run(24)
        seen = {"plain": _read(s)}
        s.rollback(16)
        s.run(4)
        seen["rerun"] = _read(s)
        s.fork(12, s.floor.config, label="other")
        s.run(5)
        seen["fork"] = _read(s)
        seen["raw"] = _all_fill_rows(s.floor.ledger.conn)
        seen["packed_rows"] = s.floor.ledger.conn.execute("SELECT count(*) FROM bg_fills").fetchone()[0]
        seen["bg_rows"] = s.floor.ledger.conn.execute(
            "SELECT count(*) FROM fills WHERE buyer LIKE 'bg:%' AND seller LIKE 'bg:%'").fetchone()[0]
        seen["violations"] = _violations(s.floor.ledger.conn)
        seen["sqlite"] = isinstance(s.floor.ledger.conn, sqlite3.Connection)
    finally:
        s.close()
    return seen


def _read(s) -> dict:
    led = s.floor.ledger
    bg = "bg:noise"
    return {
        "fills": led.fills(limit=None), "newest": led.fills(limit=7), "cycle": led.fills(cycle=3, limit=None),
        "bg": led.fills(account=bg, limit=40), "symbol": led.fills(symbol="AAPL", limit=25),
        "journal": led.journal(), "journal_c": led.journal(cycle=5),
        "bg_tx": led.transactions(bg, limit=30), "state": led.dump_state(), "cycle_now": s.state()["cycle"],
        "view": _view(led, bg),
    }


def _same(got: dict, want: dict) -> bool:
    """The readers agree on another branch of the same history (the SQL view aside, which leaves the packed
    fills out; the journal's order follows the lineage's branches, so entries are compared as sets)."""
    def norm(seen: dict) -> dict:
        out = {k: v for k, v in seen.items() if k != "view"}
        for k in ("journal", "journal_c", "bg_tx"):
            out[k] = sorted(out[k], key=repr)
        return out
    return norm(got) == norm(want)


def _view(led, account: str) -> tuple[list, list]:
    """The journal and an account's statement as the SQL view gives them (the readers before packing)."""
    src, params = journal_sql(lineage(led.conn, led.branch_id))
    cols = "transfer_id, cycle, debit_account, credit_account, asset, amount, kind"
    whole = [JournalEntry(*r) for r in led.conn.execute(f"SELECT {cols} FROM {src}", params)]
    mine = led.conn.execute(f"SELECT {cols} FROM {src} WHERE (debit_account=? OR credit_account=?) "
                            "ORDER BY cycle DESC LIMIT 30", [*params, account, account]).fetchall()
    return whole, [JournalEntry(*r) for r in reversed(mine)]


def _violations(conn) -> list:
    """The ledger invariants (SQLite files; on PostgreSQL the journal and state compared above stand in)."""
    return check_ledger(conn) if isinstance(conn, sqlite3.Connection) else []


def _all_fill_rows(conn) -> dict[int, list[tuple]]:
    """Every branch's own fills (both layouts merged), with their seq."""
    out = {}
    for (b,) in conn.execute("SELECT branch_id FROM branches ORDER BY branch_id").fetchall():
        out[b] = background_fills.rows(conn, b, 0, fillkeys.MAX_CYCLE)
    return out


def test_packed_and_unpacked_runs_read_the_same_rows(target, monkeypatch):
    old = _story(target("unpacked"), monkeypatch, packed=False)
    new = _story(target("packed"), monkeypatch, packed=True)
    assert old["packed_rows"] == 0 and old["bg_rows"] > 0  # the old layout: every fill a row
    assert new["packed_rows"] > 0 and new["bg_rows"] == 0  # bg-vs-bg fills only packed
    for step in ("plain", "rerun", "fork"):
        assert new[step]["fills"], step
        assert any(f["buyer"].startswith("bg:") and f["seller"].startswith("bg:") for f in new[step]["fills"])
        assert any(not f["buyer"].startswith("bg:") or not f["seller"].startswith("bg:")
                   for f in new[step]["fills"])
        for key, value in old[step].items():
            if key != "view":  # the SQL view leaves the packed fills out (docs/ledger-schema.md)
                assert new[step][key] == value, (step, key)
        # what the readers gave before packing: the journal in the same order; the newest entries of a
        # statement, in cycle order (SQL left open the order, and which of the oldest cycle's are cut)
        view_journal, view_statement = old[step]["view"]
        assert sorted(new[step]["journal"], key=repr) == sorted(view_journal, key=repr)
        if old["sqlite"]:  # on PostgreSQL the view's order after a rollback is the server's plan's
            assert new[step]["journal"] == view_journal
        got = new[step]["bg_tx"]
        assert [e.cycle for e in got] == [e.cycle for e in view_statement]
        first = got[0].cycle
        assert sorted((e for e in got if e.cycle > first), key=repr) == \
            sorted((e for e in view_statement if e.cycle > first), key=repr)
    assert new["raw"] == old["raw"]  # every branch's rows, seq included, kept branches too
    assert new["violations"] == [] and old["violations"] == []
    # the re-run of the rolled-back cycles reproduced them
    upto20 = [f for f in new["plain"]["fills"] if f["cycle"] <= 20]
    assert new["rerun"]["fills"] == upto20


def test_a_database_of_the_old_layout_is_read_and_resumed(target, monkeypatch):
    """A file whose fills are all rows (today's databases) goes on packing, and reads as one straight run."""
    monkeypatch.setenv(UNPACKED, "1")
    straight = _session(target("straight"))
    try:
        straight.start(seed=SEED)
        straight.run(20)
        want = _read(straight)
    finally:
        straight.close()

    db = target("mixed")
    s = _session(db)
    try:
        s.start(seed=SEED)
        s.run(10)
    finally:
        s.close()
    monkeypatch.delenv(UNPACKED)
    s = _session(db)
    try:
        s.run(10)
        conn = s.floor.ledger.conn
        packed_cycles = [c for (c,) in conn.execute("SELECT DISTINCT cycle FROM bg_fills ORDER BY cycle")]
        assert packed_cycles and min(packed_cycles) == 11
        assert _same(_read(s), want)
        assert _violations(conn) == []
        s.rollback(8)  # back into the old layout's cycles, then again
        s.run(12)
        assert _same(_read(s), want)
        assert _violations(conn) == []
    finally:
        s.close()


# ------------------------------------------------------------------------------------------ lot chunks
@settings(max_examples=200, deadline=None)
@given(st.lists(ids, min_size=1, max_size=30), st.data())
def test_a_lot_chunk_reads_back_its_sources_in_either_form(sources, data):
    qtys = data.draw(st.lists(st.integers(1, 10**8), min_size=len(sources), max_size=len(sources)))
    prices = data.draw(st.lists(st.integers(0, 10**7), min_size=len(sources), max_size=len(sources)))
    row = chunk_row(1, 1, "bg:mm", "X", 1, 0, 3, qtys, prices, sources)
    assert decode_items(row[-1]) == (qtys, prices, sources)
    assert row[6] == sum(qtys)
    old_form = json.dumps([qtys, prices, sources])  # files made before: three arrays
    assert decode_items(old_form) == (qtys, prices, sources)


def test_fill_id_sources_are_stored_compactly():
    sources = [f"T{n}" for n in range(356025, 356025 + 60, 3)]
    row = chunk_row(1, 1, "bg:mm", "X", 1, 0, 3, [1] * len(sources), [100] * len(sources), sources)
    assert json.loads(row[-1])[2:] == ["T", [356025] + [3] * (len(sources) - 1)]


@pytest.mark.parametrize(("sources", "compact"), [
    (["T0", "T5"], ["T", [0, 5]]),  # "0" is a canonical number
    (["T5", "T05"], None),  # a leading zero is kept as written
    (["T5", "T"], None),  # no number
    (["T" + "9" * 18, "T1"], ["T", [10**18 - 1, 1 - (10**18 - 1)]]),
    (["T" + "9" * 19], None),  # too long for the number column
    (["T5", "X6"], None),  # two prefixes
])
def test_sources_are_compact_only_when_all_are_one_prefix_and_canonical_numbers(sources, compact):
    row = chunk_row(1, 1, "bg:mm", "X", 1, 0, 3, [1] * len(sources), [100] * len(sources), sources)
    assert json.loads(row[-1])[2:] == ([sources] if compact is None else compact)
    assert decode_items(row[-1])[2] == sources


def test_a_reader_opens_a_file_without_the_packed_tables_read_only(tmp_path, monkeypatch):
    """A file an older version wrote has no bg_fills / traces_packed / messages_packed: a read-only open (status,
    export, report) stands in empty TEMP tables for them on its own connection and leaves the file as it was."""
    import sqlite3

    from cli_processes import tf
    from floor_helpers import fast_config

    from floor.session import FloorSession

    monkeypatch.setenv("TRADING_FLOOR_UNPACKED_FILLS", "1")  # the old layout: every row in fills/traces/messages
    monkeypatch.setenv("TRADING_FLOOR_UNPACKED_HISTORY", "1")
    path = tmp_path / "old.db"
    s = FloorSession(str(path), fast_config())
    s.start(seed=3)
    s.run(4)
    s.close()
    assert tf("export", "--db", str(path), "--out", str(tmp_path / "before")).returncode == 0
    conn = sqlite3.connect(path)
    for table in ("bg_fills", "traces_packed", "messages_packed"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        conn.execute(f"DROP TABLE {table}")
    conn.commit()
    conn.close()
    for command in (("status",), ("history",), ("export", "--out", str(tmp_path / "after"))):
        out = tf(*command, "--db", str(path))
        assert out.returncode == 0, (command, out.stdout)
    for csv in sorted((tmp_path / "before").iterdir()):
        assert (tmp_path / "after" / csv.name).read_bytes() == csv.read_bytes(), csv.name
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"bg_fills", "traces_packed", "messages_packed"}  # the file was only read
