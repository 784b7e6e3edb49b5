"""A cycle's first write of its snapshot, marks, traces pack and messages pack looks for nothing already there
(the mirror knows the newest cycle of each: `records.rows_may_exist`); every later write of the same cycle, a
reopened ledger, a rollback and another connection's writes must still replace or append exactly as before."""
from __future__ import annotations

from ledger.store import Ledger

MARKS = {"AAA": 100}


def _ledger(ledger_backend, target=None) -> Ledger:
    led = ledger_backend.open(target, symbols=["AAA"])
    if led._st is None:
        led.start_run(config={}, seed=1)
        led.open_account("x", theory="t", cash=10_000, holdings={"AAA": 5}, cost={"AAA": 100})
    return led


def _kinds(led, cycle):
    return [t["kind"] for t in led.traces(cycle=cycle, limit=None)]


def test_same_cycle_again_appends_and_replaces(ledger_backend):
    led = _ledger(ledger_backend)
    led.record_traces(1, [("x", "n", "a", {"i": 1})])
    led.record_traces(1, [("x", "n", "b", {"i": 2})])
    led.record_trace(1, "x", "n", "c", {"i": 3})
    assert _kinds(led, 1) == ["a", "b", "c"]
    led.record_messages(1, [{"sender": "x", "text": "one"}])
    led.record_message(1, "x", "two")
    assert [m["text"] for m in led.messages(cycle=1, limit=None)] == ["one", "two"]
    led.record_snapshot(1, MARKS)
    led.record_snapshot(1, {"AAA": 200})  # replaces
    assert led.marks_at(1) == {"AAA": 200}
    assert led.value_history("x") == [(1, 10_000 + 5 * 200)]
    led.record_snapshot(2, MARKS)
    assert led.value_history("x") == [(1, 11_000), (2, 10_500)]
    led.close()


def test_reopened_and_rolled_back(ledger_backend):
    target = ledger_backend.target()
    led = _ledger(ledger_backend, target)
    for c in (1, 2, 3):
        led.record_traces(c, [("x", "n", f"k{c}", {})])
        led.record_snapshot(c, MARKS)
    led.close()
    led = _ledger(ledger_backend, target)  # a new mirror: the packs and snapshots of cycle 3 are found
    led.record_traces(3, [("x", "n", "again", {})])
    led.record_snapshot(3, {"AAA": 300})
    assert _kinds(led, 3) == ["k3", "again"]
    assert led.marks_at(3) == {"AAA": 300}
    led.truncate_after(1)
    led.record_traces(2, [("x", "n", "new2", {})])
    led.record_snapshot(2, {"AAA": 250})
    assert _kinds(led, 2) == ["new2"]
    assert led.marks_at(2) == {"AAA": 250}
    assert [c for c, _ in led.value_history("x")] == [1, 2]
    led.close()


def test_another_connections_rows_of_the_cycle(ledger_backend):
    target = ledger_backend.target()
    a = _ledger(ledger_backend, target)
    a.record_traces(1, [("x", "n", "a1", {})])
    a.record_snapshot(1, MARKS)
    b = _ledger(ledger_backend, target)
    b.use(a.run_id, a.branch_id, remember=False)
    b.record_traces(2, [("x", "n", "b2", {})])
    b.record_snapshot(2, MARKS)
    a.record_traces(2, [("x", "n", "a2", {})])  # a's mirror is reloaded first (another ledger commit)
    a.record_snapshot(2, {"AAA": 400})
    assert _kinds(a, 2) == ["b2", "a2"]
    assert a.marks_at(2) == {"AAA": 400}
    a.close()
    b.close()
