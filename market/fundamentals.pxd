# C types for the compiled twin of fundamentals.py (market/compiled_twin.py; setup.py copies this file next to
# the twin's source, and its hash is part of the twin's). The plain Python module ignores it. The floats
# are C doubles: the same IEEE operations, in the same order, as on Python floats.
import cython

@cython.locals(c0=cython.double, s=cython.double, v=cython.double, m=cython.double, root=cython.double,
               scaled=cython.double, mult=list)
cdef list _garch(list shocks, list base_vol, list var_mult, double a, double b, list vol)

@cython.locals(d=cython.double, v=cython.double, s=cython.double, out=list)
cdef list _log_returns(list drift, list vol, list shocks)
