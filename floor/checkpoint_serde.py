"""How the floor's checkpoints are serialized: LangGraph's JsonPlusSerializer, compressed with zlib.

A cycle's checkpoint is about 5 KB of msgpack (quotes, the traders' decisions with their signals, orders,
the cycle's summary), written once per cycle: 5.5 MB per 1,000 cycles, a fifth of a run's database.
zlib at its fastest level (1) makes it about 2.1 KB for a fraction of a millisecond. The stored type says
so the way LangGraph's own EncryptedSerializer does, with a suffix: "msgpack+zlib". Values under
`MIN_BYTES` stay as they are (compressing them gains nothing), and checkpoints written before this
existed ("msgpack") still load: the suffix alone decides.

Since issue 21 the compressor starts from a preset dictionary (`checkpoint_zdict.bin`: one checkpoint of
the default rule floor, so the keys, trader names and phrases every checkpoint repeats cost almost
nothing): about 1.2 KB instead of 2.1 KB a cycle, and SQLite then fits three checkpoints in a 4 KB page
instead of one. Such values are typed "msgpack+zdict1"; the dictionary file must never change (a new one
would take a new suffix). "+zlib" values, written before, still load. The compressor is zlib-ng's at its
level 2 (market/compression.py: the same format and about the same bytes as zlib's level 1, sooner).

floor/checkpoint_reader.py reads the same format without LangGraph (`unwrap`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from market.compression import FAST_LEVEL, zlib

SUFFIX = "+zdict1"  # what is written: zlib with the preset dictionary below
PLAIN_SUFFIX = "+zlib"  # written before issue 21: zlib without a dictionary
LEVEL = FAST_LEVEL
MIN_BYTES = 256
ZDICT = (Path(__file__).with_name("checkpoint_zdict.bin")).read_bytes()


def unwrap(type_: str | None, blob: bytes | None) -> tuple[str | None, bytes | None]:
    """The inner serializer's (type, bytes) of a stored value: decompressed when its type carries a suffix."""
    if type_ and blob is not None:
        if type_.endswith(SUFFIX):
            d = zlib.decompressobj(zdict=ZDICT)
            return type_[: -len(SUFFIX)], d.decompress(blob) + d.flush()
        if type_.endswith(PLAIN_SUFFIX):
            return type_[: -len(PLAIN_SUFFIX)], zlib.decompress(blob)
    return type_, blob


# A compressor primed with the dictionary once, copied for each value: setting the dictionary (hashing its
# 4.9 KB) and clearing a new compressor's tables is a third of compressing a checkpoint. Its window (8 KB,
# wbits 13) holds the dictionary and a whole checkpoint of the default floor (~6 KB), and a memLevel of 6
# makes tables a quarter the size of the default ones: about 0.1 M of 0.5 M instructions per checkpoint
# (callgrind), for 0.4% more bytes. A zlib stream names its window, and any decompressor reads a smaller
# one: `unwrap` reads these and the earlier values alike.
_PRIMED = zlib.compressobj(LEVEL, zlib.DEFLATED, 13, 6, zlib.Z_DEFAULT_STRATEGY, zdict=ZDICT)


def compress(blob: bytes) -> bytes:
    c = _PRIMED.copy()
    return c.compress(blob) + c.flush()


class CompressedSerializer:
    """LangGraph's serializer protocol (`dumps_typed`/`loads_typed`) over an inner serializer."""

    def __init__(self, inner: Any = None) -> None:
        if inner is None:
            from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

            inner = JsonPlusSerializer()
        self.inner = inner

    _last: tuple[Any, tuple[str, bytes]] | None = None

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, blob = self.inner.dumps_typed(obj)
        self._last = (obj, (type_, blob))
        if len(blob) < MIN_BYTES:
            return type_, blob
        return type_ + SUFFIX, compress(blob)

    def last_payload(self, obj: Any) -> tuple[str, bytes] | None:
        """The inner serializer's (type, bytes) of `obj` when `obj` is what this serializer wrote last, once
        (floor/latest_checkpoint_saver.py keeps the checkpoint it wrote without compressing it again)."""
        last, self._last = self._last, None
        return last[1] if last is not None and last[0] is obj else None

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(unwrap(*data))
