# C types for the compiled twin of value_trader.py (market/compiled_twin.py; setup.py copies this file next to
# the twin's source, and its hash is part of the twin's). The plain Python module ignores it. Floats are C
# doubles (the same IEEE operations); indices and the order counter are C integers; quantities, prices
# and the settings' integers stay Python ints.
import cython

@cython.locals(k=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t, b=cython.double, view=cython.double, ref=cython.double,
               gap=cython.double, excess=cython.double)
cdef long long _decide(object value, object exchange, object fair, Py_ssize_t n, list who, list sym_idx, list noise,
                       list lots, list innov, double threshold, double slope, double edge, double phi,
                       object max_position_lots, long long next_id, list events) except? -1
