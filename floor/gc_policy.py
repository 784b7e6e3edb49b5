"""The cyclic garbage collector's settings while a floor cycle runs.

A rule cycle allocates some hundred thousand short-lived containers (graph state, rows, pydantic models)
and almost no reference cycles: they are freed by reference counting. With CPython's default thresholds
(700, 10, 10) the collector still wakes every 700 net allocations, and every hundred of those walks every
object the process holds, the tens of thousands that importing LangGraph, pydantic and the floor made among
them. Measured with callgrind (`python -m bench cycle_instructions`'s method, cycles 6-65 of the default rule
floor), those walks cost about 1 M of the cycle's ~40 M instructions.

`cycle_gc()` raises the thresholds to (20,000, 50, 50) for the length of one cycle: the same collector, waking
about a thirtieth as often; it puts back what was there when the cycle ends. Between cycles (a command
line's reporting, a test's set-up, a notebook) the process collects as it always did, so cyclic garbage
that holds a resource, such as an unclosed ledger's database connections, is not kept any longer than
before. (An earlier version set the thresholds once for the whole process, with `gc.freeze()`: a test
suite that left ledgers unclosed then ran out of PostgreSQL connections.)

A process that set its own thresholds (anything but the interpreter's defaults) is left as it is, and
TRADING_FLOOR_GC=default keeps the interpreter's defaults during cycles too.
"""
from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

INTERPRETER_DEFAULT = (700, 10, 10)
FOR_CYCLES = (20_000, 50, 50)


@contextmanager
def cycle_gc() -> Iterator[bool]:
    """Within the block, the thresholds above (yields True), unless the process chose its own or
    TRADING_FLOOR_GC=default (yields False, and changes nothing)."""
    if (os.environ.get("TRADING_FLOOR_GC", "").lower() == "default" or not gc.isenabled()
            or gc.get_threshold() != INTERPRETER_DEFAULT):
        yield False
        return
    gc.set_threshold(*FOR_CYCLES)
    try:
        yield True
    finally:
        gc.set_threshold(*INTERPRETER_DEFAULT)
