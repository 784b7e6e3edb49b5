"""Builds the optional compiled parts with Cython: the matching engine (market/_book_core.pyx) and the
compiled twins of the background market's modules (market/compiled_twin.py says what they are).

Everything else about the package is in pyproject.toml. Both are optional: without Cython or a C compiler,
or if a compile fails, the install still succeeds and the pure-Python code runs (`market/book_engine.py`
falls back to market/book.py; a module without its twin stays plain Python).
`python -c "import market.book_engine as b; print(b.ENGINE)"` and
`python -c "import market.compiled_twin as t; print(t.status())"` say which code is active. An editable
install (`pip install -e .`, what `make install` runs) builds them in place, next to their sources.
"""
import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
# the modules of market/compiled_twin.py TWINS (setup.py does not import the package it builds): the background
# market's, then the ledger's settlement path
TWINS = ("market.background.market_maker", "market.background.noise_trader", "market.background.value_trader",
         "market.background.population", "market.fundamentals")
LEDGER_TWINS = ("ledger.settlement", "ledger.background_fills", "ledger.lots", "ledger.records", "ledger.fillids",
                "ledger.packed_history", "ledger.id_numbers", "ledger.state")


def _twin_hash(source: bytes, declarations: bytes | None) -> str:
    """market/compiled_twin.py's `source_hash`: of the source, and of its .pxd (the C types) when it has one."""
    h = hashlib.sha256(source)
    if declarations is not None:
        h.update(b"\0pxd\0" + declarations)
    return h.hexdigest()


def _twin_extension(module: str) -> Extension:
    """`module`'s source, copied under build/twins with the hash line market/compiled_twin.py checks, as the
    extension `<module>_compiled`; its .pxd, if it has one (C types for the compiled copy only), is copied
    next to it as `<module>_compiled.pxd`, where Cython reads it, and is part of the hash."""
    base = module.replace(".", "/")
    source = (HERE / (base + ".py")).read_bytes()
    pxd = HERE / (base + ".pxd")
    declarations = pxd.read_bytes() if pxd.is_file() else None
    copy = HERE / "build" / "twins" / (base + "_compiled.py")
    copy.parent.mkdir(parents=True, exist_ok=True)
    line = f'\nTWIN_SOURCE_SHA256 = "{_twin_hash(source, declarations)}"\n'.encode()
    copy_pxd = copy.with_suffix(".pxd")
    if declarations is None:
        copy_pxd.unlink(missing_ok=True)
    elif not copy_pxd.exists() or copy_pxd.read_bytes() != declarations:  # unchanged: no rebuild
        copy_pxd.write_bytes(declarations)
    if not copy.exists() or copy.read_bytes() != source + line:
        copy.write_bytes(source + line)
    # no contraction of a * b + c into one fused multiply-add: the twin's float arithmetic is Python's, to the bit
    args = [] if sys.platform == "win32" else ["-ffp-contract=off"]
    return Extension(module + "_compiled", [str(copy.relative_to(HERE))], optional=True, extra_compile_args=args)


def _cythonize_twins(cythonize, modules: tuple[str, ...], what: str, **directives) -> list:
    """The twins of `modules`, Python source compiled as Python (annotations are not C types, functions stay
    introspectable), with `directives` on top; none, with a warning, when Cython fails (plain Python runs)."""
    try:
        return cythonize(
            [_twin_extension(m) for m in modules],
            compiler_directives={"language_level": "3", "binding": True, "annotation_typing": False, **directives},
            include_path=[str(HERE / "build" / "twins")],  # where each twin's .pxd is found, by its module's name
            quiet=True,
        )
    except Exception as exc:
        print(f"warning: {what} were not compiled ({exc}); they run as plain Python")
        return []


try:
    from Cython.Build import cythonize
except ImportError:  # no Cython in the build environment: pure-Python engine and modules
    ext_modules = []
else:
    try:
        ext_modules = cythonize(
            [Extension("market._book_core", ["market/_book_core.pyx"], optional=True)],
            compiler_directives={"language_level": "3"},
            quiet=True,
        )
    except Exception as exc:  # a Cython error must not break the install: the pure engine still works
        print(f"warning: market/_book_core.pyx was not compiled ({exc}); using the pure-Python book")
        ext_modules = []
    ext_modules += _cythonize_twins(cythonize, TWINS, "the background market's modules")
    # The ledger's modules have no .pxd: every name stays a Python object. No type inference either: Cython 3
    # infers a local assigned a bytearray as one and then refuses what Python accepts (a memoryview assigned
    # to a slice of it: ledger/background_fills.py `unpack`).
    ext_modules += _cythonize_twins(cythonize, LEDGER_TWINS, "the ledger's modules", infer_types=False)
    for ext in ext_modules:
        ext.optional = True  # a C compile error only warns (cythonize does not carry `optional` over)

setup(ext_modules=ext_modules)
