"""JSON text for the hot path: `encode_with(encoder)` gives `encoder.encode` without its per-call setup.

`json.JSONEncoder.encode` builds a new C encoder object (and, with `check_circular`, a markers dict) on every
call before it encodes anything: for the settle node's few dozen small payloads a cycle (lot chunks, traces,
messages, orders) that setup was about half of the encoding time (measured). The function returned here builds
that C encoder once, with the same settings, and gives exactly the text `encoder.encode` gives for any value it
can encode (strings, numbers, None, bools, lists, tuples and dicts of them, and whatever `default` turns
other values into). What it leaves out is the circular-reference check: a container that contains itself
raises RecursionError instead of ValueError. None of the ledger's values can: they are built fresh from rows
and payload dicts.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

try:
    from json.encoder import c_make_encoder
except ImportError:  # pragma: no cover - CPython always has the C accelerator
    c_make_encoder = None
from json.encoder import encode_basestring, encode_basestring_ascii


def encode_with(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode`, with the C encoder built once (the plain method when it cannot be)."""
    if c_make_encoder is None or encoder.indent is not None:
        return encoder.encode
    strings = encode_basestring_ascii if encoder.ensure_ascii else encode_basestring
    if strings is None:  # pragma: no cover
        return encoder.encode
    one_shot = c_make_encoder(None, encoder.default, strings, None, encoder.key_separator, encoder.item_separator,
                              encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        return join(one_shot(value, 0))

    return encode
