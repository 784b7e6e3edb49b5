"""LangSmith hooks for the traders, free when tracing is off.

`traced(...)` marks a function as a LangSmith `@traceable` run, but only while tracing is on
(`LANGSMITH_TRACING=true`, or the older `LANGCHAIN_TRACING_V2=true`, read the way the LangSmith SDK reads
them, once per process). When it is off, the decorated function is called directly: one cached check, no
import of langsmith, nothing built and nothing sent. The floor runs about a thousand rule cycles in seconds, so the
hot path must not pay for a tracer nobody asked for.

When on, the run nests under whatever LangSmith or LangChain run is current: a trader's rule decision
under its "decision <trader>" run, which sits under the cycle graph's `decide` node (graphs/tracing.py).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_FLAGS = (("LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2"), ("LANGSMITH_TRACING", "LANGCHAIN_TRACING"))


@functools.cache
def tracing_on() -> bool:
    """Whether LangSmith tracing is switched on in the environment (the SDK's own precedence: the
    `*_TRACING_V2` variables first, then `*_TRACING`; only the value "true" switches it on).

    Read once per process, as the SDK reads its environment (`tracing_on.cache_clear()` reads it again)."""
    for names in _FLAGS:
        for name in names:
            value = os.environ.get(name)
            if value is not None and value.strip():
                return value == "true"
    return False


def traced(name: str, *, run_type: str = "chain", inputs: Callable[..., dict] | None = None,
           outputs: Callable[[Any], dict] | None = None, metadata: Callable[..., dict] | None = None) -> Callable[[F], F]:
    """`@traceable` while tracing is on, a plain call otherwise.

    `inputs(**arguments by name)` and `outputs(result)` shape what is sent (keep it small and readable);
    `metadata(*args, **kwargs)` adds run metadata (e.g. the trader and its theory).
    """
    def deco(fn: F) -> F:
        made: list[Callable] = []

        def build() -> Callable:
            from langsmith import traceable

            # the SDK binds the call to the signature: `inputs` gets the arguments by name
            return traceable(name=name, run_type=run_type, process_inputs=(lambda bound: inputs(**bound)) if inputs
                             else None, process_outputs=outputs)(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not tracing_on():
                return fn(*args, **kwargs)
            if not made:
                made.append(build())
            extra = {"metadata": metadata(*args, **kwargs)} if metadata is not None else {}
            return made[0](*args, **kwargs, langsmith_extra=extra)

        return wrapper  # type: ignore[return-value]
    return deco
