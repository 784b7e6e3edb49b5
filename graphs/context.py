"""How nodes reach the Floor runtime: the LangGraph runtime context, or the process default.

The command line and the Chainlit app pass `FloorContext(floor=...)` as the run's context. Under
`langgraph dev` nobody can pass Python objects in, so the exported graph falls back to one Floor per
process, opened from the environment (see graphs/dev_graph.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langgraph.runtime import Runtime

from floor.runtime import Floor


@dataclass
class FloorContext:
    floor: Floor | None = None  # None under `langgraph dev`, which builds the context from the request


_default_factory: Callable[[], Floor] | None = None
_default_floor: Floor | None = None


def set_default_floor_factory(factory: Callable[[], Floor]) -> None:
    global _default_factory, _default_floor
    _default_factory, _default_floor = factory, None


def passed_floor(runtime: Runtime | None) -> Floor | None:
    """The Floor the run's context names, or None: no runtime (`update_state` runs edges without one) or a
    context without a floor (`langgraph dev`, whose floor is the process default)."""
    ctx = getattr(runtime, "context", None)
    return ctx.floor if isinstance(ctx, FloorContext) else None


def floor_of(runtime: Runtime | None) -> Floor:
    global _default_floor
    floor = passed_floor(runtime)
    if floor is not None:
        return floor
    if _default_floor is None:
        if _default_factory is None:
            raise RuntimeError("no Floor: pass context=FloorContext(floor) or set a default floor factory")
        _default_floor = _default_factory()
    return _default_floor
