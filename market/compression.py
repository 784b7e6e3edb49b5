"""The deflate codec of the ledger's packed blobs (background fills, traces, messages), the market's cycle
journals and snapshots, and the floor's checkpoints: zlib-ng's when the `zlib-ng` package is installed (a
dependency), else Python's zlib. (Here, beside compiled_twin.py, because market/ imports nothing of the others.)

Both write and read the same zlib format, so any zlib reader reads what either wrote, and the data that comes
out is the same. The compressed bytes are not: zlib-ng finds other matches, in about half the time (a default
floor's ~23 KB of blobs a cycle: 0.26 ms with zlib, 0.15 ms with zlib-ng; about 1.5% of a rule cycle's CPU),
and it sets up its tables in a tenth of the time (a cycle's journal of ~200 bytes: 43 us -> 4.5 us).
Its level 1 is a quicker algorithm than zlib's that writes ~10% more, so the fast level (checkpoints,
journals, snapshots) is 2 there: about the size zlib's level 1 writes, still faster.
"""
from __future__ import annotations

# FAST_LEVEL: about zlib's level 1 in bytes (module docstring)
try:
    from zlib_ng import zlib_ng as zlib

    FAST_LEVEL = 2
except ImportError:  # pragma: no cover - zlib-ng is a dependency; a bare checkout still runs
    import zlib

    FAST_LEVEL = 1

__all__ = ["FAST_LEVEL", "zlib"]
