"""Checkpoints are stored compressed ("msgpack+zlib"), and what was stored before still loads."""
from __future__ import annotations

import sqlite3

from floor_helpers import fast_config
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from floor.checkpoint_reader import CheckpointReader, decode
from floor.checkpoint_serde import MIN_BYTES, SUFFIX, CompressedSerializer
from floor.session import FloorSession

STATE = {"cycle": 7, "quotes": {s: {"bid": 10_000 + i, "ask": 10_002 + i} for i, s in enumerate("ABCDEFGH")},
         "decisions": [{"trader": f"t{i}", "rationale": "holding: nothing stretched " * 8} for i in range(6)]}


def test_large_values_are_compressed_small_ones_are_not_and_both_round_trip():
    serde = CompressedSerializer()
    kind, blob = serde.dumps_typed(STATE)
    plain_kind, plain = JsonPlusSerializer().dumps_typed(STATE)
    assert kind == plain_kind + SUFFIX and len(blob) < len(plain) / 2
    assert serde.loads_typed((kind, blob)) == STATE
    assert decode(kind, blob) == STATE  # the light reader (no LangGraph) reads them too
    small = {"cycle": 1}
    assert serde.dumps_typed(small) == JsonPlusSerializer().dumps_typed(small)
    assert len(JsonPlusSerializer().dumps_typed(small)[1]) < MIN_BYTES


def test_checkpoints_written_before_compression_still_load():
    assert CompressedSerializer().loads_typed(JsonPlusSerializer().dumps_typed(STATE)) == STATE


def test_a_run_stores_compressed_checkpoints_that_langgraph_and_the_reader_read_alike(tmp_path):
    s = FloorSession(tmp_path / "f.db", fast_config())
    s.start()
    try:
        s.run(3)
        kinds = {k for (k,) in sqlite3.connect(tmp_path / "f.db").execute("SELECT DISTINCT type FROM checkpoints")}
        assert kinds == {"msgpack" + SUFFIX}
        ours = CheckpointReader(s.conn).get_state(s.thread.config_dict)
        theirs = s.graph.get_state(s.thread.config_dict)
        assert ours.values == theirs.values and ours.values["cycle"] == 3
    finally:
        s.close()
