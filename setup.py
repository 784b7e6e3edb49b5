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
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
# the modules of market/compiled_twin.py TWINS (setup.py does not import the package it builds)
TWINS = ("market.background.market_maker", "market.background.noise_trader", "market.background.value_trader",
         "market.background.population", "market.fundamentals")


def _twin_extension(module: str) -> Extension:
    """`module`'s source, copied under build/twins with the hash line market/compiled_twin.py checks, as the
    extension `<module>_compiled`."""
    source = (HERE / (module.replace(".", "/") + ".py")).read_bytes()
    copy = HERE / "build" / "twins" / (module.replace(".", "/") + "_compiled.py")
    copy.parent.mkdir(parents=True, exist_ok=True)
    line = f'\nTWIN_SOURCE_SHA256 = "{hashlib.sha256(source).hexdigest()}"\n'.encode()
    if not copy.exists() or copy.read_bytes() != source + line:  # unchanged: no rebuild
        copy.write_bytes(source + line)
    return Extension(module + "_compiled", [str(copy.relative_to(HERE))], optional=True)


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
    try:
        # Python source compiled as Python: annotations are not C types, functions stay introspectable
        ext_modules += cythonize(
            [_twin_extension(m) for m in TWINS],
            compiler_directives={"language_level": "3", "binding": True, "annotation_typing": False},
            quiet=True,
        )
    except Exception as exc:
        print(f"warning: the background market's modules were not compiled ({exc}); they run as plain Python")
    for ext in ext_modules:
        ext.optional = True  # a C compile error only warns (cythonize does not carry `optional` over)

setup(ext_modules=ext_modules)
