"""Compiled twins of pure-Python modules: the same source, compiled by Cython.

The background agents (market makers, noise and value traders, their population, the fundamentals) and the
ledger's settlement path (the settle loop, the packed fills, lots, records and state flush that a cycle's
settlement runs) are plain Python whose time is mostly the interpreter's own work per line. The ledger's
twins cut a rule cycle by 1.8% of its instructions (33.90 M -> 33.29 M a cycle, cycles 6-65, callgrind);
they have no .pxd and are compiled without type inference, so every name in them stays a Python object.
setup.py compiles each module
listed in `TWINS`, unchanged, as an extension module named `<module>_compiled` (Cython compiling Python
source keeps Python semantics: the same integers, floats, random draws and iteration orders), with one
line added: the SHA-256 of the source it was built from. At the end of each listed module,
`use_twin(globals())` replaces the module's contents with its twin's when

- the twin is built (an extension module; without Cython or a C compiler there is none),
- it was built from exactly this source (a `.py` edited since the last `make install` keeps running as
  plain Python, never as stale compiled code), and
- `TRADING_FLOOR_PURE_TWINS=1` is not set (for comparing the two, as `TRADING_FLOOR_PURE_BOOK` does
  for the order book).

Classes and functions taken from the twin are renamed into the public module (`__module__`), so a pickled
snapshot names `market.background.market_maker.MarketMakers` either way and loads under either. A name set
on the public module afterwards (a test replacing a function or a constant) is set in the twin too, whose
functions look their globals up there (`_TwinnedModule`).
`status()` says, per module, which one runs.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import os
import sys
import types
from typing import Any

TWINS = (
    "market.background.market_maker",
    "market.background.noise_trader",
    "market.background.value_trader",
    "market.background.population",
    "market.fundamentals",
    "ledger.settlement",
    "ledger.background_fills",
    "ledger.lots",
    "ledger.records",
    "ledger.fillids",
    "ledger.packed_history",
    "ledger.id_numbers",
    "ledger.state",
)
SUFFIX = "_compiled"
SOURCE_HASH = "TWIN_SOURCE_SHA256"  # the name of the line setup.py adds to a twin's source
PURE_REQUESTED = os.environ.get("TRADING_FLOOR_PURE_TWINS", "").strip().lower() in ("1", "true", "yes")

_status: dict[str, str] = {}


def source_hash(source: bytes, declarations: bytes | None = None) -> str:
    """The hash a twin carries: of its module's source and, when the module has one, of its .pxd (the C types
    its compiled copy was built with; setup.py computes the same)."""
    h = hashlib.sha256(source)
    if declarations is not None:
        h.update(b"\0pxd\0" + declarations)
    return h.hexdigest()


def use_twin(namespace: dict[str, Any]) -> None:
    """Called at the end of a module in `TWINS` with its globals(): take the twin's contents if it may."""
    name = namespace["__name__"]
    if name.endswith(SUFFIX) or name not in TWINS:
        return  # the twin itself runs this line too, or a module not meant to have one
    twin = _load(name, namespace.get("__file__"))
    if twin is None:
        return
    for key, value in vars(twin).items():
        if key.startswith("__") or key == SOURCE_HASH:
            continue
        if getattr(value, "__module__", None) == twin.__name__:  # a class or function the twin defines
            value.__module__ = name
        namespace[key] = value
    module = sys.modules.get(name)
    if module is not None and module.__dict__ is namespace:  # the module being imported (always, by `import`)
        namespace[_TWIN_KEY] = twin
        module.__class__ = _TwinnedModule


_TWIN_KEY = "__compiled_twin__"


class _TwinnedModule(types.ModuleType):
    """A module that took its twin's contents: setting (or deleting) one of its names does the same in the
    twin, whose functions read their globals there. Code that replaces a module's function or constant (a
    test's `monkeypatch.setattr(lots, "LOT_WINDOW", 2)`, `settlement.apply = wrapper`) so acts as on the
    plain module."""

    def __setattr__(self, key: str, value: Any) -> None:
        super().__setattr__(key, value)
        twin = self.__dict__.get(_TWIN_KEY)
        if twin is not None and not key.startswith("__"):
            setattr(twin, key, value)

    def __delattr__(self, key: str) -> None:
        super().__delattr__(key)
        twin = self.__dict__.get(_TWIN_KEY)
        if twin is not None and not key.startswith("__") and hasattr(twin, key):
            delattr(twin, key)


def _load(name: str, path: str | None) -> Any | None:
    if PURE_REQUESTED:
        _status[name] = "python (TRADING_FLOOR_PURE_TWINS)"
        return None
    try:
        twin = importlib.import_module(name + SUFFIX)
    except ImportError:
        _status[name] = "python (no compiled twin built)"
        return None
    if not str(getattr(twin, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        _status[name] = "python (the twin is not an extension module)"
        return None
    try:
        with open(path, "rb") as f:  # type: ignore[arg-type]
            source = f.read()
        pxd = os.path.splitext(path)[0] + ".pxd"  # type: ignore[type-var]
        declarations = None
        if os.path.isfile(pxd):
            with open(pxd, "rb") as f:
                declarations = f.read()
        current = source_hash(source, declarations)
    except (OSError, TypeError):
        current = None
    if current is None or getattr(twin, SOURCE_HASH, None) != current:
        _status[name] = "python (the twin was built from another version of the source: run `make install`)"
        return None
    _status[name] = "compiled"
    return twin


def status() -> dict[str, str]:
    """Which code runs for each module in `TWINS`: "compiled", or "python (why)"."""
    for name in TWINS:
        importlib.import_module(name)
    return {name: _status.get(name, "python") for name in TWINS}
