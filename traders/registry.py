"""The theories by name: `@register` makes a Theory class known, `get_theory(name)` returns its shared
instance. The built-in theories' modules are imported on first use (`BUILTIN_MODULES`).

This module imports nothing of the project: the trader's config (traders/trader_config.py) validates a
theory name and its parameters here, and the Theory base class (traders/base.py) builds on that config,
so the three stand in a line, without an import cycle.
"""
from __future__ import annotations

import importlib
import threading
from typing import Any

BUILTIN_MODULES = (
    "traders.momentum",
    "traders.mean_reversion",
    "traders.risk_parity",
    "traders.arbitrage",
    "traders.trend_following",
    "traders.sentiment",
)

_REGISTRY: dict[str, type] = {}
_INSTANCES: dict[str, Any] = {}
_loaded = False
_load_lock = threading.Lock()  # decisions may run in parallel threads (LangGraph Send)



def register(cls: type) -> type:
    """Class decorator: make a theory available under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"theory {cls.name!r} is already registered by {existing.__name__}")
    _REGISTRY[cls.name] = cls
    _INSTANCES.pop(cls.name, None)
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            for mod in BUILTIN_MODULES:
                importlib.import_module(mod)
            _loaded = True


def theory_names() -> tuple[str, ...]:
    _load_builtins()
    return tuple(sorted(_REGISTRY))


def get_theory(name: str) -> Any:
    inst = _INSTANCES.get(name)  # the shared instance once made (made only for a registered, loaded theory)
    if inst is not None:
        return inst
    _load_builtins()
    if name not in _REGISTRY:
        raise KeyError(f"unknown theory {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    inst = _INSTANCES.get(name)
    if inst is None:
        inst = _INSTANCES[name] = _REGISTRY[name]()
    return inst


def describe(theory: str) -> str:
    """The theory's description in plain words (used in the LLM system prompt)."""
    return get_theory(theory).description
