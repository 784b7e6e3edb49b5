"""The cyclic garbage collector's settings for a process that runs floor cycles.

A rule cycle allocates some hundred thousand short-lived containers (graph state, rows, pydantic models)
and almost no reference cycles: they are freed by reference counting. With CPython's default thresholds
(700, 10, 10) the collector still wakes every 700 net allocations and, every hundred of those, walks every
object the process holds, the tens of thousands that importing LangGraph, pydantic and the floor made among
them. Measured with callgrind (`python -m bench cycle_instructions`'s method, cycles 6-65 of the default rule
floor), those walks cost about 0.7 M of the cycle's ~41 M instructions, nearly all that `gc.disable()` saves.

`tune_for_cycles()` does two things, once per process, before its first cycle:
- `gc.freeze()` after a collection moves everything alive then (modules, classes, the floor's config) to a
  generation the collector never walks again. They stay collectable by reference counting as before.
- the youngest generation's threshold goes from 700 to 20,000 allocations, the older ones from 10 to 50:
  the same collector, waking about a thirtieth as often. A cycle's garbage that only the collector can free
  waits a little longer: over 4,000 cycles the peak RSS was 122.0 MiB with these settings and 121.9 MiB
  with the interpreter's defaults, both growing about 0.6 MiB per 1,000 cycles from cycle 3,000 on
  (`bench memory` watches that slope over 10,000). (20,000, 50, 50) saved a further 0.13 M instructions a
  cycle against (5,000, 20, 20).

A process that set its own thresholds (anything but the interpreter's defaults) is left as it is, and
TRADING_FLOOR_GC=default keeps the interpreter's defaults.
"""
from __future__ import annotations

import gc
import os

INTERPRETER_DEFAULT = (700, 10, 10)
FOR_CYCLES = (20_000, 50, 50)

_tuned = False


def tune_for_cycles() -> bool:
    """Apply the settings above once per process; True when this call applied them."""
    global _tuned
    if _tuned or os.environ.get("TRADING_FLOOR_GC", "").lower() == "default":
        return False
    _tuned = True
    if gc.get_threshold() != INTERPRETER_DEFAULT or not gc.isenabled():
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(*FOR_CYCLES)
    return True
