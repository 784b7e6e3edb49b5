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
