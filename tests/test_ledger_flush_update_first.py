"""`BranchState.flush` on SQLite UPDATEs the dirty state rows and upserts only a batch that holds a new row: the
stored rows must be byte for byte those the upsert-only flush writes, through random scripts (new positions
and accounts mid-run, truncation, replay)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from ledger_backends import Backend
from test_ledger_versioning import SETTINGS, new_ledger, own_rows, run_cycle, script

from ledger import state


def _run(monkeypatch, update_first: bool, cycles, k) -> list:
    monkeypatch.setattr(state, "UPDATE_FIRST", update_first)
    led = new_ledger(Backend("sqlite"))
    seen = []
    for c, acts in enumerate(cycles, 1):
        run_cycle(led, c, acts)
        seen.append(own_rows(led))
    led.truncate_after(k)
    seen.append(own_rows(led))
    for c in range(k + 1, len(cycles) + 1):
        run_cycle(led, c, cycles[c - 1], tag="r")
        seen.append(own_rows(led))
    led.close()
    return seen


@SETTINGS
@given(script, st.data())
def test_update_first_writes_the_upserts_rows(monkeypatch, cycles, data):
    k = data.draw(st.integers(0, len(cycles)))
    assert _run(monkeypatch, True, cycles, k) == _run(monkeypatch, False, cycles, k)


def _rows_after_rollback_and_replay(monkeypatch, update_first: bool) -> list:
    from ledger.types import Fill

    monkeypatch.setattr(state, "UPDATE_FIRST", update_first)
    led = new_ledger(Backend("sqlite"))
    led.settle(1, [Fill("f1", 1, 0, "AAA", 100, 2, "a", "b")])
    # cycle 2: c's first BBB position and balance rows, and new accounts' rows, born after cycle 1
    led.open_account("late", cash=500, holdings={"BBB": 1}, cycle=2)
    led.settle(2, [Fill("f2", 2, 0, "BBB", 90, 1, "c", "late")])
    led.truncate_after(1)  # removes them; the mirror still notes them as stored: the UPDATE finds fewer rows
    led.open_account("late", cash=500, holdings={"BBB": 1}, cycle=2)
    led.settle(2, [Fill("f2", 2, 0, "BBB", 90, 1, "c", "late")])
    led.settle(3, [Fill("f3", 3, 0, "BBB", 91, 1, "c", "a")])
    rows = own_rows(led)
    rowids = [led.conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall() for t in ("balances", "positions")]
    led.close()
    return [rows, rowids]


def test_rows_removed_by_rollback_are_written_again(monkeypatch):
    assert _rows_after_rollback_and_replay(monkeypatch, True) == _rows_after_rollback_and_replay(monkeypatch, False)
