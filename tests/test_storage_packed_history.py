"""Traces and chat messages packed one row per (branch, cycle) read exactly as the old one-row-each layout.

The same writes go to a ledger in each layout (`packed_history=True/False`); every read (whole history,
by cycle, agent, kind, sender, newest-N) gives the same rows, through a rollback and a fork, on SQLite and
PostgreSQL. A whole floor run, rolled back and re-run, and forked, reads the same in both layouts; a file
written in the old layout reads the same and resumes in the packed one.
"""
from __future__ import annotations

import pytest
from floor_helpers import fast_config

from floor.session import FloorSession
from ledger import packed_history
from ledger.store import Ledger

AGENTS = ("alice", "bob", "market")


def _traces(cycle: int) -> list[tuple]:
    return [(a, "decide" if a != "market" else "market_tick", "decision" if i % 2 else "risk_check",
             {"cycle": cycle, "i": i, "note": f"{a} at {cycle}", "x": cycle / 7, "nested": {"b": [1, i], "a": None}})
            for i, a in enumerate(AGENTS * (1 + cycle % 3))]


def _messages(cycle: int) -> list[dict]:
    return [dict(sender=a, text=f"cycle {cycle}: {a} says ünïcode “hi”", recipients=[b for b in AGENTS if b != a][:i],
                 sentiment=None if i == 2 else (i - 1) * 0.37 + cycle / 1000, topic=None if i else f"T{cycle}",
                 round=i) for i, a in enumerate(AGENTS)]


def _write(led: Ledger, cycles) -> None:
    for c in cycles:
        with led.transaction():
            led.record_traces(c, _traces(c))
            led.record_messages(c, _messages(c))
            if c % 4 == 0:  # single-row writes after the batch append to the cycle's rows
                led.record_trace(c, "bob", "settle", "fill", {"late": c})
                led.record_message(c, "alice", "late word", sentiment=1, round=9)
            led.record_snapshot(c, {})


def _reads(led: Ledger) -> dict:
    return {
        "traces": led.traces(limit=None), "messages": led.messages(limit=None),
        "traces_200": led.traces(), "messages_5": led.messages(limit=5),
        "cycle_4": led.traces(cycle=4, limit=None), "cycle_4_msgs": led.messages(cycle=4, limit=None),
        "bob_decisions": led.traces(agent="bob", kind="decision", limit=7),
        "market_node": led.traces(node="market_tick", limit=None), "fill": led.traces(kind="fill", limit=3),
        "alice_said": led.messages(sender="alice", limit=None), "none": led.traces(agent="nobody", limit=None),
        "last_cycle": led.last_cycle(),
    }


def _ledger(backend, packed: bool) -> Ledger:
    led = backend.open(symbols=[], packed_history=packed)
    led.start_run(config={}, seed=1, name="packing")
    return led


def _legacy_rows(led: Ledger, table: str) -> list[tuple]:
    cols = ("run_id, branch_id, cycle, agent, node, kind, payload" if table == "traces" else
            "run_id, branch_id, cycle, round, sender, recipients, text, sentiment, topic")
    return [tuple(r) for r in led.conn.execute(f"SELECT {cols} FROM {table} ORDER BY branch_id, cycle, seq")]


def test_packed_and_unpacked_read_alike_through_rollback_and_fork(ledger_backend):
    old, new = _ledger(ledger_backend, False), _ledger(ledger_backend, True)
    try:
        for led in (old, new):
            _write(led, range(1, 13))
        assert _reads(new) == _reads(old)
        # what is stored: one pack per cycle, nothing in the old tables, the same rows once unpacked
        assert new.conn.execute("SELECT count(*) FROM traces").fetchone()[0] == 0
        assert new.conn.execute("SELECT count(*), sum(n) FROM traces_packed").fetchone() == (
            12, old.conn.execute("SELECT count(*) FROM traces").fetchone()[0])
        for table in ("traces", "messages"):
            assert list(packed_history.unpacked_rows(new.conn, table)) == _legacy_rows(old, table)
            assert list(packed_history.unpacked_rows(old.conn, table)) == []

        for led in (old, new):  # a rollback, a different future, then a fork of the first line
            led.truncate_after(6)
            assert led.last_cycle() == 6
        assert _reads(new) == _reads(old)
        for led in (old, new):
            _write(led, range(7, 10))
        assert _reads(new) == _reads(old)
        forks = [led.fork(8) for led in (old, new)]
        assert forks[0] == forks[1]
        for led in (old, new):
            _write(led, range(9, 15))
        assert _reads(new) == _reads(old)
        assert len(new.traces(limit=None)) == sum(len(_traces(c)) + (c % 4 == 0) for c in range(1, 15))
    finally:
        old.close()
        new.close()


def test_a_file_in_the_old_layout_reads_and_goes_on_packed(ledger_backend):
    target = ledger_backend.target()
    with ledger_backend.open(target, symbols=[], packed_history=False) as led:
        led.start_run(config={}, seed=1, name="old")
        _write(led, range(1, 6))
    ref = _ledger(ledger_backend, False)
    try:
        _write(ref, range(1, 9))
        with ledger_backend.open(target, symbols=[], packed_history=True) as led:
            assert led.last_cycle() == 5
            _write(led, range(6, 9))
            # cycle 4 again in the new layout: its old rows first, then the new ones, as their order of writing
            led.record_trace(4, "alice", "late", "note", {"after": "reopen"})
            assert led.conn.execute("SELECT count(*) FROM traces_packed").fetchone()[0] == 4
            ref.record_trace(4, "alice", "late", "note", {"after": "reopen"})
            assert _reads(led) == _reads(ref)
    finally:
        ref.close()


def _floor_reads(s: FloorSession) -> dict:
    led = s.floor.ledger
    return {"traces": led.traces(limit=None), "messages": led.messages(limit=None),
            "decisions": led.traces(kind="decision", limit=20), "cycle_9": led.messages(cycle=9, limit=None)}


def _floor_line(path, monkeypatch, packed: bool) -> list[dict]:
    """A run of 14 cycles, rolled back to 8 and re-run to 12, then forked at 10 and run 3 cycles: the
    reads of each line."""
    monkeypatch.setenv("TRADING_FLOOR_UNPACKED_HISTORY", "" if packed else "1")
    s = FloorSession(path, fast_config(warmup_cycles=2))
    try:
        s.start(seed=3)
        s.run(14)
        out = [_floor_reads(s)]
        s.rollback(8)
        s.run(4)
        out.append(_floor_reads(s))
        s.fork(10)
        s.run(3)
        out.append(_floor_reads(s))
        layout = s.floor.ledger.conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        assert (layout == 0) is packed
        return out
    finally:
        s.close()


def test_a_floor_run_rolled_back_and_forked_reads_the_same_in_both_layouts(tmp_path, monkeypatch):
    packed = _floor_line(tmp_path / "packed.db", monkeypatch, True)
    assert packed == _floor_line(tmp_path / "old.db", monkeypatch, False)
    assert packed[0]["traces"] and packed[0]["messages"] and packed[2]["decisions"]


def test_a_floor_file_of_the_old_layout_resumes_packed(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADING_FLOOR_UNPACKED_HISTORY", "1")
    whole = FloorSession(tmp_path / "whole.db", fast_config(warmup_cycles=2))
    try:
        whole.start(seed=4)
        whole.run(10)
        expected = _floor_reads(whole)
    finally:
        whole.close()
    s = FloorSession(tmp_path / "f.db", fast_config(warmup_cycles=2))
    try:
        s.start(seed=4)
        s.run(6)
    finally:
        s.close()
    monkeypatch.delenv("TRADING_FLOOR_UNPACKED_HISTORY")
    s = FloorSession(tmp_path / "f.db", fast_config(warmup_cycles=2))
    try:
        s.run(4)
        assert s.state()["cycle"] == 10
        assert _floor_reads(s) == expected
        conn = s.floor.ledger.conn
        assert conn.execute("SELECT count(DISTINCT cycle) FROM traces").fetchone()[0] == 6
        assert conn.execute("SELECT min(cycle), max(cycle) FROM traces_packed").fetchone() == (7, 10)
    finally:
        s.close()


@pytest.mark.parametrize("packed", [True, False])
def test_the_switch_follows_the_environment(monkeypatch, packed):
    monkeypatch.setenv("TRADING_FLOOR_UNPACKED_HISTORY", "" if packed else "1")
    with Ledger.open(":memory:") as led:
        assert led.packed_history is packed
