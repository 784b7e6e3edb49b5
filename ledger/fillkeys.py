"""The `fills.seq` key: one integer that encodes (branch, cycle, position in the cycle).

    seq = branch_id * 2**44 + cycle * 2**20 + i        (0 <= i < 2**20, 0 <= cycle < 2**24, branch < 2**19)

`seq` is the fills table's INTEGER PRIMARY KEY (the rowid), so a fill row lives in ONE B-tree ordered by
(branch, cycle, i), and every "fills of branch b with cycle in [lo, hi]" question is a rowid range:
truncation, undo and lineage reads stay O(rows touched) with no (branch_id, cycle) index to maintain.
Appending a cycle's fills is an append at the end of the branch's key range, which SQLite does without
a search. The limits (524,287 branches, 16.7 M cycles, 1,048,576 fills per cycle) are checked on write.
"""
from __future__ import annotations

BRANCH_SHIFT = 44
CYCLE_SHIFT = 20
MAX_BRANCH = (1 << (63 - BRANCH_SHIFT)) - 1
MAX_CYCLE = (1 << (BRANCH_SHIFT - CYCLE_SHIFT)) - 1  # 16,777,215: the last cycle a run can reach
PER_CYCLE = 1 << CYCLE_SHIFT
_IDX = PER_CYCLE - 1


def seq_of(branch_id: int, cycle: int, i: int) -> int:
    return (branch_id << BRANCH_SHIFT) | (cycle << CYCLE_SHIFT) | i


def decode(seq: int) -> tuple[int, int, int]:
    """(branch_id, cycle, i) of a seq."""
    return seq >> BRANCH_SHIFT, (seq >> CYCLE_SHIFT) & MAX_CYCLE, seq & _IDX


def cycles(branch_id: int, lo: int, hi: int) -> tuple[int, int]:
    """Inclusive seq range of the branch's fills with lo <= cycle <= hi (empty range if lo > hi)."""
    lo, hi = max(lo, 0), min(hi, MAX_CYCLE)
    if lo > hi:
        return 1, 0
    return seq_of(branch_id, lo, 0), seq_of(branch_id, hi, _IDX)


def branch(branch_id: int) -> tuple[int, int]:
    """Inclusive seq range of all of the branch's fills."""
    return cycles(branch_id, 0, MAX_CYCLE)


def after(branch_id: int, k: int) -> tuple[int, int]:
    """Inclusive seq range of the branch's fills with cycle > k."""
    return cycles(branch_id, k + 1, MAX_CYCLE)


def upto(branch_id: int, k: int) -> tuple[int, int]:
    """Inclusive seq range of the branch's fills with cycle <= k."""
    return cycles(branch_id, 0, k)
