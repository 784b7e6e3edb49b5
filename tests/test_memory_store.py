"""Traders' episodic memory (issue 19): stored per run/branch/cycle, so rollback and fork forget exactly;
retrieval equals brute force; the rule-mode learner converges; bad rows are refused clearly."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.memory_store import (
    MemoryFormatError,
    encode_vector,
    load_memories,
    record_memories,
    record_outcomes,
)
from traders.memory.learner import choose
from traders.memory.retrieval import normalized, top_k
from traders.memory.situation import FEATURES, situation_vector

ARMS = ("1.0%", "2.0%", "3.0%")
K_MARKOUT = 3
TRADERS = ("momentum", "mean_reversion")


@pytest.fixture
def led(ledger_backend):
    led = ledger_backend.open()
    led.start_run(config={}, seed=7, name="mem")
    yield led
    led.close()


def market(cycle: int, salt: int = 0) -> dict[str, float]:
    """A deterministic synthetic situation per cycle (no hidden generator state)."""
    x = cycle * 0.37 + salt
    return {"ret": math.sin(x) / 100, "zscore": math.cos(1.3 * x), "vol": 0.01 + abs(math.sin(0.5 * x)) / 50,
            "sentiment": math.sin(0.2 * x), "position": (cycle % 7) * 10, "cash_share": 0.5 + math.sin(x) / 4}


def markout(arm: str, cycle: int, salt: int) -> float:
    return (1.0 if arm == "2.0%" else -1.0) + 3 * math.sin(cycle * 1.7 + salt)


def step(led, cycle: int, salt: int = 0) -> dict[str, str]:
    """One cycle as the floor would do it: retrieve, choose, record the decision, fill due outcomes."""
    chosen = {}
    with led.transaction():
        mems = load_memories(led.conn, led.branch_id, upto=cycle - 1)
        for t in TRADERS:
            seen = [(m.arm, m.markout_bp) for m in mems if m.trader == t and m.markout_bp is not None]
            c = choose(ARMS, seen, seed=7, trader=t, cycle=cycle, label="threshold")
            chosen[t] = c.arm
        record_memories(led.conn, led.run_id, led.branch_id, cycle, [
            {"trader": t, "symbol": "AAA", "vector": situation_vector(market(cycle, salt)), "arm": chosen[t],
             "decision": {"side": "buy", "qty": 10, "cycle": cycle}} for t in TRADERS])
        due = [m for m in mems if m.cycle == cycle - K_MARKOUT]
        record_outcomes(led.conn, led.run_id, led.branch_id, cycle, [
            {"trader": m.trader, "symbol": m.symbol, "decided_cycle": m.cycle,
             "markout_bp": markout(m.arm, cycle, salt), "realized_pnl": int(markout(m.arm, cycle, salt) * 100)}
            for m in due])
    return chosen


def as_rows(mems) -> list[tuple]:
    return [(m.cycle, m.trader, m.symbol, m.vector.tobytes(), m.arm, m.decision, m.markout_bp, m.realized_pnl)
            for m in mems]


def test_rollback_then_rerun_gives_the_same_memories_and_choices(led):
    original = {c: step(led, c) for c in range(1, 31)}
    before = as_rows(load_memories(led.conn, led.branch_id))
    led.truncate_after(12)
    cut = load_memories(led.conn, led.branch_id)
    assert max(m.cycle for m in cut) == 12
    # an outcome learned after cycle 12 is forgotten with the discarded future
    assert all(m.markout_bp is None for m in cut if m.cycle > 12 - K_MARKOUT)
    assert as_rows(cut) == [r for r in before if r[0] <= 12 and r[0] <= 12 - K_MARKOUT] + [
        r[:6] + (None, None) for r in before if 12 - K_MARKOUT < r[0] <= 12]
    replay = {c: step(led, c) for c in range(13, 31)}
    assert replay == {c: original[c] for c in range(13, 31)}
    assert as_rows(load_memories(led.conn, led.branch_id)) == before


def test_a_fork_learns_independently(led):
    for c in range(1, 21):
        step(led, c)
    parent = led.branch_id
    parent_rows = as_rows(load_memories(led.conn, parent))
    led.fork(10, name="what-if")
    for c in range(11, 21):
        step(led, c, salt=5)  # another market on the fork
    fork_rows = as_rows(load_memories(led.conn, led.branch_id))
    assert as_rows(load_memories(led.conn, parent)) == parent_rows  # the parent is untouched
    # the fork shares the parent's line up to cycle 10 (outcomes known by then), then has its own
    inherited = [r if r[0] <= 10 - K_MARKOUT else r[:6] + (None, None) for r in parent_rows if r[0] <= 10]
    fork_prefix = [r if r[0] <= 10 - K_MARKOUT else r[:6] + (None, None) for r in fork_rows if r[0] <= 10]
    assert fork_prefix == inherited
    assert [r for r in fork_rows if r[0] > 10] != [r for r in parent_rows if r[0] > 10]
    mine = load_memories(led.conn, led.branch_id, "momentum")
    assert [m.cycle for m in mine] == list(range(1, 21)) and {m.trader for m in mine} == {"momentum"}


def test_a_corrupt_vector_or_another_format_is_refused(led):
    step(led, 1)
    led.conn.execute("UPDATE memories SET vec=? WHERE trader='momentum'", (b"\x00\x01\x02",))
    with pytest.raises(MemoryFormatError, match=r"corrupt memory vector \(trader momentum, AAA, cycle 1\): 3 bytes"):
        load_memories(led.conn, led.branch_id)
    led.conn.execute("UPDATE memories SET vec=?, fmt=2 WHERE trader='momentum'",
                     (encode_vector([1.0] * len(FEATURES))[2],))
    with pytest.raises(MemoryFormatError, match="format version 2.*reads version 1"):
        load_memories(led.conn, led.branch_id, "momentum")
    assert len(load_memories(led.conn, led.branch_id, "mean_reversion")) == 1  # the other trader still loads


def test_non_finite_situations_are_not_stored():
    with pytest.raises(MemoryFormatError, match="finite"):
        encode_vector([1.0, float("nan")])


vectors = st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=3, max_size=3)


@settings(max_examples=150, deadline=None)
@given(st.lists(vectors, min_size=1, max_size=60), vectors, st.integers(1, 12))
def test_retrieval_returns_the_true_nearest_neighbours(rows, query, k):
    m = np.array(rows, dtype=np.float32)
    unit = normalized(m)
    idx, sims = top_k(unit, np.array(query, dtype=np.float32), k)
    q = np.array(query, dtype=np.float32)
    qn = np.linalg.norm(q)
    brute = [float(unit[i] @ (q / qn)) if qn > 0 else 0.0 for i in range(len(rows))]
    best = sorted(brute, reverse=True)[:k]
    assert len(set(idx.tolist())) == len(idx) == min(k, len(rows))
    # the returned rows are k best ones (exact up to float32 rounding of near ties), best first
    assert np.allclose([brute[i] for i in idx], best, atol=1e-5)
    assert np.allclose(sims, best, atol=1e-5) and all(np.diff(sims) <= 0)
    clear = [i for i in range(len(rows)) if all(abs(brute[i] - brute[j]) > 1e-4 for j in range(len(rows)) if j != i)]
    for i in clear:  # a row with no near tie is returned exactly when it is among the k best
        assert (i in idx) == (brute[i] >= best[-1] - 1e-6)


def test_retrieval_of_duplicates_prefers_older_memories():
    unit = normalized(np.ones((5, 3)))
    assert list(top_k(unit, np.ones(3), 3)[0]) == [0, 1, 2]


def test_the_learner_converges_to_the_better_arm_and_says_why():
    rng = np.random.default_rng(3)
    outcomes: list[tuple[str, float]] = []
    picks = []
    for cycle in range(1000):
        c = choose(ARMS, outcomes, seed=11, trader="momentum", cycle=cycle, label="threshold", noise_sd=5.0)
        picks.append(c.arm)
        outcomes.append((c.arm, rng.normal(2.0 if c.arm == "2.0%" else 0.0, 5.0)))
    assert picks[-200:].count("2.0%") >= 180 > picks[:100].count("2.0%")
    last = choose(ARMS, outcomes, seed=11, trader="momentum", cycle=1000, label="threshold", noise_sd=5.0)
    assert last.arm == "2.0%" and last.reason.startswith("threshold 2.0%: +") and "bp markout vs" in last.reason
    # seeded: the same inputs give the same choice
    again = choose(ARMS, outcomes, seed=11, trader="momentum", cycle=1000, label="threshold", noise_sd=5.0)
    assert again == last


def test_lessons_follow_the_branch_and_a_corrupt_one_is_refused(led):
    from ledger.memory_store import load_lessons, record_lessons

    for cycle in (1, 2, 3):
        with led.transaction():
            led.record_snapshot(cycle, {})
            record_lessons(led.conn, led.run_id, led.branch_id, cycle, [
                {"trader": "momentum", "text": f"lesson {cycle}", "embedder": "lexical", "vector": [1.0, float(cycle)]}])
    assert [les.text for les in load_lessons(led.conn, led.branch_id, "momentum")] == ["lesson 1", "lesson 2", "lesson 3"]
    led.truncate_after(2)
    assert [les.cycle for les in load_lessons(led.conn, led.branch_id)] == [1, 2]
    led.conn.execute("UPDATE lessons SET dim=5 WHERE cycle=2")
    with pytest.raises(MemoryFormatError, match="lesson of momentum, cycle 2"):
        load_lessons(led.conn, led.branch_id)
