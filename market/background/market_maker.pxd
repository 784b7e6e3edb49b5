# C types for the compiled twin of market_maker.py (market/compiled_twin.py): Cython reads this file next to
# the module's source (setup.py copies it with the source). The plain Python module ignores it.
# Only floats (C doubles: the same IEEE operations as Python floats), indices and counters are typed;
# integers that come from the settings, the instruments or the book stay Python ints.
import cython

@cython.locals(out=list, new=list, e=cython.double, x=cython.double)
cdef list _ar1(list rows, double phi, double k, object z)

@cython.locals(m=Py_ssize_t, j=Py_ssize_t, n=Py_ssize_t, f=cython.double, e=cython.double, skew=cython.double,
               due_now=bint, events=list, est=list, plan=list)
cdef list _scan(object mm, object exchange, list errors, list stock_fair, object tick, object interval, bint track,
                object halts)

@cython.locals(skew_k=cython.double, half_bps=cython.double, spacing_bps=cython.double, skew=cython.double,
               centre=cython.double, events=list)
cdef object _look(object mm, object exchange, Py_ssize_t m, Py_ssize_t j, double est, object tick)

@cython.locals(kept=list, cancels=Py_ssize_t, room=Py_ssize_t)
cdef list _trim(object mm, object exchange, object owner, object side, object target, bint is_bid, bint refresh,
                object size, object events)

@cython.locals(next_id=cython.longlong, added=list, has_top=bint)
cdef object _fill(object mm, object exchange, object owner, object sym, object lot, object side, object kept,
                  object target, object room, object size, object events)

@cython.locals(edge=cython.double, events=list)
cdef list _pick_off(object mm, object exchange, object owner, Py_ssize_t j, double centre, object inv, object limit,
                    object bids, object asks)

cdef object _ioc(object mm, object exchange, object owner, object sym, object side, object qty, object price)
