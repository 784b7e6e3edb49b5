"""The base of the market's settings models: frozen, no unknown fields, and pickled the same bytes in
every process.

pydantic pickles the names of the fields a model was given as a set, whose order follows the string
hashes of the process (PYTHONHASHSEED). The settings travel inside every exchange snapshot, so without
this two runs of one seed would store different snapshot bytes for the same state. Here the names are
pickled sorted and made a set again on loading; a snapshot pickled before (with the set) loads as well.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

_FIELDS_SET = "__pydantic_fields_set__"


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state[_FIELDS_SET] = sorted(state[_FIELDS_SET])
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        if not isinstance(state.get(_FIELDS_SET), set):
            state = {**state, _FIELDS_SET: set(state.get(_FIELDS_SET) or ())}
        super().__setstate__(state)
