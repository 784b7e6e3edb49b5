"""How the floor's checkpoints are serialized: LangGraph's JsonPlusSerializer, compressed with zlib.

A cycle's checkpoint is about 5 KB of msgpack (quotes, the traders' decisions with their signals, orders,
the cycle's summary), written once per cycle: 5.5 MB per 1,000 cycles, a fifth of a run's database.
zlib at its fastest level (1) makes it about 2.1 KB for a fraction of a millisecond. The stored type says
so the way LangGraph's own EncryptedSerializer does, with a suffix: "msgpack+zlib". Values under
`MIN_BYTES` stay as they are (compressing them gains nothing), and checkpoints written before this
existed ("msgpack") still load: the suffix alone decides.

floor/checkpoint_reader.py reads the same format without LangGraph (`unwrap`).
"""
from __future__ import annotations

import zlib
from typing import Any

SUFFIX = "+zlib"
LEVEL = 1
MIN_BYTES = 256


def unwrap(type_: str | None, blob: bytes | None) -> tuple[str | None, bytes | None]:
    """The inner serializer's (type, bytes) of a stored value: decompressed when its type carries SUFFIX."""
    if type_ and type_.endswith(SUFFIX) and blob is not None:
        return type_[: -len(SUFFIX)], zlib.decompress(blob)
    return type_, blob


class CompressedSerializer:
    """LangGraph's serializer protocol (`dumps_typed`/`loads_typed`) over an inner serializer."""

    def __init__(self, inner: Any = None) -> None:
        if inner is None:
            from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

            inner = JsonPlusSerializer()
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, blob = self.inner.dumps_typed(obj)
        if len(blob) < MIN_BYTES:
            return type_, blob
        return type_ + SUFFIX, zlib.compress(blob, LEVEL)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(unwrap(*data))
