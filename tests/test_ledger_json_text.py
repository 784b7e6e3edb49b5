"""ledger/json_text.py: `encode_with(encoder)` gives exactly `encoder.encode`'s text, for every encoder the ledger
uses (sorted keys and `default=str`, ASCII-only or not)."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.json_text import encode_with

ENCODERS = [
    json.JSONEncoder(separators=(",", ":")),  # lot chunks, bg_fills headers
    json.JSONEncoder(separators=(",", ":"), ensure_ascii=False),  # packed traces and messages
    json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")),  # payloads, recipients
    json.JSONEncoder(),
]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(st.text(max_size=5), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_text_is_what_the_encoder_gives(value):
    for encoder in ENCODERS:
        assert encode_with(encoder)(value) == encoder.encode(value)


def test_default_and_special_floats_are_encoded_as_by_the_encoder():
    encoder = ENCODERS[2]
    value = {"b": Decimal("1.5"), "a": [date(2026, 1, 2), float("nan"), float("inf"), -0.0], "é": "\u2603\n"}
    assert encode_with(encoder)(value) == encoder.encode(value)
    assert encode_with(ENCODERS[1])("\u2603") == ENCODERS[1].encode("\u2603")
