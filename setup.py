"""Builds the optional compiled matching engine (market/_book_core.pyx) with Cython.

Everything else about the package is in pyproject.toml. The extension is optional: without Cython or
a C compiler, or if the compile fails, the install still succeeds and `market/book_engine.py` falls back
to the pure-Python book (market/book.py); `python -c "import market.book_engine as b; print(b.ENGINE)"`
says which one is active. An editable install (`pip install -e .`, what `make install` runs) builds it
in place, next to the .pyx.
"""
from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # no Cython in the build environment: pure-Python engine
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
    for ext in ext_modules:
        ext.optional = True  # a C compile error only warns (cythonize does not carry `optional` over)

setup(ext_modules=ext_modules)
