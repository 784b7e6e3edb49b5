# C types for the compiled twin of noise_trader.py (market/compiled_twin.py; setup.py copies this file next to
# the twin's source, and its hash is part of the twin's). The plain Python module ignores it. Floats are C
# doubles (the same IEEE operations); indices and the order counter are C integers; quantities, prices
# and the settings' integers stay Python ints.
import cython

@cython.locals(n_sym=Py_ssize_t, last_sym=Py_ssize_t, count=Py_ssize_t, last_trader=Py_ssize_t, i=Py_ssize_t,
               k=Py_ssize_t, who=cython.double, us=cython.double, uside=cython.double, ukind=cython.double,
               uoff=cython.double, usize=cython.double, buy=bint, p_market=cython.double, p_aggr=cython.double,
               aggr=cython.double, passive=cython.double, max_off=cython.double, log_q=cython.double,
               base=cython.double, off=cython.double, raw=cython.double, symbols=list, owners=list)
cdef long long _arrivals(object noise, object exchange, object fair, list u, Py_ssize_t n, long long next_id,
                         list events) except? -1
