"""A cycle's exchange journal: what reached the exchange from outside its background market, in order.

The background market is seeded and lives inside the exchange (its random state is part of a snapshot),
so the books at the end of cycle c follow exactly from the books at the end of cycle c-1 plus what the
floor did in between: the ticks it advanced, its submits, cancels and modifies, and the end of the cycle.
A `CycleJournal` performs those calls on an exchange and records them; `replay` performs them again.

This lets a run keep a whole exchange snapshot only every few cycles (a keyframe) and a journal of a few
hundred bytes for every cycle: the books at any cycle are the newest keyframe at or before it with the
journals of the cycles after it replayed. Each journal ends with the exchange's event sequence number
after the cycle, so a replay that diverged (a nondeterminism bug) is detected instead of trusted.
"""
from __future__ import annotations

import pickle
from collections.abc import Iterable

from market.compression import FAST_LEVEL, zlib
from market.exchange import Exchange
from market.orders import CancelOrder, ModifyOrder, SubmitOrder

ADVANCE, SUBMIT, CANCEL, MODIFY, END_CYCLE = "advance", "submit", "cancel", "modify", "end_cycle"
_MAGIC = b"TFJ1"


class ReplayError(RuntimeError):
    """A journal could not be replayed, or its replay did not end where the original cycle ended."""


class CycleJournal:
    """Performs one cycle's outside calls on an exchange, and records them for `replay`."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[tuple] = []

    def advance(self, ex: Exchange, ticks: int) -> list:
        self.ops.append((ADVANCE, ticks))
        return ex.advance(ticks)

    def submit(self, ex: Exchange, cmd: SubmitOrder) -> list:
        self.ops.append((SUBMIT, tuple(cmd)))
        return ex.submit(cmd)

    def cancel(self, ex: Exchange, cmd: CancelOrder) -> list:
        self.ops.append((CANCEL, tuple(cmd)))
        return ex.cancel(cmd)

    def modify(self, ex: Exchange, cmd: ModifyOrder) -> list:
        self.ops.append((MODIFY, tuple(cmd)))
        return ex.modify(cmd)

    def end_cycle(self, ex: Exchange) -> list:
        events = ex.end_cycle()
        self.ops.append((END_CYCLE, ex.clock.seq))
        return events

    def encode(self) -> bytes:
        # a few hundred bytes: zlib-ng sets up its tables in a tenth of the time zlib took (43 us -> 4.5 us)
        return _MAGIC + zlib.compress(pickle.dumps(self.ops, protocol=pickle.HIGHEST_PROTOCOL), FAST_LEVEL)


def decode(blob: bytes) -> list[tuple]:
    if not isinstance(blob, bytes | bytearray) or not blob.startswith(_MAGIC):
        raise ReplayError("not a cycle journal")
    return pickle.loads(zlib.decompress(blob[len(_MAGIC):]))


_COMMANDS = {SUBMIT: SubmitOrder, CANCEL: CancelOrder, MODIFY: ModifyOrder}


def replay(ex: Exchange, ops: Iterable[tuple]) -> None:
    """Perform a journal's calls again on `ex`, which must stand where the journal's cycle started."""
    for op, arg in ops:
        if op == ADVANCE:
            ex.advance(arg)
        elif op == END_CYCLE:
            ex.end_cycle()
            if ex.clock.seq != arg:
                raise ReplayError(f"replay diverged: cycle ended at event {ex.clock.seq}, the journal says {arg}")
        elif op in _COMMANDS:
            getattr(ex, op)(_COMMANDS[op](*arg))
        else:
            raise ReplayError(f"unknown journal operation {op!r}")


def replay_journals(ex: Exchange, journals: Iterable[bytes]) -> Exchange:
    """Move `ex` on by the encoded journals of the cycles after the one it stands at (in order)."""
    for blob in journals:
        replay(ex, decode(blob))
    return ex


def restore_at(keyframe: bytes, journals: Iterable[bytes]) -> Exchange:
    """The exchange of a keyframe snapshot, moved on by the journals of the cycles after it (in order)."""
    return replay_journals(Exchange.restore(keyframe), journals)
